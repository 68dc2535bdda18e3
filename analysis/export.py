"""A sweep's best models as configs that rebuild exactly the network each one is (anynet json/yaml, pycls, timm,
torchvision), or say in one line what a library cannot express; optionally the Python that builds each.

Two networks per model can be exported, both exact:

- the RegNet form (default): a sampled RegNet as it is; an AnyNet model as the quantized linear rule fitted to its
  per-block widths among the valid RegNets with its number of stages, given its strides stage by stage (so the
  stages and the total stride are the studied model's). A model without one (no valid rule with that many stages,
  or R/V blocks) is exported as studied, with a note saying why;
- the studied network itself (as_studied): explicit per-stage lists.

Each library's form of a network and whether it is exact come from anynet.libraries.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from analysis.fit import Q, RuleFit, fit_rules
from analysis.load import load_sweeps
from analysis.stats import AnalysisError
from anynet.errors import SpecError
from anynet.libraries import Check, LibraryForm, check, library_form
from anynet.counting import complexity
from anynet.spec import BOTTLENECK, AnyNetSpec
from sweeps import SweepFolder

FORMATS = ("json", "yaml", "pycls", "timm", "torchvision")
LIBRARY = {"json": "anynet", "yaml": "anynet", "pycls": "pycls", "timm": "timm", "torchvision": "torchvision"}
CONTEXT = ("stem_type", "stem_w", "se_r", "num_classes", "in_channels", "resolution")


def sweep_q(sweep_dir: str | Path) -> int:
    """The RegNet quantum q of a sweep's design space (8 where its folder records none)."""
    space = (SweepFolder(sweep_dir).settings() or {}).get("config", {}).get("space") or {}
    return int(space.get("q", Q))


def top_models(
    sweep_dir: str | Path, top: int, ok: pd.DataFrame | None = None, retrained: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The `top` ok models of a sweep, best first, with a column q: the sweep's RegNet quantum, which the fits of
    its models use (analysis.fit.with_fits, regnet_forms). Best first by the brief error, or with `retrained`
    (analysis.retrain.load_retrain's rows of this sweep) the re-trained models first by their mean error over
    seeds (analysis.retrain.ranked: columns ranked_error, ranked_by, how, seeds, spread). `ok`: the sweep's ok
    models already loaded (analysis.load.Sweeps.ok of this sweep), so its results file is not read again."""
    from analysis.retrain import ranked

    if ok is None:
        ok = load_sweeps([sweep_dir]).ok
    if ok.empty:
        raise AnalysisError(f"{sweep_dir}: no model finished ok; nothing to fit or export")
    if not 1 <= top <= len(ok):
        raise AnalysisError(f"--top: {top} is not between 1 and the {len(ok)} models that finished ok")
    order = ranked(ok, retrained if retrained is not None else pd.DataFrame())
    return order.head(top).assign(q=sweep_q(sweep_dir))


@dataclass(frozen=True)
class RegNetForm:
    """A studied model's RegNet form: the spec (the studied strides, stem, head), where it came from, its e_fit."""

    spec: AnyNetSpec
    source: str  # "sampled" (the model is this RegNet) or "fitted"
    e_fit: float | None  # mean |log(w_hat_j / w_j)| over the blocks, for a fitted rule


def _most_blocks(values: Sequence[Any], depths: Sequence[int]) -> Any:
    """The value that the most blocks use (a per-stage list collapsed to one RegNet value)."""
    counts: Counter = Counter()
    for v, d in zip(values, depths):
        counts[v] += d
    return counts.most_common(1)[0][0]


def regnet_forms(specs: Sequence[AnyNetSpec], q: int = Q) -> list[RegNetForm | str]:
    """Each studied spec's RegNet form, or a string saying why it has none (AnyNet models are fitted together,
    to the rule with quantum q: their space's)."""
    forms: list[RegNetForm | str | None] = [None] * len(specs)
    fitted = []
    for i, spec in enumerate(specs):
        if spec.block_type != BOTTLENECK:
            forms[i] = f"{spec.block_type} models have no RegNet form (X/Y bottleneck blocks only)"
        elif spec.regnet:
            forms[i] = RegNetForm(spec, "sampled", None)
        else:
            fitted.append(i)
    if fitted:
        widths = [specs[i].block_widths for i in fitted]
        fits = fit_rules(widths, [specs[i].num_stages for i in fitted], q)
        for i, fit in zip(fitted, fits):
            forms[i] = _fitted(specs[i], fit, q)
    return forms


def _fitted(spec: AnyNetSpec, fit: RuleFit, q: int = Q) -> RegNetForm | str:
    """The fitted rule as a RegNet spec with the studied stages and strides (wa, wm rounded where that keeps it)."""
    k, d = spec.num_stages, sum(spec.depths)
    if not math.isfinite(fit.e_fit):
        return f"no valid RegNet rule has {k} stages at depth {d}"
    group_w, bot_mul = (_most_blocks(values, spec.depths) for values in (spec.group_ws, spec.bot_muls))
    params = {"depth": d, "w0": fit.w0, "group_w": group_w, "bot_mul": bot_mul, "q": q}
    context = {key: getattr(spec, key) for key in CONTEXT}
    for wa, wm in ((round(fit.wa, 3), round(fit.wm, 4)), (fit.wa, fit.wm)):
        try:
            regnet = AnyNetSpec.from_dict({"regnet": {**params, "wa": wa, "wm": wm}, **context})
        except SpecError:
            continue
        if regnet.num_stages == k:
            regnet = replace(regnet, strides=spec.strides)
            log_ratio = np.log(regnet.block_widths) - np.log(spec.block_widths)
            return RegNetForm(regnet, "fitted", float(np.abs(log_ratio).mean()))
    return f"its fitted rule (w0 {fit.w0}, wa {fit.wa:.3f}, wm {fit.wm:.4f}) is no valid RegNet with {k} stages"


def _config(row: pd.Series, spec: AnyNetSpec, source: str, e_fit: float | None, note: str | None) -> dict[str, Any]:
    """One exported config: the network, where it came from, which libraries build it, what the model measured."""
    libraries = {}
    for library in ("pycls", "timm", "torchvision"):
        libraries[library] = library_form(spec, library, source == "studied").differs or "exact"
    measured = {"error": float(row.error), "flops": int(row.flops), "params": int(row.params), "acts": int(row.acts)}
    for key in ("latency_ms", "throughput_ips", "memory_mb"):  # measured after training (sweeps.measure), if it was
        if pd.notna(row.get(key)):
            measured[key] = float(row[key])
    if pd.notna(row.get("latency_ms")):
        measured["latency_on"] = f"{row.measure_device}, batch 1" + (
            f", {int(row.measure_threads)} thread(s)" if pd.notna(row.get("measure_threads")) else ""
        )
    return {
        "name": f"{row.sweep}-{row.id}",
        "ranked_by": ranking(row),
        "source": source,
        "e_fit": None if e_fit is None else round(e_fit, 5),
        "note": note,
        "regnet": spec.regnet.to_dict() if spec.regnet else None,
        **{key: getattr(spec, key) for key in CONTEXT},
        "strides": list(spec.strides),
        "stage_depths": list(spec.depths),
        "stage_widths": list(spec.widths),
        "libraries": libraries,
        "spec": spec.to_dict(),
        "measured": measured,
        "regnet_complexity": complexity(spec)._asdict(),  # the exported network's (named for the RegNet form)
        "sweep": row.sweep,
        "trial": int(row.id),
    }


def ranking(row: pd.Series) -> dict[str, Any]:
    """The error a model was ranked by among its sweep's: brief, or its re-trained mean over seeds with their
    spread (max - min) and how it was re-trained (e.g. 2x the budget)."""
    if row.get("ranked_by") == "retrained":
        return {
            "by": "retrained",
            "error": round(float(row.ranked_error), 4),
            "how": row.how,
            "seeds": int(row.seeds),
            "spread": round(float(row.spread), 4),
            "brief_error": float(row.error),
        }
    return {"by": "brief", "error": float(row.error), "how": "brief budget"}


def regnet_config(row: pd.Series) -> dict[str, Any]:
    """One model's RegNet form as a config; AnalysisError saying why where it has none."""
    form = regnet_forms([row.spec], _q(row))[0]
    if isinstance(form, str):
        raise AnalysisError(f"model {row.id}: {form}; anynet export --as-studied exports it as studied")
    return _config(row, form.spec, form.source, form.e_fit, None)


def _q(rows: pd.DataFrame | pd.Series) -> int:
    """The RegNet quantum of top_models's rows (its column q; 8 for rows without one)."""
    q = rows.get("q")
    if q is None:
        return Q
    values = {int(v) for v in q.dropna()} if isinstance(q, pd.Series) else {int(q)}
    if len(values) > 1:
        raise AnalysisError(f"models of several RegNet quanta q ({sorted(values)}) fitted together")
    return values.pop() if values else Q


def model_configs(rows: pd.DataFrame, as_studied: bool = False) -> list[dict[str, Any]]:
    """Each model's RegNet form (a model without one as studied, with a note why), or each as studied."""
    forms: list[RegNetForm | str | None] = [None] * len(rows) if as_studied else regnet_forms(list(rows.spec), _q(rows))
    configs = []
    for (_, row), form in zip(rows.iterrows(), forms):
        if isinstance(form, RegNetForm):
            configs.append(_config(row, form.spec, form.source, form.e_fit, None))
        else:
            note = None if form is None else f"no RegNet form: {form}; exported as studied (explicit stages)"
            configs.append(_config(row, row.spec, "studied", None, note))
    return configs


def config_form(config: Mapping[str, Any], fmt: str) -> LibraryForm:
    """The config's network in the library of format `fmt`."""
    spec = AnyNetSpec.from_dict(config["spec"])
    return library_form(spec, LIBRARY[fmt], explicit=config["source"] == "studied")


def _describe(config: Mapping[str, Any]) -> str:
    what = {"sampled": "sampled RegNet", "studied": "as studied", "fitted": f"fitted RegNet, e_fit {config['e_fit']}"}
    ranked = config.get("ranked_by") or {"by": "brief"}
    error = f"error {config['measured']['error']:.2f}%"
    if ranked["by"] == "retrained":
        error += f"; ranked by {ranked['error']:.2f}% re-trained, {ranked['how']}, mean of {ranked['seeds']} seeds"
    return f"{config['name']} ({error}): {what[config['source']]}"


def _refusal(config: Mapping[str, Any], fmt: str, form: LibraryForm) -> str:
    """One line: what the library cannot express, and where the network is exact instead."""
    exact = [lib for lib, said in config["libraries"].items() if said == "exact" and lib != LIBRARY[fmt]]
    where = f"exact in {', '.join(exact)} and anynet json/yaml" if exact else "exact in anynet json/yaml"
    anyway = "" if form.args is None else "; --approximate exports it anyway"
    return f"--format {fmt}: {config['name']}: {form.differs} ({where}{anyway})"


def _snippet(config: Mapping[str, Any], fmt: str, form: LibraryForm) -> str:
    if form.args is None:
        raise AnalysisError(_refusal(config, fmt, form))
    said = f"# built exactly by {form.library}" if form.exact else f"# NOT exact in {form.library}: {form.differs}"
    return f"# {_describe(config)}\n{said}\n{form.python}"


def render(configs: list[dict[str, Any]], fmt: str, python: bool = False) -> str:
    """The configs as text in one of FORMATS (python: the code that builds each, configs separated by `# ---`).
    A config the library does not build exactly carries the line that says what differs."""
    if fmt not in FORMATS:
        raise AnalysisError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    forms = [config_form(c, fmt) for c in configs]
    if python:
        return "\n# ---\n".join(_snippet(c, fmt, f) for c, f in zip(configs, forms))
    if fmt == "json":
        return json.dumps({"configs": configs}, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump({"configs": configs}, sort_keys=False)
    if fmt == "pycls":
        docs = []
        for c, f in zip(configs, forms):
            said = f"# pycls {f.form.upper()} form, exact" if f.exact else f"# NOT exact in pycls: {f.differs}"
            docs.append(f"# {_describe(c)}\n{said}\n" + yaml.safe_dump(f.args, sort_keys=False))
        return "---\n".join(docs)
    items = []
    for c, f in zip(configs, forms):
        items.append({"name": c["name"], "error": c["measured"]["error"], "differs": f.differs, **(f.args or {})})
    return json.dumps(items, indent=2) + "\n"


def export(
    sweep_dir: str | Path,
    top: int = 1,
    fmt: str = "yaml",
    *,
    as_studied: bool = False,
    python: bool = False,
    approximate: bool = False,
) -> tuple[list[dict[str, Any]], str]:
    """The best `top` models of a sweep as configs, and their text in `fmt` (or the Python that builds each). Best
    by the re-trained mean error where the sweep has re-trained models (sweeps.retrain), else by the brief error;
    each config says which (`ranked_by`).

    A model that the format's library cannot build exactly is refused (AnalysisError, one line naming what
    differs), unless approximate, where the library builds something close; its text then says what differs."""
    from analysis.retrain import load_retrain

    if fmt not in FORMATS:
        raise AnalysisError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    sweeps = load_sweeps([sweep_dir])
    retrained = load_retrain([sweep_dir], sweeps.names, sweeps.frame)
    configs = model_configs(top_models(sweep_dir, top, sweeps.ok, retrained), as_studied)
    for config in configs:
        form = config_form(config, fmt)
        if form.differs and (form.args is None or not approximate):
            raise AnalysisError(_refusal(config, fmt, form))
    return configs, render(configs, fmt, python)


def check_exports(configs: list[dict[str, Any]], fmt: str, flops: bool = True) -> list[Check]:
    """Build each config in the library of `fmt` (which must be installed) and compare it with anynet's count."""
    return [check(AnyNetSpec.from_dict(c["spec"]), config_form(c, fmt), flops) for c in configs]
