"""The paper's figures with matplotlib: EDF overlays with simultaneous bands, parameter-vs-error scatter with the
range of the best model of a random quarter, per-block widths of the best models, random-search efficiency. Every
function writes one PNG of SIZE pixels."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from anynet.regnet import rule_widths  # noqa: E402
from analysis.stats import Bootstrap, edf, edf_band, effective_n  # noqa: E402

BAND_WORDS = "shaded: simultaneous 95% band (the whole curve)"
DPI = 100
SIZE = (720, 450)  # pixels of every figure
LOG_AXES = ("w1", "w2", "w3", "w4", "w0", "wa", "flops", "params", "acts")
UNITS = {
    "d": "depth (blocks)",
    "w": "width (channels)",
    "b": "bottleneck ratio",
    "g": "group width (channels)",
    "w0": "initial width w0 (channels)",
    "wa": "slope wa (channels per block)",
    "wm": "width multiplier wm",
    "e_fit": "misfit to the quantized linear rule, mean |log(w_hat / w)|",
}


def axis_label(column: str) -> str:
    """'w3' -> 'w3: width (channels)', 'd' -> 'd: total depth (blocks)'."""
    if column == "d":
        return "d: total depth (blocks)"
    return f"{column}: {UNITS.get(column, UNITS.get(column.rstrip('1234'), column))}"


# Dots drawn per sweep in a scatter: above it a seeded random sample of the models is drawn (and the legend says so),
# so a figure of 100,000 models draws as fast and reads as clearly as one of 5,000; what a figure computes (a Pareto
# front, a median, a bootstrap range) still uses every model.
MAX_DOTS = 5_000


def dots(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The points a scatter draws: all of them, or a seeded random MAX_DOTS; and the legend's words for it."""
    if len(x) <= MAX_DOTS:
        return x, y, ""
    keep = np.sort(np.random.default_rng(len(x)).choice(len(x), MAX_DOTS, replace=False))
    return x[keep], y[keep], f", {MAX_DOTS:,} drawn at random"


def _figure():
    return plt.subplots(figsize=(SIZE[0] / DPI, SIZE[1] / DPI), dpi=DPI)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def edf_label(name: str, values: np.ndarray, weights: np.ndarray | None) -> str:
    """A curve's legend: n (for a weighted EDF Kish's effective n of its models of weight > 0, of how many), and
    the min and (weighted) mean of the models of weight > 0."""
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    kept = values[w > 0]
    n = f"n={len(kept)}" if weights is None else f"effective n={effective_n(w[w > 0]):.0f} of {len(kept)}"
    return f"{name} ({n}, min {kept.min():.2f}, mean {np.average(kept, weights=w[w > 0]):.2f})"


def edf_plot(
    curves: dict[str, tuple[np.ndarray, np.ndarray | None]],
    path: Path,
    title: str,
    xlabel: str = "top-1 error (%)",
) -> Path:
    """Overlay of EDFs (of errors, or of another value such as e_fit), each with its shaded simultaneous 95% band
    (stats.edf_band); curves maps a sweep's name to (values, weights or None); models of weight 0 take no part."""
    fig, ax = _figure()
    for name, (values, weights) in curves.items():
        w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
        x = np.sort(values[w > 0])
        y = edf(values, x, w / w.sum())
        label = edf_label(name, values, weights)
        line = ax.step(np.concatenate([[x[0]], x]), np.concatenate([[0], y]), where="post", label=label)[0]
        low, high = edf_band(values, x, weights)
        ax.fill_between(x, low, high, step="post", color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set(xlabel=xlabel, ylabel="cumulative prob.", title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, title=BAND_WORDS, title_fontsize=8)
    return _save(fig, path)


def param_plot(frame: pd.DataFrame, column: str, boot: Bootstrap, path: Path, title: str) -> Path:
    """Error against one shape parameter, with the median and 2.5-97.5% range of the value of the best model of a
    random quarter of the models (stats.bootstrap_best)."""
    fig, ax = _figure()
    x, y, drawn = dots(frame[column].to_numpy(dtype=float), frame.error.to_numpy(dtype=float))
    ax.scatter(x, y, s=14, alpha=0.6, color="tab:blue", label=f"models (n={len(frame):,}{drawn})")
    low, median, high = boot.ranges.loc[column, ["low", "median", "high"]]
    label = f"best of a random quarter, 2.5-97.5%: {low:.4g}-{high:.4g}"
    ax.axvspan(low, high, color="tab:orange", alpha=0.2, label=label)
    ax.axvline(median, color="tab:orange", label=f"its median: {median:.4g}")
    if column in LOG_AXES and (frame[column] > 0).all():
        ax.set_xscale("log", base=2)
    ax.set(xlabel=axis_label(column), ylabel="top-1 error (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def widths_plot(frame: pd.DataFrame, path: Path, title: str, top: int = 5) -> Path:
    """Per-block width against block index for the best `top` models (log-2 width axis), with each model's fitted
    quantized linear rule dashed when the frame has the fit columns (analysis.fit.with_fits)."""
    fig, ax = _figure()
    for _, row in frame.nsmallest(top, "error").iterrows():
        widths = row.spec.block_widths
        blocks = range(1, len(widths) + 1)
        fitted = f", e_fit {row.e_fit:.3f}" if "e_fit" in row else ""
        line = ax.plot(blocks, widths, marker="o", ms=3, label=f"model {row.id}: {row.error:.2f}%{fitted}")[0]
        if "fit_w0" in row:
            rule = rule_widths(len(widths), row.fit_w0, row.fit_wa, row.fit_wm)[2]
            ax.plot(blocks, rule, ls="--", color=line.get_color(), alpha=0.7)
    ax.set_yscale("log", base=2)
    ax.set(xlabel="block index", ylabel="width (channels)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def search_plot(curves: dict[str, pd.DataFrame], path: Path) -> Path:
    """Expected best error among m random models, with its 5-95% band, per sweep."""
    fig, ax = _figure()
    for name, table in curves.items():
        line = ax.plot(table.m, table["mean"], marker="o", ms=3, label=name)[0]
        ax.fill_between(table.m, table.low, table.high, color=line.get_color(), alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set(xlabel="models tried at random (m)", ylabel="best top-1 error (%)", title="random-search efficiency")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def fidelity_plot(models: pd.DataFrame, panels: list[tuple[str, str]], path: Path, title: str) -> Path:
    """One panel per re-run (column of `models`, panel title): each re-run model's error at the brief budget (x)
    against its error in that run (y), one colour per sweep."""
    fig, axes = plt.subplots(
        1, len(panels), figsize=(SIZE[0] / DPI * (0.3 + 0.45 * len(panels)), SIZE[1] / DPI), dpi=DPI, sharex=True
    )
    for ax, (run, heading) in zip(np.atleast_1d(axes), panels):
        for i, (name, rows) in enumerate(models.groupby("sweep", sort=False)):
            rows = rows[rows[run].notna()]
            ax.scatter(rows.brief, rows[run], color=f"C{i}", s=24, label=f"{name} (n={len(rows)})")
        ax.set(xlabel="error at the brief budget (%)", ylabel=f"error, {heading.split(':')[0]} (%)")
        ax.set_title(heading, fontsize=8)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def pareto_plot(frame: pd.DataFrame, cost: str, path: Path, title: str, xlabel: str) -> Path:
    """Error against a cost (latency_ms, flops) per sweep on a log-2 cost axis: every measured model as a dot, each
    sweep's Pareto front (no model of the sweep both cheaper and better) as a step line through its ringed models."""
    from analysis.pareto import pareto_mask

    fig, ax = _figure()
    for i, (name, rows) in enumerate(frame.groupby("sweep", sort=False)):
        rows = rows[rows[cost].notna()]
        if rows.empty:
            continue
        color = f"C{i}"
        x, y = rows[cost].to_numpy(dtype=float), rows.error.to_numpy(dtype=float)
        front = pareto_mask(x, y)
        order = np.argsort(x[front])
        dx, dy, drawn = dots(x, y)
        ax.scatter(dx, dy, s=12, alpha=0.45, color=color, label=f"{name} (n={len(rows):,}{drawn}, front {front.sum()})")
        ax.step(x[front][order], y[front][order], where="post", color=color, lw=1.5)
        ax.scatter(x[front], y[front], s=36, facecolors="none", edgecolors=color)
    if (frame[cost].dropna() > 0).all():
        ax.set_xscale("log", base=2)
    ax.set(xlabel=xlabel, ylabel="top-1 error (%)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, title="line: Pareto front", title_fontsize=8)
    return _save(fig, path)


def latency_flops_plot(frame: pd.DataFrame, path: Path, title: str) -> Path:
    """Measured latency against flops per sweep (log-log), with each sweep's median ms per GFLOP as a line."""
    fig, ax = _figure()
    for i, (name, rows) in enumerate(frame.groupby("sweep", sort=False)):
        rows = rows[rows.latency_ms.notna()]
        if rows.empty:
            continue
        gflops = rows.flops.to_numpy(dtype=float) / 1e9
        per = float(np.median(rows.latency_ms.to_numpy(dtype=float) / gflops))
        x, y, drawn = dots(gflops, rows.latency_ms.to_numpy(dtype=float))
        ax.scatter(x, y, s=12, alpha=0.6, color=f"C{i}", label=f"{name}: {per:.3g} ms/GFLOP{drawn}")
        span = np.array([gflops.min(), gflops.max()])
        ax.plot(span, per * span, color=f"C{i}", lw=1, ls="--")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set(xlabel="flops (GFLOPs, multiply-adds)", ylabel="latency, batch 1 (ms)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, title="dashed: median ms per GFLOP", title_fontsize=8)
    return _save(fig, path)


def _grid(rows: int, columns: int, panel: tuple[int, int] = (360, 260)):
    width, height = panel[0] * columns / DPI, panel[1] * rows / DPI
    return plt.subplots(rows, columns, figsize=(width, height), dpi=DPI, squeeze=False)


def ratios_plot(frame: pd.DataFrame, columns: list[list[str]], boot: Bootstrap, path: Path, title: str) -> Path:
    """The paper's Figs. 7-8 as panels: error against each ratio of a parameter between neighbouring stages (a row
    of panels per parameter, e.g. ['w2/w1', 'w3/w2']), log-2 axis, 1 (equal stages) marked, with the median and
    2.5-97.5% range of the ratio of the best model of a random quarter (boot's ranges of those columns)."""
    fig, axes = _grid(len(columns), max(len(row) for row in columns))
    for axes_row, row in zip(axes, columns):
        for ax, column in zip(axes_row, row):
            low, median, high = boot.ranges.loc[column, ["low", "median", "high"]]
            x, y, drawn = dots(frame[column].to_numpy(dtype=float), frame.error.to_numpy(dtype=float))
            ax.scatter(x, y, s=10, alpha=0.6, color="tab:blue", label=f"models (n={len(frame):,}{drawn})")
            ax.axvspan(low, high, color="tab:orange", alpha=0.2, label=f"best of a quarter: {low:.3g}-{high:.3g}")
            ax.axvline(median, color="tab:orange")
            ax.axvline(1.0, color="black", ls=":", lw=1)
            ax.set_xscale("log", base=2)
            ax.set(xlabel=column, ylabel="top-1 error (%)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        for ax in axes_row[len(row) :]:
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def stages_plot(frame: pd.DataFrame, params: list[str], stages: int, path: Path, title: str, top: int) -> Path:
    """Each parameter's value by stage for the `top` models of lowest error (a line each, log-2 axis), as the
    paper's Fig. 7 shows its good networks' depths and widths."""
    columns = min(2, len(params))
    fig, axes = _grid(-(-len(params) // columns), columns)
    best = frame.nsmallest(top, "error")
    index = list(range(1, stages + 1))
    for ax in axes.flat[len(params) :]:
        ax.axis("off")
    for ax, p in zip(axes.flat, params):
        for _, row in best.iterrows():
            ax.plot(index, [row[f"{p}{i}"] for i in index], marker="o", ms=3, alpha=0.7)
        ax.set_yscale("log", base=2)
        ax.set_xticks(index)
        ax.set(xlabel="stage", ylabel=f"{p}: {UNITS.get(p, p)}")
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
