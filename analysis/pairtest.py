"""One pair of design spaces: is one's mean error lower than the other's, and by how much?

The test is the studentized (bootstrap-t) bootstrap of the mean error difference, one-sided, in the direction
observed (the space with the lower mean error is tested as the better one; `directed_holm` pays for that choice):
each space's models are resampled on their own, and p is the share of resampled pivots (difference - observed) /
Welch's standard error at least the observed Welch's t. The same draws give the 95% interval of the difference, so
a one-sided p below 0.025 and an interval above 0 say the same thing. Studentizing by each space's own variance
keeps the test at its level under unequal variances and sizes (the Behrens-Fisher problem). Above LARGE models in
the pair, Welch's t-test and interval themselves: the bootstrap-t's pivot is then Student's t to within its own
noise, and its 9,999 draws of 200,000 models took 25 s. The studentized
permutation test (Janssen 1997; Chung and Romano 2013) is exact when the spaces' errors have the same distribution
but only asymptotically valid otherwise: with 5 models of sd 3 against 15 of sd 1 it called equal means different
in 12% of simulated studies at 0.05 (two-sided), where this test did in 5% (analysis/calibration/pairs.py,
tests/test_calibration_pairs.py).

The other effect size: the probability that a model drawn from the better space beats (has a lower error than) one
drawn from the worse, Mann-Whitney's U / (n1 n2) with ties counting half, and its 95% BCa bootstrap interval; above
LARGE models in the pair, DeLong's normal interval instead (BCa's jackknife recomputes U once per model, so its
cost grows with the square of n: 20,000 models took over a minute, 200,000 would take hours; DeLong's variance
comes from the same ranks as U).

Every function takes errors with the models on the last axis and works on leading axes too (many pairs at once,
as the calibration simulations use them); each leading slice is tested as if alone, with shared random draws."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.stats import holm

DRAWS = 9_999  # bootstrap draws per test and interval
# Models in a pair (both spaces) above which its test and intervals take their large-sample forms (Welch's t,
# DeLong), not the bootstrap: on a busy 2-core machine BCa took 8 s at 3,000 and 11 s at 4,000 (DeLong 0.1 s at
# 200,000, and within 0.001 of BCa at 3,000); their level and coverage just above the limit are checked in
# analysis/calibration/pairs.py (LARGE_CASES and the large Behrens-Fisher null).
LARGE = 2_000
BATCH_VALUES = 1 << 22  # at most this many resampled errors in memory at once


@dataclass(frozen=True)
class MeanTest:
    """The test of one pair (arrays over the leading axes): `a_lower` whether the first space's mean error is the
    lower (ties: the first); `difference` the higher mean error minus the lower; `statistic` Welch's t of it;
    `pvalue` one-sided, that the lower mean is truly lower; `low`, `high` the difference's 95% interval (NaN
    below two models in a space)."""

    a_lower: np.ndarray
    difference: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    low: np.ndarray
    high: np.ndarray


def draws_for(hypotheses: int, level: float) -> int:
    """Bootstrap draws for a family of `hypotheses` tested at `level` with Holm: at least DRAWS, and enough that the
    smallest p, 1 / (draws + 1), is a tenth of Holm's strictest threshold, level / hypotheses."""
    return max(DRAWS, math.ceil(10 * hypotheses / level))


def mean_test(a: np.ndarray, b: np.ndarray, draws: int = DRAWS, seed: int = 0) -> MeanTest:
    """The studentized bootstrap test of the mean error difference of `a` and `b` in the observed direction, with
    the difference's 95% interval from the same draws. Negating both spaces' errors where `b` has the lower mean
    makes every slice's test one-sided 'higher minus lower'. A draw whose pivot is undefined (both resampled spaces
    constant) counts against the claim; with fewer than two models in a space there is no test: p = 1. Above LARGE
    models in the pair: Welch's one-sided t-test (Welch-Satterthwaite degrees of freedom) and its interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a_lower = _a_lower(a, b)
    if min(a.shape[-1], b.shape[-1]) < 2:
        return _no_test(a, b, a_lower)
    sign = np.where(a_lower, 1.0, -1.0)[..., None]
    lower, higher = sign * a, sign * b
    observed, scale = _difference(higher, lower), _standard_error(higher, lower)
    if a.shape[-1] + b.shape[-1] > LARGE:
        return _welch(a_lower, observed, scale, higher, lower)

    def pivot(high: np.ndarray, low: np.ndarray, axis: int) -> np.ndarray:
        return (_difference(high, low, axis) - observed[..., None]) / _standard_error(high, low, axis)

    with np.errstate(divide="ignore", invalid="ignore"):
        result = _bootstrap((higher, lower), pivot, "percentile", draws, seed)
        t = observed / scale
        against = (result.bootstrap_distribution >= t[..., None]) | np.isnan(result.bootstrap_distribution)
    interval = result.confidence_interval
    pvalue = (1 + against.sum(axis=-1)) / (1 + draws)
    return MeanTest(a_lower, observed, t, pvalue, observed - interval.high * scale, observed - interval.low * scale)


def _welch(
    a_lower: np.ndarray, observed: np.ndarray, scale: np.ndarray, higher: np.ndarray, lower: np.ndarray
) -> MeanTest:
    """Welch's one-sided t-test of the observed difference and its 95% interval; where the standard error is 0 (both
    spaces constant), p = 1 and no interval, as where every bootstrap draw is undefined."""
    n_h, n_l = higher.shape[-1], lower.shape[-1]
    v_h, v_l = higher.var(axis=-1, ddof=1) / n_h, lower.var(axis=-1, ddof=1) / n_l
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (v_h + v_l) ** 2 / (v_h**2 / (n_h - 1) + v_l**2 / (n_l - 1))
        t = np.where(scale > 0, observed / scale, np.nan)
        half = np.where(scale > 0, stats.t.ppf(0.975, df) * scale, np.nan)
        pvalue = np.where(scale > 0, stats.t.sf(t, df), 1.0)
    return MeanTest(a_lower, observed, t, pvalue, observed - half, observed + half)


def _no_test(a: np.ndarray, b: np.ndarray, a_lower: np.ndarray) -> MeanTest:
    """p = 1, no statistic and no interval; the difference of the means where both spaces have a model."""
    nan = np.full(a_lower.shape, np.nan)
    difference = np.abs(_difference(a, b)) if min(a.shape[-1], b.shape[-1]) else nan
    return MeanTest(a_lower, difference, nan, np.ones(a_lower.shape), nan, nan)


def directed_holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's adjustment of P pairs' one-sided p-values in the observed directions (along the first axis) over the
    2P directed hypotheses ("X's mean error is not lower than Y's", both ways), so choosing the direction after
    seeing the data is paid for. The unobserved directions enter with p = 1: the two one-sided p-values of the same
    draws sum to more than 1, so for an observed p below 1/2 this changes nothing, and it can only raise the rest."""
    return np.apply_along_axis(lambda p: holm(np.concatenate([p, np.ones_like(p)]))[: len(p)], 0, pvalues)


def beats(better: np.ndarray, worse: np.ndarray, axis: int = -1) -> np.ndarray:
    """The probability that a model drawn from `better` has a lower error than one drawn from `worse`, ties
    counting half: Mann-Whitney's U of `worse` / (n1 n2)."""
    u = stats.mannwhitneyu(worse, better, axis=axis, method="asymptotic").statistic
    return u / (better.shape[axis] * worse.shape[axis])


def beats_interval(
    better: np.ndarray, worse: np.ndarray, draws: int = DRAWS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """95% interval of `beats`: BCa bootstrap, or DeLong's above LARGE models; NaN where every draw gives the
    same value (e.g. no overlap), or DeLong's standard error is 0."""
    better, worse = np.asarray(better, dtype=float), np.asarray(worse, dtype=float)
    if better.shape[-1] + worse.shape[-1] > LARGE:
        return delong_interval(better, worse)
    interval = _bootstrap((better, worse), beats, "BCa", draws, seed).confidence_interval
    return interval.low, interval.high


def delong_interval(better: np.ndarray, worse: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's (1988) normal interval of `beats`, clipped to [0, 1]: its variance from each model's share of the
    other space's models it beats (ties half), got from its rank in the pooled models less its rank in its own."""
    n_b, n_w = better.shape[-1], worse.shape[-1]
    pooled = stats.rankdata(np.concatenate([better, worse], axis=-1), axis=-1)
    below_b = pooled[..., :n_b] - stats.rankdata(better, axis=-1)  # per better model: worse models below it
    below_w = pooled[..., n_b:] - stats.rankdata(worse, axis=-1)  # per worse model: better models below it
    v_b, v_w = 1 - below_b / n_w, below_w / n_b
    theta = v_w.mean(axis=-1)
    se = np.sqrt(v_b.var(axis=-1, ddof=1) / n_b + v_w.var(axis=-1, ddof=1) / n_w)
    half = stats.norm.ppf(0.5 + level / 2) * np.where(se > 0, se, np.nan)
    return np.clip(theta - half, 0, 1), np.clip(theta + half, 0, 1)


def _bootstrap(data: tuple[np.ndarray, np.ndarray], statistic, method: str, draws: int, seed: int):
    """scipy's bootstrap of `statistic` (vectorized, each space resampled on its own along the last axis) at 95%,
    seeded; where the draws are degenerate its interval is NaN, without a warning."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        return stats.bootstrap(
            data,
            statistic,
            vectorized=True,
            n_resamples=draws,
            batch=max(1, BATCH_VALUES // (data[0].size + data[1].size)),
            method=method,
            axis=-1,
            rng=np.random.default_rng(seed),
        )


def _a_lower(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether a's mean error is the lower (ties, and a space with no models: True)."""
    if min(a.shape[-1], b.shape[-1]) == 0:
        return np.ones(np.broadcast_shapes(a.shape[:-1], b.shape[:-1]), dtype=bool)
    return a.mean(axis=-1) <= b.mean(axis=-1)


def _difference(higher: np.ndarray, lower: np.ndarray, axis: int = -1) -> np.ndarray:
    return higher.mean(axis=axis) - lower.mean(axis=axis)


def _standard_error(higher: np.ndarray, lower: np.ndarray, axis: int = -1) -> np.ndarray:
    """Welch's standard error of the mean difference."""
    return np.sqrt(
        higher.var(axis=axis, ddof=1) / higher.shape[axis] + lower.var(axis=axis, ddof=1) / lower.shape[axis]
    )
