"""Concrete RegNet configs from a sweep's best models: sampled RegNet parameters as they are, AnyNet models
through the fitted quantized linear rule; written as anynet json/yaml, pycls, timm or torchvision arguments."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from analysis.fit import block_widths, fit_rule
from analysis.load import load_sweeps
from analysis.stats import AnalysisError
from anynet.errors import SpecError
from anynet.model import complexity
from anynet.spec import AnyNetSpec

FORMATS = ("json", "yaml", "pycls", "timm", "torchvision")
CONTEXT = ("stem_type", "stem_w", "se_r", "num_classes", "in_channels", "resolution")
STRIDE_NOTE = "pycls, timm and torchvision use stride 2 in every stage; this model was studied with strides {}"


def top_models(sweep_dir: str | Path, top: int) -> pd.DataFrame:
    """The `top` ok models of a sweep, best error first."""
    ok = load_sweeps([sweep_dir]).ok
    if ok.empty:
        raise AnalysisError(f"{sweep_dir}: no model finished ok; nothing to fit or export")
    if not 1 <= top <= len(ok):
        raise AnalysisError(f"--top: {top} is not between 1 and the {len(ok)} models that finished ok")
    return ok.nsmallest(top, "error")


def _most_blocks(values: list, depths: list[int]) -> Any:
    """The value that the most blocks use (a per-stage list collapsed to one RegNet value)."""
    counts: Counter = Counter()
    for v, d in zip(values, depths):
        counts[v] += d
    return counts.most_common(1)[0][0]


def regnet_config(row: pd.Series) -> dict[str, Any]:
    """One exported config: RegNet parameters, where they came from, what the model measured and where."""
    spec = row.spec
    if not spec.get("group_ws"):
        raise AnalysisError(f"model {row.id}: {spec['block_type']} models have no RegNet form (X/Y bottleneck only)")
    if spec.get("regnet"):
        params, source, e_fit = dict(spec["regnet"]), "sampled", None
    else:
        fit = fit_rule(block_widths(spec))
        params = {"depth": sum(spec["depths"]), "w0": fit.w0, "wa": round(fit.wa, 3), "wm": round(fit.wm, 4),
                  "group_w": _most_blocks(spec["group_ws"], spec["depths"]),
                  "bot_mul": _most_blocks(spec["bot_muls"], spec["depths"]), "q": 8}  # fmt: skip
        source, e_fit = "fitted", round(fit.e_fit, 5)
    context = {k: spec[k] for k in CONTEXT}
    try:
        regnet = AnyNetSpec.from_dict({"regnet": params, **context})
        k = regnet.num_stages  # the studied model's strides, stage by stage (2 where the RegNet has more stages)
        regnet = replace(regnet, strides=tuple((list(spec["strides"]) + [2] * k)[:k]))
    except SpecError as e:
        raise AnalysisError(f"model {row.id}: its fitted rule is not a valid RegNet ({e})") from None
    cx = complexity(regnet)
    return {
        "name": f"{row.sweep}-{row.id}", "source": source, "e_fit": e_fit, "regnet": params, **context,
        "strides": list(regnet.strides), "stage_depths": list(regnet.depths), "stage_widths": list(regnet.widths),
        "spec": regnet.to_dict(),
        "measured": {"error": float(row.error), "flops": int(row.flops), "params": int(row.params),
                     "acts": int(row.acts)},
        "regnet_complexity": cx._asdict(), "sweep": row.sweep, "trial": int(row.id),
    }  # fmt: skip


def render(configs: list[dict[str, Any]], fmt: str) -> str:
    """The configs as text in one of FORMATS."""
    if fmt not in FORMATS:
        raise AnalysisError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps({"configs": configs}, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump({"configs": configs}, sort_keys=False)
    docs = [_foreign(c, fmt) for c in configs]
    if fmt == "pycls":
        return "---\n".join(f"# {c['name']}: error {c['measured']['error']:.2f}%{_stride_note(c, '; ')}\n"
                             + yaml.safe_dump(d, sort_keys=False) for c, d in zip(configs, docs))  # fmt: skip
    return json.dumps(docs, indent=2) + "\n"


def _stride_note(c: dict[str, Any], prefix: str = "") -> str:
    return "" if set(c["strides"]) == {2} else prefix + STRIDE_NOTE.format("-".join(map(str, c["strides"])))


def _foreign(c: dict[str, Any], fmt: str) -> dict[str, Any]:
    r = c["regnet"]
    if fmt == "pycls":
        return {
            "MODEL": {"TYPE": "regnet", "NUM_CLASSES": c["num_classes"]},
            "REGNET": {"DEPTH": r["depth"], "W0": r["w0"], "WA": r["wa"], "WM": r["wm"], "GROUP_W": r["group_w"],
                       "BOT_MUL": r["bot_mul"], "SE_ON": c["se_r"] > 0, "SE_R": c["se_r"],
                       "STEM_TYPE": c["stem_type"], "STEM_W": c["stem_w"]},
            "TRAIN": {"IM_SIZE": c["resolution"]},
        }  # fmt: skip
    if fmt == "timm":
        if len(c["stage_widths"]) != 4:
            raise AnalysisError(
                f"--format timm: {c['name']} has {len(c['stage_widths'])} stages; timm's RegNet always builds 4, so "
                "it would be another network (use pycls, torchvision or yaml)"
            )
        return {"depth": r["depth"], "w0": r["w0"], "wa": r["wa"], "wm": r["wm"], "group_size": r["group_w"],
                "bottle_ratio": r["bot_mul"], "se_ratio": c["se_r"], "stem_width": c["stem_w"]}  # fmt: skip
    note = ("torchvision's BlockParams.from_init_params rounds widths differently from pycls; its stage widths may "
            f"differ from {c['stage_widths']}") + _stride_note(c, ". ")  # fmt: skip
    return {"depth": r["depth"], "w_0": r["w0"], "w_a": r["wa"], "w_m": r["wm"], "group_width": r["group_w"],
            "bottleneck_multiplier": r["bot_mul"], "se_ratio": c["se_r"], "note": note}  # fmt: skip


def export(sweep_dir: str | Path, top: int = 1, fmt: str = "yaml") -> tuple[list[dict[str, Any]], str]:
    """The best `top` models of a sweep as RegNet configs, and their text in `fmt`."""
    configs = [regnet_config(row) for _, row in top_models(sweep_dir, top).iterrows()]
    return configs, render(configs, fmt)
