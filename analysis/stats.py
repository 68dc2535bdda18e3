"""The statistics of design-space comparison: error EDFs (plain and complexity-normalized), KS tests, bootstrap
ranges of the best models, and random-search efficiency."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from anynet.errors import AnynetError


class AnalysisError(AnynetError):
    """Results that cannot be analysed as asked; the message says why and what to change."""


def edf(errors: np.ndarray, at: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """F(e) = (weighted) fraction of models with error <= e, at each point of `at`."""
    errors = np.asarray(errors, dtype=float)
    w = np.full(len(errors), 1.0 / len(errors)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(errors, kind="stable")
    cumulative = np.concatenate([[0.0], np.cumsum(w[order])])
    return cumulative[np.searchsorted(errors[order], np.asarray(at, dtype=float), side="right")]


def shared_range(values: list[np.ndarray]) -> tuple[float, float]:
    """The complexity range every population covers: the largest minimum to the smallest maximum."""
    low, high = max(float(np.min(v)) for v in values), min(float(np.max(v)) for v in values)
    if low >= high:
        raise AnalysisError(
            f"the populations share no complexity range (largest minimum {low:g} >= smallest "
            f"maximum {high:g}); compare sweeps sampled in overlapping bands"
        )
    return low, high


def normalized_weights(values: np.ndarray, bins: int, low: float, high: float) -> np.ndarray:
    """Radosavovic et al. 2019: equal-width bins over [low, high], each bin total weight 1/bins, shared equally by
    its models; models outside the range get weight 0. An empty bin is an error."""
    values = np.asarray(values, dtype=float)
    inside = (values >= low) & (values <= high)
    index = np.minimum(((values - low) / (high - low) * bins).astype(int), bins - 1)
    counts = np.bincount(index[inside], minlength=bins)
    if (counts == 0).any():
        empty = int(np.flatnonzero(counts == 0)[0])
        edges = np.linspace(low, high, bins + 1)
        raise AnalysisError(
            f"bin {empty + 1} of {bins} ({edges[empty]:.4g}-{edges[empty + 1]:.4g}) holds no model; use fewer bins "
            f"(--bins) or sweeps with more models in that complexity range"
        )
    weights = np.zeros(len(values))
    weights[inside] = 1.0 / bins / counts[index[inside]]
    return weights


def most_bins(values: list[np.ndarray], low: float, high: float, limit: int = 10) -> int:
    """The most equal-width bins over [low, high], at most `limit`, that every population fills."""
    for bins in range(limit, 0, -1):
        try:
            for v in values:
                normalized_weights(v, bins, low, high)
            return bins
        except AnalysisError:
            if bins == 1:
                raise
    raise AnalysisError(f"bins: must be >= 1, got {limit}")


@dataclass(frozen=True)
class KS:
    statistic: float
    pvalue: float


def ks_test(a: np.ndarray, b: np.ndarray, wa: np.ndarray | None = None, wb: np.ndarray | None = None) -> KS:
    """Two-sample Kolmogorov-Smirnov test. Unweighted: scipy's exact/asymptotic test. Weighted (normalized EDFs):
    the largest gap between the weighted EDFs, with the asymptotic p-value at Kish's effective sample sizes."""
    if wa is None and wb is None:
        result = stats.ks_2samp(a, b)
        return KS(float(result.statistic), float(result.pvalue))
    wa = np.full(len(a), 1.0 / len(a)) if wa is None else np.asarray(wa, dtype=float)
    wb = np.full(len(b), 1.0 / len(b)) if wb is None else np.asarray(wb, dtype=float)
    points = np.concatenate([a, b])
    d = float(np.max(np.abs(edf(a, points, wa / wa.sum()) - edf(b, points, wb / wb.sum()))))
    na, nb = wa.sum() ** 2 / (wa**2).sum(), wb.sum() ** 2 / (wb**2).sum()
    en = np.sqrt(na * nb / (na + nb))
    return KS(d, float(stats.kstwobign.sf(en * d)))


@dataclass(frozen=True)
class Bootstrap:
    """The paper's footnote 4: per parameter, the median and 95% interval of the best model's value over
    bootstrap draws; also the interval of the best error itself."""

    ranges: pd.DataFrame  # index: parameter; columns: low, median, high
    error_low: float
    error_median: float
    error_high: float


def bootstrap_best(
    frame: pd.DataFrame, columns: list[str], fraction: float = 0.25, draws: int = 10_000, seed: int = 0
) -> Bootstrap:
    """Draw `fraction` of the models with replacement, keep the best (lowest error), `draws` times (seeded)."""
    if frame.empty:
        raise AnalysisError("no finished models to bootstrap")
    rng = np.random.default_rng(seed)
    errors = frame["error"].to_numpy(dtype=float)
    size = max(1, round(fraction * len(errors)))
    picks = rng.integers(0, len(errors), size=(draws, size))
    best = picks[np.arange(draws), np.argmin(errors[picks], axis=1)]
    rows = {}
    for column in columns:
        values = frame[column].to_numpy(dtype=float)[best]
        rows[column] = np.percentile(values, [2.5, 50, 97.5])
    ranges = pd.DataFrame.from_dict(rows, orient="index", columns=["low", "median", "high"])
    e = np.percentile(errors[best], [2.5, 50, 97.5])
    return Bootstrap(ranges, float(e[0]), float(e[1]), float(e[2]))


def search_efficiency(errors: np.ndarray, draws: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Random-search efficiency: the best error among m random models (drawn with replacement), for m = 1, 2,
    4, ... up to n: mean and 5-95% band over `draws` draws (seeded)."""
    errors = np.asarray(errors, dtype=float)
    rng = np.random.default_rng(seed)
    ms = [1 << k for k in range(int(np.log2(len(errors))) + 1)]
    rows = []
    for m in ms:
        best = errors[rng.integers(0, len(errors), size=(draws, m))].min(axis=1)
        rows.append({"m": m, "mean": best.mean(), "low": np.percentile(best, 5), "high": np.percentile(best, 95)})
    return pd.DataFrame(rows)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of p-values for a family of tests: the i-th smallest p times (m - i + 1), made
    monotone and capped at 1, in the input order."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]))
    return adjusted


def edf_band(
    errors: np.ndarray, at: np.ndarray, weights: np.ndarray | None = None, draws: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """95% bootstrap band of the (weighted) EDF at each point of `at`: resample the models with replacement
    (with probability proportional to `weights` when given, as many as Kish's effective sample size), `draws`
    times (seeded), and take the 2.5 and 97.5 percentiles of the resampled EDFs."""
    errors = np.asarray(errors, dtype=float)
    p, size = None, len(errors)
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        p, size = w / w.sum(), max(1, round(w.sum() ** 2 / (w**2).sum()))
    picks = np.random.default_rng(seed).choice(len(errors), size=(draws, size), p=p)
    curves = np.stack([edf(errors[pick], at) for pick in picks])
    low, high = np.percentile(curves, [2.5, 97.5], axis=0)
    return low, high
