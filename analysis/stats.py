"""The statistics of design-space comparison: error EDFs (plain and complexity-normalized) with simultaneous
bands, KS tests (the normalized one by stratified permutation), the best model of a random quarter of the models
(bootstrap), and random-search efficiency."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, replace

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


def log_spaced(low: float, high: float) -> bool:
    """Whether bins over [low, high] are log-spaced: where the range spans more than 2x (equal-width otherwise)."""
    return low > 0 and high > 2 * low


def bin_edges(bins: int, low: float, high: float) -> np.ndarray:
    """The `bins` + 1 edges over [low, high]: log-spaced where the range spans more than 2x, else equal-width."""
    return np.geomspace(low, high, bins + 1) if log_spaced(low, high) else np.linspace(low, high, bins + 1)


def bin_index(values: np.ndarray, bins: int, low: float, high: float) -> np.ndarray:
    """Each value's bin (0 to bins - 1) over bin_edges(bins, low, high); -1 outside [low, high]."""
    values = np.asarray(values, dtype=float)
    index = np.clip(np.searchsorted(bin_edges(bins, low, high), values, side="right") - 1, 0, bins - 1)
    return np.where((values >= low) & (values <= high), index, -1)


def normalized_weights(values: np.ndarray, bins: int, low: float, high: float) -> np.ndarray:
    """Radosavovic et al. 2019: bins over [low, high] (bin_edges), each bin total weight 1/bins, shared equally by
    its models; models outside the range get weight 0. An empty bin is an error."""
    index = bin_index(values, bins, low, high)
    inside = index >= 0
    counts = np.bincount(index[inside], minlength=bins)
    if (counts == 0).any():
        empty = int(np.flatnonzero(counts == 0)[0])
        edges = bin_edges(bins, low, high)
        raise AnalysisError(
            f"bin {empty + 1} of {bins} ({edges[empty]:.4g}-{edges[empty + 1]:.4g}) holds no model; use fewer bins "
            f"(--bins) or sweeps with more models in that complexity range"
        )
    weights = np.zeros(len(index))
    weights[inside] = 1.0 / bins / counts[index[inside]]
    return weights


def most_bins(values: list[np.ndarray], low: float, high: float, limit: int = 10) -> int:
    """The most bins over [low, high] (bin_edges), at most `limit`, that every population fills."""
    for bins in range(limit, 0, -1):
        try:
            for v in values:
                normalized_weights(v, bins, low, high)
            return bins
        except AnalysisError:
            if bins == 1:
                raise
    raise AnalysisError(f"bins: must be >= 1, got {limit}")


MIN_BINS = 5  # below this, normalizing barely corrects for complexity


class FewBinsWarning(UserWarning):
    """A normalized comparison with fewer than MIN_BINS bins."""


@dataclass(frozen=True)
class Normalization:
    """Complexity-normalized EDFs of several populations over their shared range of `metric`: the bins, and per
    population each model's bin (-1 outside the range) and weight (each bin 1/bins, shared equally by its models)."""

    metric: str
    low: float
    high: float
    bins: int
    strata: dict[str, np.ndarray]
    weights: dict[str, np.ndarray]

    @property
    def spacing(self) -> str:
        return "log-spaced" if log_spaced(self.low, self.high) else "equal-width"

    @property
    def count(self) -> str:
        """E.g. '10 log-spaced bins', '1 equal-width bin'."""
        return f"{self.bins} {self.spacing} bin{'s' if self.bins > 1 else ''}"

    @property
    def words(self) -> str:
        """E.g. '10 log-spaced bins over the shared flops range 2e+08-8e+08'."""
        return f"{self.count} over the shared {self.metric} range {self.low:.3g}-{self.high:.3g}"

    @property
    def warning(self) -> str:
        """The few-bins warning in words; empty with MIN_BINS bins or more."""
        if self.bins >= MIN_BINS:
            return ""
        return (
            f"normalized by {self.metric} with only {self.bins} bin{'s' if self.bins > 1 else ''} (fewer than "
            f"{MIN_BINS}): the normalization then barely corrects for {self.metric}"
        )


def normalize(values: dict[str, np.ndarray], bins: int | None = None, metric: str = "complexity") -> Normalization:
    """Normalize populations (name -> values of `metric`) over their shared range with `bins` bins, or the most, up
    to 10, that every population fills; warns (FewBinsWarning) below MIN_BINS bins."""
    low, high = shared_range(list(values.values()))
    if bins is None:
        bins = most_bins(list(values.values()), low, high)
    weights = {}
    for name, v in values.items():
        try:
            weights[name] = normalized_weights(v, bins, low, high)
        except AnalysisError as e:
            raise AnalysisError(f"{name}: {e}") from None
    strata = {name: bin_index(v, bins, low, high) for name, v in values.items()}
    result = Normalization(metric, low, high, bins, strata, weights)
    if result.warning:
        warnings.warn(result.warning, FewBinsWarning, stacklevel=2)
    return result


@dataclass(frozen=True)
class KS:
    statistic: float
    pvalue: float


def ks_test(
    a: np.ndarray,
    b: np.ndarray,
    strata_a: np.ndarray | None = None,
    strata_b: np.ndarray | None = None,
    resamples: int | None = None,
    seed: int = 0,
) -> KS:
    """Two-sample Kolmogorov-Smirnov test. Plain: scipy's. Normalized (strata: each model's complexity bin, -1
    outside the shared range, as bin_index gives): D is the largest gap between the normalized EDFs (each bin
    weighted equally, shared by its models), and p comes from a stratified permutation test: the labels permuted
    within bins (each sample keeps its count per bin, hence its weights), D recomputed `resamples` times (seeded),
    p = (1 + #{D* >= D}) / (1 + resamples); by default as many as permutations_for the pooled models gives."""
    if strata_a is None and strata_b is None:
        result = stats.ks_2samp(a, b)
        return KS(float(result.statistic), float(result.pvalue))
    if strata_a is None or strata_b is None:
        raise AnalysisError("ks_test: give the strata of both samples or of neither")
    pool = _Pool.of(a, b, strata_a, strata_b)
    observed = pool.gaps(pool.in_a[None, :])[0]
    resamples = resamples or permutations_for(len(pool.values))
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // len(pool.values))
    exceed = 0
    for start in range(0, resamples, chunk):
        labels = pool.permuted(min(chunk, resamples - start), rng)
        exceed += int(np.sum(pool.gaps(labels) >= observed - 1e-12))
    return KS(float(observed), (1 + exceed) / (1 + resamples))


PERMUTATIONS = (4999, 1999, 999)
PERMUTED_LABELS = 200_000_000  # a permutation costs about 35 ns a model (2-core AMD EPYC): this many take ~7 s


def permutations_for(models: int) -> int:
    """The stratified KS test's permutations for this many pooled models: the most of PERMUTATIONS whose labels stay
    within PERMUTED_LABELS, at least 999 (4,999 up to 40,000 models; 999, so a smallest p of 0.001, at 200,000).
    The p-value is exact at any count; fewer permutations only coarsen its smallest value."""
    return next((r for r in PERMUTATIONS if r * models <= PERMUTED_LABELS), PERMUTATIONS[-1])


@dataclass(frozen=True)
class _Pool:
    """Two samples' models inside the shared range, sorted by value, with what the permutation test needs."""

    values: np.ndarray
    in_a: np.ndarray  # True for a's models
    members: list[np.ndarray]  # per bin, the positions of its models
    plus: np.ndarray  # per model, its weight were it a's
    minus: np.ndarray  # per model, its weight were it b's
    ends: np.ndarray  # the last position of each run of equal values

    @classmethod
    def of(cls, a: np.ndarray, b: np.ndarray, strata_a: np.ndarray, strata_b: np.ndarray) -> _Pool:
        sa, sb = np.asarray(strata_a), np.asarray(strata_b)
        values = np.concatenate([np.asarray(a, dtype=float)[sa >= 0], np.asarray(b, dtype=float)[sb >= 0]])
        in_a = np.concatenate([np.ones(int((sa >= 0).sum()), bool), np.zeros(int((sb >= 0).sum()), bool)])
        levels, strata = np.unique(np.concatenate([sa[sa >= 0], sb[sb >= 0]]), return_inverse=True)
        count_a = np.bincount(strata[in_a], minlength=len(levels))
        count_b = np.bincount(strata[~in_a], minlength=len(levels))
        if (count_a == 0).any() or (count_b == 0).any():
            raise AnalysisError("ks_test: every bin must hold models of both samples")
        order = np.argsort(values, kind="stable")
        values, in_a, strata = values[order], in_a[order], strata[order]
        ends = np.append(np.flatnonzero(np.diff(values) > 0), len(values) - 1)
        members = [np.flatnonzero(strata == k) for k in range(len(levels))]
        k = len(levels)
        return cls(values, in_a, members, 1.0 / (k * count_a[strata]), 1.0 / (k * count_b[strata]), ends)

    def gaps(self, labels: np.ndarray) -> np.ndarray:
        """The weighted KS statistic for each row of labels (True: a's)."""
        gaps = np.cumsum(np.where(labels, self.plus, -self.minus), axis=1)[:, self.ends]
        return np.maximum(gaps.max(axis=1), -gaps.min(axis=1))

    def permuted(self, rows: int, rng: np.random.Generator) -> np.ndarray:
        """`rows` label vectors, each the observed labels permuted within every bin."""
        labels = np.empty((rows, len(self.values)), dtype=bool)
        for positions in self.members:
            labels[:, positions] = rng.permuted(np.tile(self.in_a[positions], (rows, 1)), axis=1)
        return labels


BOOTSTRAP_BLOCK = 1 << 22  # resampled model indices in memory at once (32 MB): 100,000 models draw in pieces


@dataclass(frozen=True)
class Bootstrap:
    """The paper's footnote 4: per parameter, the median and the 2.5% and 97.5% percentiles of the value of the
    best model of a random quarter of the models, over bootstrap draws; likewise of that model's error. The error's
    percentiles describe the best of a quarter, not an interval for the best error: a quarter of n models holds the
    overall best with probability 1 - (1 - 1/n)^(n/4), about 22%, so error_low is the observed minimum."""

    ranges: pd.DataFrame  # index: parameter; columns: low, median, high
    error_low: float  # 2.5% percentile of the best error of a random quarter
    error_median: float
    error_high: float  # 97.5% percentile
    best: np.ndarray  # per draw, the position (row of the frame) of its best model

    def with_range(self, column: str, values: np.ndarray) -> Bootstrap:
        """These ranges and one more: the percentiles of `values` (one per model, by position) at the draws' best
        models, for a column computed after the draws (only the winners' values are read)."""
        low_median_high = np.percentile(np.asarray(values, dtype=float)[self.best], [2.5, 50, 97.5])
        ranges = pd.concat([self.ranges, pd.DataFrame([low_median_high], [column], self.ranges.columns)])
        return replace(self, ranges=ranges)


def bootstrap_best(
    frame: pd.DataFrame, columns: list[str], fraction: float = 0.25, draws: int = 10_000, seed: int = 0
) -> Bootstrap:
    """Draw `fraction` of the models with replacement, keep the best (lowest error), `draws` times (seeded)."""
    if frame.empty:
        raise AnalysisError("no finished models to bootstrap")
    rng = np.random.default_rng(seed)
    errors = frame["error"].to_numpy(dtype=float)
    size = max(1, round(fraction * len(errors)))
    rows = max(1, BOOTSTRAP_BLOCK // size)  # draws at a time: the same stream as all at once, in bounded memory
    best = np.empty(draws, dtype=np.int64)
    for lo in range(0, draws, rows):
        picks = rng.integers(0, len(errors), size=(min(rows, draws - lo), size))
        best[lo : lo + len(picks)] = picks[np.arange(len(picks)), np.argmin(errors[picks], axis=1)]
    rows = {}
    for column in columns:
        values = frame[column].to_numpy(dtype=float)[best]
        rows[column] = np.percentile(values, [2.5, 50, 97.5])
    ranges = pd.DataFrame.from_dict(rows, orient="index", columns=["low", "median", "high"])
    e = np.percentile(errors[best], [2.5, 50, 97.5])
    return Bootstrap(ranges, float(e[0]), float(e[1]), float(e[2]), best)


def search_efficiency(errors: np.ndarray) -> pd.DataFrame:
    """Random-search efficiency: the best error among m random models (drawn with replacement), for m = 1, 2,
    4, ... up to n: its mean and its 5% and 95% quantiles, exactly (no simulation): the best of m is at or above
    the k-th lowest error with probability ((n - k + 1) / n)^m."""
    x = np.sort(np.asarray(errors, dtype=float))
    n = len(x)
    above = (n - np.arange(n + 1)) / n  # P(one draw is at or above x[k]), k = 0 .. n
    rows = []
    for m in [1 << k for k in range(int(np.log2(n)) + 1)]:
        cdf = 1 - above[1:] ** m  # P(best of m <= x[k])
        p = np.diff(cdf, prepend=0.0)
        low, high = (x[min(np.searchsorted(cdf, q - 1e-12), n - 1)] for q in (0.05, 0.95))
        rows.append({"m": m, "mean": float(p @ x), "low": low, "high": high})
    return pd.DataFrame(rows)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of p-values for a family of tests: the i-th smallest p times (m - i + 1), made
    monotone and capped at 1, in the input order."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]))
    return adjusted


def effective_n(weights: np.ndarray) -> float:
    """Kish's effective sample size of models with these weights: (sum w)^2 / sum w^2."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w**2).sum())


def edf_band(
    errors: np.ndarray, at: np.ndarray, weights: np.ndarray | None = None, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Simultaneous `level` band of the (weighted) EDF F at the points `at`: F +- c, clipped to [0, 1], where c is
    the `level` quantile of Kolmogorov's distribution (scipy's kstwo) at n, or for a weighted EDF at Kish's
    effective n (rounded down) of its models of weight > 0. A plain EDF of continuous errors holds the whole true
    curve with probability `level` exactly; a complexity-normalized one at least that (conservatively, as its
    bins' fixed weights only narrow its spread; analysis/calibration/normalized.py measures both)."""
    errors = np.asarray(errors, dtype=float)
    w = np.full(len(errors), 1.0 / len(errors)) if weights is None else np.asarray(weights, dtype=float)
    keep = w > 0
    c = _kolmogorov_quantile(level, max(1, int(np.floor(effective_n(w[keep]) + 1e-9))))
    curve = edf(errors[keep], at, w[keep] / w[keep].sum())
    return np.clip(curve - c, 0, 1), np.clip(curve + c, 0, 1)


@functools.lru_cache(maxsize=1024)
def _kolmogorov_quantile(level: float, n: int) -> float:
    """The `level` quantile of sup |F_n - F| for n models (scipy's kstwo, which solves for it slowly)."""
    return float(stats.kstwo.ppf(level, n))
