"""How faithfully a sweep's brief budget ranks models: rank correlations between the sweep's errors and those of
its fidelity re-runs (sweeps.fidelity), with bootstrap intervals, the re-seeded run as the seed-noise ceiling,
and whether each pair of spaces keeps its order at the longer budget."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats import AnalysisError
from sweeps import RESEED, fidelity_folders, load_results

# The pairs of runs compared: the sweep's own errors (brief), the re-seeded run (same budget) and the long run.
COMPARISONS = (("brief", "long"), ("reseed", "long"), ("brief", "reseed"))


@dataclass(frozen=True)
class Correlation:
    """Spearman's and Kendall's rank correlation of two runs' errors over n models, with 95% bootstrap intervals
    (models resampled with replacement, percentile method)."""

    a: str
    b: str
    n: int
    spearman: float
    spearman_low: float
    spearman_high: float
    kendall: float
    kendall_low: float
    kendall_high: float


@dataclass(frozen=True)
class Fidelity:
    """The re-run models of every sweep (one row each: sweep, id, flops and the error of each run), the factor of
    the long run, the correlations pooled over all sweeps and within each, and the order of each pair of spaces."""

    models: pd.DataFrame
    factor: float
    pooled: list[Correlation]
    per_sweep: dict[str, list[Correlation]]
    orders: pd.DataFrame


def load_fidelity(
    dirs: list[str | Path], names: list[str], factor: float | None = None, sources: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per model re-run ok in both re-runs: sweep, id, flops, brief, reseed, long (errors in %). `factor`
    picks the long run (default: the largest one each sweep has). `sources`: the sweeps' results already loaded
    (analysis.load.Sweeps.frame, its `sweep` column holding `names`), so their results files are not read again."""
    frames = []
    for path, name in zip(dirs, names):
        runs = fidelity_folders(path)
        longs = {float(k[1:]): v for k, v in runs.items() if k.startswith("x")}
        if RESEED not in runs or not longs:
            continue
        if factor is not None and factor not in longs:
            continue
        chosen = factor if factor is not None else max(longs)
        if sources is None:
            frame = _errors(load_results(path), "brief")
        else:
            frame = _errors(sources[sources.sweep == name].drop(columns="sweep"), "brief")
        frame = frame[["id", "flops", "brief"]]
        for run, folder in ((RESEED, runs[RESEED]), ("long", longs[chosen])):
            frame = frame.merge(_errors(load_results(folder.path), run)[["id", run]], on="id")
        frames.append(frame.assign(sweep=name, factor=chosen))
    if not frames:
        return pd.DataFrame(columns=["sweep", "id", "flops", "brief", "reseed", "long", "factor"])
    return pd.concat(frames, ignore_index=True)[["sweep", "id", "flops", "brief", "reseed", "long", "factor"]]


def _errors(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    frame = frame[(frame.status == "ok") & frame.error.notna()]
    return frame.rename(columns={"error": column})


def correlation(x: np.ndarray, y: np.ndarray, a: str, b: str, seed: int = 0, draws: int = 2000) -> Correlation:
    """Rank correlations of paired errors, with percentile bootstrap intervals over scipy.stats.bootstrap's
    resamples of the models (a resample whose ranks are all tied has no correlation and is left out)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = {}
    for name, fn in (("spearman", stats.spearmanr), ("kendall", stats.kendalltau)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tied resamples: their NaN statistics are dropped below
            value = float(fn(x, y).statistic)
            boot = stats.bootstrap(
                (x, y),
                lambda u, v, fn=fn: fn(u, v).statistic,
                paired=True,
                vectorized=False,
                n_resamples=draws,
                method="percentile",
                random_state=seed,
            )
        low, high = np.nanpercentile(boot.bootstrap_distribution, [2.5, 97.5])
        out.update({name: value, f"{name}_low": float(low), f"{name}_high": float(high)})
    return Correlation(a, b, len(x), **out)


def order_of_pairs(models: pd.DataFrame) -> pd.DataFrame:
    """For each pair of sweeps, on the re-run models: which is better by mean error, by median error, and by the
    KS direction (the side of the largest gap between the EDFs), at the brief and the long budget, and whether
    each order is kept."""
    rows = []
    names = list(dict.fromkeys(models.sweep))
    for a, b in combinations(names, 2):
        ea, eb = models[models.sweep == a], models[models.sweep == b]
        row = {"a": a, "b": b, "n_a": len(ea), "n_b": len(eb)}
        for how in ("mean", "median", "ks"):
            for run in ("brief", "long"):
                row[f"{how}_{run}"] = a if _better(how, ea[run].to_numpy(), eb[run].to_numpy()) else b
            row[f"{how}_kept"] = row[f"{how}_brief"] == row[f"{how}_long"]
        rows.append(row)
    return pd.DataFrame(rows)


def _better(how: str, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether errors a are at least as good as b: by mean, by median, or (ks) a's EDF lies above b's at the
    largest gap between them (more of a's models at low error)."""
    if how != "ks":
        fn = np.mean if how == "mean" else np.median
        return fn(a) <= fn(b)
    points = np.concatenate([a, b])
    gap = (a[:, None] <= points).mean(0) - (b[:, None] <= points).mean(0)
    return gap[np.argmax(np.abs(gap))] >= 0


def analyse(models: pd.DataFrame, seed: int = 0) -> Fidelity:
    """The correlations, pooled and per sweep, and the orders of the pairs of sweeps."""
    if len(models) < 3:
        raise AnalysisError(f"fidelity: {len(models)} model(s) re-run in both runs; at least 3 are needed")
    factors = sorted(set(models.factor))
    if len(factors) > 1:
        raise AnalysisError(f"fidelity: the sweeps' long re-runs differ in factor ({factors}); give --factor")

    def corrs(frame: pd.DataFrame) -> list[Correlation]:
        return [correlation(frame[a].to_numpy(), frame[b].to_numpy(), a, b, seed) for a, b in COMPARISONS]

    per_sweep = {n: corrs(f) for n, f in models.groupby("sweep", sort=False) if len(f) >= 3}
    return Fidelity(models, factors[0], corrs(models), per_sweep, order_of_pairs(models))


LABELS = {"brief": "brief", "reseed": "brief re-seeded", "long": "long"}


def _label(run: str, factor: float) -> str:
    return f"{factor:g}x budget" if run == "long" else LABELS[run]


def describe(result: Fidelity) -> list[str]:
    """The check in a few lines: what was re-run, each correlation with its interval, and the pairs' orders."""
    m, f = result.models, result.factor
    counts = ", ".join(f"{n} {c}" for n, c in m.groupby("sweep", sort=False).size().items())
    lines = [
        f"fidelity: {len(m)} models re-run ({counts}), a seeded uniform random subsample of each sweep; "
        f"errors at the sweep's budget, re-seeded at the same budget, and at {f:g}x the budget"
    ]
    for c in result.pooled:
        ceiling = " (the seed-noise ceiling)" if (c.a, c.b) == ("brief", "reseed") else ""
        lines.append(
            f"  {_label(c.a, f)} vs {_label(c.b, f)}{ceiling}: Spearman {c.spearman:.2f} "
            f"[{c.spearman_low:.2f}, {c.spearman_high:.2f}], Kendall {c.kendall:.2f} "
            f"[{c.kendall_low:.2f}, {c.kendall_high:.2f}], n = {c.n} (95% bootstrap intervals)"
        )
    for name, corrs in result.per_sweep.items():
        c = corrs[0]
        lines.append(
            f"  within {name}: brief vs {f:g}x Spearman {c.spearman:.2f} [{c.spearman_low:.2f}, "
            f"{c.spearman_high:.2f}], n = {c.n}"
        )
    o = result.orders
    if len(o):
        kept = ", ".join(f"{how} {int(o[f'{how}_kept'].sum())} of {len(o)}" for how in ("mean", "median", "ks"))
        lines.append(f"  pairs of spaces keeping their order at {f:g}x the budget (on the re-run models): {kept}")
        for _, row in o[~(o.mean_kept & o.median_kept & o.ks_kept)].iterrows():
            changed = [h for h in ("mean", "median", "ks") if not row[f"{h}_kept"]]
            lines.append(
                f"    {row.a} vs {row.b}: order changed by {', '.join(changed)} (better at the brief "
                f"budget by mean: {row.mean_brief}; at {f:g}x: {row.mean_long})"
            )
    return lines
