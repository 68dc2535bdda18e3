"""`compare`: sweep folders in, a report out: report.html (self-contained), summary.md, table.csv, PNG figures."""

from __future__ import annotations

import base64
import html
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import pareto, plots
from analysis.fidelity import analyse, describe, load_fidelity
from analysis.fidelity import label as fidelity_label
from analysis.retrain import describe as describe_retrain
from analysis.retrain import load_retrain, selections
from analysis.fit import with_fits
from analysis.hyper import hyper_figures
from analysis.load import Sweeps
from analysis.plots import BAND_WORDS
from analysis.stats import (
    KS,
    AnalysisError,
    Bootstrap,
    FewBinsWarning,
    Normalization,
    bootstrap_best,
    ks_test,
    normalize,
    search_efficiency,
)
from analysis.verdict import LEVELS, Verdict, verdict

METRICS = ("flops", "params", "acts", "latency", "memory")  # latency, memory: measured (sweeps.measure)
QUARTER = "best of a random quarter of the models: median [2.5%, 97.5%]"  # stats.bootstrap_best's error
SELECTION = "Best models, chosen at a higher fidelity"
# Models per sweep the rule is fitted to for e_fit's median, EDF and scatter (analysis.fit costs about 0.1 s a
# model on a 2-core machine): the median of 100 has a standard error of about an eighth of their spread.
FIT_SAMPLE = 100
FIT_STREAM = 7  # the sample's random stream beside the report's seed
BEST_WIDTHS = 5  # models in the widths plot
RANGES = "the best model of a random quarter of the models (bootstrap): median [2.5%, 97.5%] of its value"


@dataclass(frozen=True)
class Report:
    out: Path
    table: pd.DataFrame
    figures: list[Path]
    bins: int | None = None  # of the (first) normalized EDF, when there is one
    verdict: tuple[str, ...] = ()  # the answer in words (analysis.verdict)
    fidelity: tuple[str, ...] = ()  # the fidelity check's lines, where the sweeps have re-runs
    selection: tuple[str, ...] = ()  # the best models chosen at a higher fidelity, where some were re-trained
    speed: tuple[str, ...] = ()  # the measured speed's lines (analysis.pareto.speed_lines)

    @property
    def html(self) -> Path:
        return self.out / "report.html"


def compare(
    sweeps: Sweeps,
    out: str | Path,
    *,
    normalize: str | list[str] | tuple[str, ...] | None = None,
    bins: int | None = None,
    seed: int = 0,
) -> Report:
    """Compare sweeps (one works too) and write the report into `out`. `normalize`: one metric of METRICS or
    several (their normalized EDFs side by side; the first one's KS tests are table.csv's ks_norm_vs_* columns,
    every one's also ks_norm_<metric>_vs_*; their p-values by permutation within bins). latency and memory are
    the measured latency_ms and memory_mb, which every compared model must have. `bins` of the normalized EDF
    (log-spaced where the shared range spans more than 2x): None takes the most, up to 10, that every sweep fills
    (per metric); fewer than 5 warn (stats.FewBinsWarning, and a line in the report). `sweeps`: the folders as
    `load_sweeps(dirs, names)` reads them (a caller that reads them for more than the report reads each results
    file once)."""
    metrics = [normalize] if isinstance(normalize, str) else list(normalize or [])
    for metric in metrics:
        if metric not in METRICS:
            raise AnalysisError(f"normalize: {metric!r} is not one of {', '.join(METRICS)}")
    if len(set(metrics)) < len(metrics):
        raise AnalysisError(f"normalize: {', '.join(metrics)} names a metric twice")
    if bins is not None and bins < 1:
        raise AnalysisError(f"bins: must be >= 1, got {bins}")
    empty = [n for n in sweeps.names if sweeps.errors(n).empty]
    if empty:
        raise AnalysisError(f"{empty[0]}: no model finished ok yet; nothing to compare")
    normalized = {}
    for metric in metrics:
        if metric in pareto.MEASURED:
            pareto.check_measured(sweeps.ok, sweeps.names, metric)
        normalized[metric] = _normalized(sweeps, metric, bins)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(min(len(sweeps.names), os.cpu_count() or 1)) as pool:  # numpy's work frees the GIL
        each = dict(zip(sweeps.names, pool.map(partial(_described, sweeps, seed), sweeps.names)))
    boots, fitted, described = ({n: parts[i] for n, parts in each.items()} for i in range(3))
    said = verdict({n: sweeps.errors(n).to_numpy() for n in sweeps.names}, _measured(sweeps), seed=seed)
    table = _table(sweeps, boots, normalized, said, seed)
    table = table.assign(
        median_e_fit=[fitted[n].e_fit.iloc[described[n]].median() for n in sweeps.names],
        e_fit_n=[len(described[n]) for n in sweeps.names],
    )
    speed = _speed(sweeps)
    if not speed.per_flop.empty:
        table = table.merge(
            speed.per_flop[["sweep", "n", "ms_per_gflop", "median_latency_ms", "measured_on"]], "left", "sweep"
        )
        table = table.rename(columns={"n": "ms_per_gflop_n"})
    figures = _figures(sweeps, fitted, described, boots, normalized, out, seed)
    fidelity = _fidelity(sweeps, out, seed, figures, said)
    context = Context(budget_lines(sweeps), fidelity, speed, _selection(sweeps))
    table.to_csv(out / "table.csv", index=False)
    speed.pareto.to_csv(out / "pareto.csv", index=False)
    (out / "summary.md").write_text(_summary(sweeps, table, boots, normalized, said, context))
    (out / "report.html").write_text(_html(sweeps, table, boots, figures, normalized, said, context))
    first = normalized[metrics[0]].bins if metrics else None
    return Report(
        out,
        table,
        figures,
        first,
        tuple(said.headline),
        tuple(context.fidelity),
        tuple(context.selection),
        tuple(speed.lines),
    )


@dataclass(frozen=True)
class Speed:
    """The measured speed of the sweeps' ok models: what it rests on, latency per GFLOP per sweep, and each
    sweep's Pareto models (error against latency where measured, else against flops)."""

    lines: list[str]
    per_flop: pd.DataFrame
    pareto: pd.DataFrame
    cost: str  # latency_ms or flops: what the Pareto table is against


def _speed(sweeps: Sweeps) -> Speed:
    ok = sweeps.ok
    cost = "latency_ms" if pareto.has_latency(ok, sweeps.names) else "flops"
    per_flop = pareto.latency_per_flop(ok, sweeps.names)
    return Speed(
        pareto.speed_lines(ok, sweeps.names, per_flop), per_flop, pareto.pareto_table(ok, sweeps.names, cost), cost
    )


def unsupported(sweeps: Sweeps, metric: str) -> str | None:
    """Why the sweeps' errors cannot be normalized by `metric` (one of METRICS), in words, or None where compare
    can: a measured metric missing or measured in different ways, or a shared range that some sweep leaves empty."""
    if metric in pareto.MEASURED:
        gap = pareto.measured_gap(sweeps.ok, sweeps.names, metric)
        if gap is not None:
            return gap
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FewBinsWarning)  # compare warns when it normalizes
            _normalized(sweeps, metric, None)
    except AnalysisError as e:
        return str(e)
    return None


def _normalized(sweeps: Sweeps, metric: str, bins: int | None) -> Normalization:
    column = pareto.COLUMNS[metric]
    values = {n: sweeps.ok[sweeps.ok.sweep == n][column].to_numpy(dtype=float) for n in sweeps.names}
    try:
        return normalize(values, bins, metric)
    except AnalysisError as e:
        raise AnalysisError(f"normalized by {metric}: {e}") from None


def budget_lines(sweeps: Sweeps) -> list[str]:
    """What the errors are: each distinct recipe's budget, the images a model saw (as a fraction of an epoch where
    the records know the training set's size), and what such errors are not."""
    lines = []
    for recipe, names in sweeps.by_recipe().items():
        rows = sweeps.ok[sweeps.ok.sweep.isin(names)]
        images = rows.images.astype(float)
        epochs = (images / rows.train_size.astype(float)).dropna() if "train_size" in rows else pd.Series([])
        seen = f"{images.min():,.0f}-{images.max():,.0f} training images per model (median {images.median():,.0f}"
        seen += f", {epochs.median():.2f} epoch)" if len(epochs) else ")"
        lines.append(f"Errors of {', '.join(names)}: after a brief training of {recipe}; {seen}.")
    lines.append(
        "They rank shapes by how fast they learn under one shared recipe and equal compute; they are not the "
        "errors these networks reach when trained to convergence, which are lower (the fidelity check below "
        "says how well the ranking holds at a longer budget, where one was run)."
    )
    return lines


def _fidelity(sweeps: Sweeps, out: Path, seed: int, figures: list[Path], said: Verdict) -> list[str]:
    """The fidelity check's lines (and its scatter figure, appended to figures) where the sweeps have re-runs: first
    which of the verdict's claims (the pairs it separated) and which order of models held at higher fidelity."""
    models = load_fidelity(sweeps.paths, sweeps.names, sources=sweeps.frame)
    if len(models) < 3 or models.factor.nunique() > 1:
        return []
    result = analyse(models, seed=seed)
    panels = []
    for run in ("long", "reseed", "reference"):
        found = result.find("brief", run)
        if models[run].notna().any():
            heading = fidelity_label(run, result.factor)
            panels.append((run, heading + (f": within-space Spearman {found.spearman:.2f}" if found else "")))
    title = "fidelity: each re-run model's error at the brief budget and when trained again"
    figures.append(plots.fidelity_plot(result.models, panels, out / "fidelity.png", title))
    separated = [(r.better, r.worse) for r in said.pairs if r.p_holm < max(LEVELS)]
    return describe(result, separated, seed)


def _selection(sweeps: Sweeps) -> list[str]:
    """The lines on the best models chosen at a higher fidelity, where the sweeps have re-trained models."""
    retrained = load_retrain(sweeps.paths, sweeps.names, sweeps.frame)
    return [] if retrained.empty else describe_retrain(selections(sweeps.ok, sweeps.names, retrained))


def _measured(sweeps: Sweeps) -> dict[str, str]:
    """Which error each sweep selects on: the validation error where it has a split, else the test error."""
    ok = sweeps.ok
    return {n: "validation" if ok[ok.sweep == n].val_error.notna().all() else "test" for n in sweeps.names}


def _normalized_tests(sweeps: Sweeps, norm: Normalization, seed: int) -> dict[frozenset, KS]:
    """The normalized KS test of every pair of sweeps (stratified permutation, seeded), by the pair's names."""
    tests = {}
    for i, a in enumerate(sweeps.names):
        for b in sweeps.names[i + 1 :]:
            errors_a, errors_b = sweeps.errors(a).to_numpy(), sweeps.errors(b).to_numpy()
            tests[frozenset((a, b))] = ks_test(errors_a, errors_b, norm.strata[a], norm.strata[b], seed=seed)
    return tests


def _table(sweeps: Sweeps, boots: dict, normalized: dict[str, Normalization], said: Verdict, seed: int) -> pd.DataFrame:
    by_pair = {frozenset((pair.better, pair.worse)): pair for pair in said.pairs}  # its test, and its plain KS
    tests = {metric: _normalized_tests(sweeps, norm, seed) for metric, norm in normalized.items()}
    rows = []
    for name in sweeps.names:
        errors = sweeps.errors(name).to_numpy()
        all_rows = sweeps.frame[sweeps.frame.sweep == name]
        row = {
            "sweep": name,
            "ok": len(errors),
            "not_ok": len(all_rows) - len(errors),
            "min_error": errors.min(),
            "mean_error": errors.mean(),
            "median_error": float(np.median(errors)),
            "min_error_low": boots[name].error_low,  # min_error_*: the best of a random quarter of the models
            "min_error_median": boots[name].error_median,
            "min_error_high": boots[name].error_high,
        }
        for other in sweeps.names:
            if other == name:
                continue
            pair = by_pair[frozenset((name, other))]
            row[f"ks_vs_{other}"], row[f"p_vs_{other}"] = pair.ks_statistic, pair.ks_pvalue
            row[f"p_holm_vs_{other}"] = pair.p_holm
            for i, metric in enumerate(normalized):
                norm = tests[metric][frozenset((name, other))]
                if i == 0:
                    row[f"ks_norm_vs_{other}"], row[f"p_norm_vs_{other}"] = norm.statistic, norm.pvalue
                row[f"ks_norm_{metric}_vs_{other}"] = norm.statistic
                row[f"p_norm_{metric}_vs_{other}"] = norm.pvalue
        rows.append(row)
    return pd.DataFrame(rows)


def _figures(
    sweeps: Sweeps,
    fitted: dict[str, pd.DataFrame],
    described: dict[str, np.ndarray],
    boots: dict,
    normalized: dict[str, Normalization],
    out: Path,
    seed: int,
) -> list[Path]:
    curves = {n: (sweeps.errors(n).to_numpy(), None) for n in sweeps.names}
    figures = [plots.edf_plot(curves, out / "edf.png", "error EDF")]
    for metric, norm in normalized.items():
        weighted = {n: (sweeps.errors(n).to_numpy(), norm.weights[n]) for n in sweeps.names}
        title = f"error EDF, normalized by {metric} ({norm.count})"
        figures.append(plots.edf_plot(weighted, out / f"edf_{metric}.png", title))
    ok = sweeps.ok
    figures.append(plots.pareto_plot(ok, "flops", out / "pareto_flops.png", "error vs flops", "flops (multiply-adds)"))
    if len(pareto.measured(ok)):
        where = ", ".join(sorted(set(pareto.describe_ways(ok))))
        figures.append(
            plots.pareto_plot(
                ok,
                "latency_ms",
                out / "pareto_latency.png",
                f"error vs measured latency ({where}, batch 1)",
                "latency, batch 1 (ms)",
            )
        )
        figures.append(plots.latency_flops_plot(ok, out / "latency_flops.png", f"latency per flop ({where})"))
    figures += hyper_figures({n: ok[ok.sweep == n] for n in sweeps.names}, out)  # where lr, wd are drawn per model
    search = {n: search_efficiency(sweeps.errors(n).to_numpy()) for n in sweeps.names}
    figures.append(plots.search_plot(search, out / "search.png"))
    e_fits = {n: (fitted[n].e_fit.to_numpy()[described[n]], None) for n in sweeps.names}
    figures.append(
        plots.edf_plot(
            e_fits,
            out / "e_fit.png",
            "fit to the quantized linear rule (e_fit)" + _fitted_words(sweeps, described),
            xlabel="e_fit, mean |log(w_hat / w)|",
        )
    )
    for i, name in enumerate(sweeps.names, 1):
        rows = fitted[name]
        figures.append(
            plots.widths_plot(
                rows,
                out / f"s{i}_widths.png",
                f"{name}: per-block widths of the best, fitted rules dashed",
                top=BEST_WIDTHS,
            )
        )
        for column in sweeps.shape_columns(name):
            figures.append(
                plots.param_plot(rows, column, boots[name], out / f"s{i}_{column}.png", f"{name}: error vs {column}")
            )
        some = rows.iloc[described[name]]  # the fitted sample, unbiased by the bootstrap's best
        title = f"{name}: error vs e_fit" + _fitted_words(sweeps, {name: described[name]})
        figures.append(plots.param_plot(some, "e_fit", boots[name], out / f"s{i}_e_fit.png", title))
    return figures


def _described(sweeps: Sweeps, seed: int, name: str) -> tuple[Bootstrap, pd.DataFrame, np.ndarray]:
    """One sweep's bootstrap of its best models (e_fit's range included), its models with the rule fitted to those
    the report reads, and the fitted sample's positions (fit_some). Sweeps run side by side, one a core: the fits
    are most of a large compare's time."""
    rows = sweeps.ok[sweeps.ok.sweep == name]
    boot = bootstrap_best(rows, sweeps.shape_columns(name), seed=seed)
    fitted, sample = fit_some(rows, boot, seed)
    return boot.with_range("e_fit", fitted.e_fit.to_numpy()), fitted, sample


def fit_some(rows: pd.DataFrame, boot: Bootstrap, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The sweep's models with the rule fitted (analysis.fit.with_fits) to those the report reads: a seeded random
    FIT_SAMPLE of them (all where there are fewer), which describes the sweep (e_fit's median, EDF and scatter),
    the bootstrap's best models (e_fit's range) and the best few (the widths plot); the others' fit columns are
    NaN. The fit costs about 0.1 s a model, so fitting every one of 100,000 would take hours. Returns the frame and
    the sample's positions."""
    n = len(rows)
    sample = np.arange(n)
    if n > FIT_SAMPLE:
        sample = np.sort(np.random.default_rng([seed, FIT_STREAM]).choice(n, FIT_SAMPLE, replace=False))
    best = np.argsort(rows.error.to_numpy(dtype=float), kind="stable")[:BEST_WIDTHS]
    return with_fits(rows, rows=np.union1d(np.union1d(sample, boot.best), best)), sample


def _fitted_words(sweeps: Sweeps, described: dict[str, np.ndarray]) -> str:
    """Where the rule was fitted to a sample only: how many of how many models, per sweep."""
    counts = {n: (len(described[n]), len(sweeps.errors(n))) for n in described}
    if all(k == total for k, total in counts.values()):
        return ""
    return " (" + "; ".join(f"{n}: a random {k:,} of {total:,}" for n, (k, total) in counts.items()) + ")"


@dataclass(frozen=True)
class Context:
    """What the errors rest on: the budget's lines, and the fidelity check's (empty where none was run)."""

    budget: list[str]
    fidelity: list[str]
    speed: Speed | None = None
    selection: list[str] = field(default_factory=list)  # the best models chosen at a higher fidelity


def _normalized_lines(normalized: dict[str, Normalization]) -> list[str]:
    """What each normalization did, in words, with its few-bins warning where it has one."""
    lines = []
    for metric, norm in normalized.items():
        lines.append(
            f"Normalized by {metric}: {norm.words}, each bin weighted equally, so a space is not favoured for sampling "
            f"cheaper (or faster) models; its KS p-values by permutation within bins."
        )
        lines += [f"Warning: {norm.warning}."] if norm.warning else []
    return lines


def _summary(
    sweeps: Sweeps,
    table: pd.DataFrame,
    boots: dict,
    normalized: dict[str, Normalization],
    said: Verdict,
    context: Context,
) -> str:
    lines = [f"# Design-space comparison: {', '.join(sweeps.names)}", "", "## Verdict", ""]
    lines += [f"- {line}" for line in said.headline] + [""] + [f"- {line}" for line in said.details]
    lines += ["", "## What the errors are", ""] + [f"- {line}" for line in context.budget]
    if context.fidelity:
        lines += ["", "## Fidelity: does the brief budget rank models as a longer one does?", "", "```"]
        lines += [*context.fidelity, "```"]
    if context.selection:
        lines += ["", f"## {SELECTION}", "", "```", *context.selection, "```"]
    lines += ["", "## Details", ""]
    for _, row in table.iterrows():
        lines.append(
            f"- **{row.sweep}**: {row.ok} models ok ({row.not_ok} not), error min {row.min_error:.2f}% "
            f"({QUARTER} {_quarter(row)}), mean {row.mean_error:.2f}%, median {row.median_error:.2f}%"
        )
    pairs = [(a, b) for i, a in enumerate(sweeps.names) for b in sweeps.names[i + 1 :]]
    if pairs:
        lines += ["", "KS tests (statistic, p-value; whether the EDFs differ in shape or place, not which is better):"]
        for a, b in pairs:
            row = table[table.sweep == a].iloc[0]
            text = f"- {a} vs {b}: {row[f'ks_vs_{b}']:.3f}, p = {row[f'p_vs_{b}']:.3g}"
            for metric in normalized:
                d, p = row[f"ks_norm_{metric}_vs_{b}"], row[f"p_norm_{metric}_vs_{b}"]
                text += f"; normalized by {metric}: {d:.3f}, p = {p:.3g}"
            lines.append(text)
    if normalized:
        lines += [""] + [f"- {line}" for line in _normalized_lines(normalized)]
    if context.speed is not None:
        lines += ["", "## Measured speed", ""] + [f"- {line}" for line in context.speed.lines]
        if len(context.speed.pareto):
            lines += ["", f"Pareto models (error vs {_cost_words(context.speed.cost)}):", ""]
            lines += _pareto_markdown(context.speed.pareto)
    for name in sweeps.names:
        ranges = boots[name].ranges
        if len(ranges):
            lines += ["", f"{name}, {RANGES}:"]
            lines += [f"- {p}: {r['median']:.4g} [{r['low']:.4g}, {r['high']:.4g}]" for p, r in ranges.iterrows()]
    return "\n".join(lines) + "\n"


def _quarter(row: pd.Series) -> str:
    """The best error of a random quarter of the models, e.g. '27.10% [25.26, 35.51]'."""
    return f"{row.min_error_median:.2f}% [{row.min_error_low:.2f}, {row.min_error_high:.2f}]"


def _cost_words(cost: str) -> str:
    return "measured latency" if cost == "latency_ms" else "flops (no latency measured)"


def _pareto_frame(front: pd.DataFrame) -> pd.DataFrame:
    """The Pareto table for reading: error to 2 decimals, latency in ms, flops in M."""
    out = pd.DataFrame({"sweep": front.sweep, "id": front.id, "error": front.error.map("{:.2f}".format)})
    if "latency_ms" in front:
        out["latency (ms)"] = front.latency_ms.map(lambda v: "-" if pd.isna(v) else pareto.figure(v))
    out["flops (M)"] = (front.flops / 1e6).map("{:.3g}".format)
    return out


def _pareto_markdown(front: pd.DataFrame) -> list[str]:
    readable = _pareto_frame(front)
    lines = ["| " + " | ".join(readable.columns) + " |", "|" + "---|" * len(readable.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in readable.itertuples(index=False)]
    return lines


CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:6px 0}.grid{display:grid;
grid-template-columns:1fr 1fr;gap:8px}h2{border-bottom:1px solid #ddd;padding-bottom:4px}
.verdict{background:#f6f8fa;border-left:4px solid #4a7;padding:6px 12px 6px 28px}.verdict li{margin:3px 0}
.details{font-size:13px;color:#444}.matrix{font-size:13px}.matrix th{overflow-wrap:anywhere}
.matrix span{white-space:nowrap}pre{white-space:pre-wrap;font-size:13px}"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _sweep_table(table: pd.DataFrame) -> pd.DataFrame:
    """The per-sweep columns of the table, errors to 2 decimals, the best error of a random quarter of the models."""
    return pd.DataFrame(
        {
            "sweep": table.sweep,
            "ok": table.ok,
            "not ok": table.not_ok,
            "min error": table.min_error.map("{:.2f}".format),
            QUARTER: [_quarter(row) for _, row in table.iterrows()],
            "mean error": table.mean_error.map("{:.2f}".format),
            "median error": table.median_error.map("{:.2f}".format),
            "median e_fit": [
                f"{m:.3g}" + ("" if k == ok else f" (a random {k:,})")
                for m, k, ok in zip(table.median_e_fit, table.e_fit_n, table.ok)
            ],
        }
    )


def _speed_html(speed: Speed | None, table: pd.DataFrame, by_name: dict[str, Path]) -> list[str]:
    """The measured-speed section: what it rests on, latency per GFLOP per sweep, the Pareto fronts and models."""
    if speed is None:
        return []
    parts = ["<h2>Measured speed: latency, throughput, memory</h2>", _list(speed.lines, "details")]
    if not speed.per_flop.empty:
        per = speed.per_flop
        readable = pd.DataFrame(
            {
                "sweep": per.sweep,
                "n": per.n,
                "ms per GFLOP (median)": per.ms_per_gflop.map(pareto.figure),
                "quartiles": [
                    f"{pareto.figure(a)}-{pareto.figure(b)}" for a, b in zip(per.ms_per_gflop_q1, per.ms_per_gflop_q3)
                ],
                "x lowest": per.relative.map("{:.2f}".format),
                "median latency (ms)": per.median_latency_ms.map(pareto.figure),
                "throughput (img/s)": [
                    f"{v:,.0f} at batch {b}" for v, b in zip(per.median_throughput_ips, per.throughput_batch)
                ],
                "training memory (MiB)": [
                    f"{pareto.figure(v)} at batch {b} ({m})"
                    for v, b, m in zip(per.median_memory_mb, per.memory_batch, per.memory_method)
                ],
                "measured on": per.measured_on,
            }
        )
        parts += [readable.to_html(index=False), "<div class='grid'>", _img(by_name["pareto_latency.png"])]
        parts += [_img(by_name["latency_flops.png"]), "</div>"]
    parts += [
        "<p>Pareto fronts: the models of a sweep that no model of the same sweep beats in both error and cost.</p>",
        _img(by_name["pareto_flops.png"]),
        f"<p>Each sweep's Pareto models, error vs {_cost_words(speed.cost)} (pareto.csv):</p>",
        _pareto_frame(speed.pareto).to_html(index=False),
    ]
    return parts


def _list(lines: list[str], css_class: str) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f"<ul class='{css_class}'>{items}</ul>" if lines else ""


def _matrix(table: pd.DataFrame, kind: str = "") -> str:
    """The pairwise KS tests (`kind` "norm_" for the normalized ones) as a square HTML table, blank diagonal; a cell
    wraps only after its "/"."""
    names, rows = table.sweep.tolist(), table.set_index("sweep")

    def cell(a: str, b: str) -> str:
        if a == b:
            return ""
        d, p = rows.at[a, f"ks_{kind}vs_{b}"], rows.at[a, f"p_{kind}vs_{b}"]
        return f"<span>D {d:.2f} /</span> <span>p {p:.2g}</span>"

    labels = [html.escape(name) for name in names]
    cells = [[cell(a, b) for b in names] for a in names]
    return pd.DataFrame(cells, index=labels, columns=labels).to_html(classes="matrix", escape=False)


def _html(
    sweeps: Sweeps,
    table: pd.DataFrame,
    boots: dict,
    figures: list[Path],
    normalized: dict[str, Normalization],
    said: Verdict,
    context: Context,
) -> str:
    by_name = {p.name: p for p in figures}
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>anynet: {html.escape(', '.join(sweeps.names))}</title>",
        f"<style>{CSS}</style><h1>Design-space comparison</h1>",
        "<h2>Verdict</h2>",
        _list(said.headline, "verdict"),
        _list(said.details, "details"),
        f"<p>{html.escape(', '.join(sweeps.names))} &middot; {datetime.now():%Y-%m-%d %H:%M} &middot; errors are "
        "top-1 errors in % (on the validation split where a sweep has one, else on the test set); statistics "
        "use the models that finished ok.</p>",
        "<h2>What the errors are</h2>",
        _list(context.budget, "details"),
    ]
    if context.fidelity:
        parts += [
            "<h2>Fidelity: does the brief budget rank models as a longer one does?</h2>",
            f"<pre>{html.escape(chr(10).join(context.fidelity))}</pre>",
            _img(by_name["fidelity.png"]),
        ]
    if context.selection:
        parts += [f"<h2>{SELECTION}</h2>", f"<pre>{html.escape(chr(10).join(context.selection))}</pre>"]
    parts += ["<h2>Summary</h2>", _sweep_table(table).to_html(index=False)]
    if len(table) > 1:
        parts += [
            "<h2>Pairwise KS tests</h2>",
            "<p>Two-sample KS test on the errors of the row's and the column's sweep: D, the largest gap between "
            "their EDFs, and p, not corrected for the number of pairs. A small p says the EDFs differ in shape or "
            "place, not which sweep is better: that is the verdict's one-sided test of the mean error (its "
            "Holm-adjusted p: table.csv's p_holm_vs_* columns).</p>",
            _matrix(table),
        ]
        for metric in normalized:
            parts += [
                f"<p>Normalized by {metric} (weighted KS test; p by a permutation test within {metric} bins):</p>",
                _matrix(table, f"norm_{metric}_"),
            ]
    parts += [
        "<h2>Error distributions</h2>",
        f"<p>{BAND_WORDS}: the whole error CDF of the space's population lies inside it with probability 95% (a "
        "normalized EDF's band, at Kish's effective n: at least 95%, and wider than that needs where error depends "
        "on complexity). Where two bands do not overlap, the spaces' curves differ, unless a band missed its curve "
        "(at most a 5% chance each); overlapping bands do not show that the spaces are alike.</p>",
        _img(by_name["edf.png"]),
    ]
    if normalized:
        parts += [
            _list(_normalized_lines(normalized), "details"),
            "<div class='grid'>" if len(normalized) > 1 else "",
            *[_img(by_name[f"edf_{metric}.png"]) for metric in normalized],
            "</div>" if len(normalized) > 1 else "",
        ]
    parts += _speed_html(context.speed, table, by_name)
    parts += [
        "<h2>Random-search efficiency</h2>",
        _img(by_name["search.png"]),
        "<h2>How well the quantized linear rule explains the widths</h2>",
        "<p>e_fit per model: the RegNet rule fitted to its per-block widths (0: a RegNet exactly).</p>",
        _img(by_name["e_fit.png"]),
    ]
    for i, name in enumerate(sweeps.names, 1):
        parts += [
            f"<h2>{html.escape(name)}</h2>",
            f"<p>Shape parameters of {html.escape(RANGES)} (the paper's footnote 4; low, high: 2.5%, 97.5%).</p>",
            boots[name].ranges.to_html(float_format=lambda v: f"{v:.4g}"),
            "<div class='grid'>",
        ]
        parts += [_img(p) for p in figures if p.name.startswith(f"s{i}_")]
        parts.append("</div>")
    excluded = sweeps.excluded
    if len(excluded):
        parts += [
            "<h2>Models left out of the statistics</h2>",
            excluded[["sweep", "id", "status", "message"]].to_html(index=False),
        ]
    return "\n".join(parts) + "\n"
