"""The complexity-normalized comparison's calibration (analysis/calibration/normalized.py): every figure within its
target, and the same simulations failing the methods they replaced (issue 23): the Kish-asymptotic p-value of the
weighted KS test, and pointwise bootstrap EDF bands."""

import numpy as np
import pytest
from scipy import stats

from analysis.calibration import normalized
from analysis.stats import edf, effective_n


@pytest.fixture(scope="module")
def quick():
    return normalized.checks(quick=True)


def test_every_normalized_figure_is_within_its_target(quick):
    kinds = [check.kind for check in quick]
    assert kinds == ["false-positive rate"] * 2 + ["power"] + ["coverage"] * 6
    assert all(check.reps == 400 for check in quick)
    out = [check.line() for check in quick if not check.passed]
    assert not out, out


def kish_asymptotic_p(pair: normalized.Pair, seed: int) -> float:
    """The replaced p-value: the gap between the normalized EDFs, referred to Kolmogorov's asymptotic distribution
    at Kish's effective sample sizes."""
    (a, b), weights = normalized.SPACES, pair.norm.weights
    errors_a, errors_b, wa, wb = pair.errors[a], pair.errors[b], weights[a], weights[b]
    points = np.concatenate([errors_a, errors_b])
    d = np.max(np.abs(edf(errors_a, points, wa / wa.sum()) - edf(errors_b, points, wb / wb.sum())))
    na, nb = effective_n(wa), effective_n(wb)
    return float(stats.kstwobign.sf(np.sqrt(na * nb / (na + nb)) * d))


def test_the_kish_asymptotic_p_value_fails_the_false_positive_check():
    checks = normalized.ks_checks(kish_asymptotic_p, 400, 0, "the replaced p-value")  # as checks(quick=True) runs
    depends = checks[0]
    assert depends.kind == "false-positive rate" and not depends.passed
    assert depends.value < 0.5 * normalized.ALPHA / 5  # far too conservative: measured 0 of 400


def pointwise_band(errors: np.ndarray, at: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The replaced band: at each point, the 2.5 and 97.5 percentiles of 1,000 bootstrap EDFs (Kish's effective n
    models drawn with probability proportional to the weights), seeded."""
    order = np.argsort(errors)
    values = errors[order]
    p = None if weights is None else weights[order] / weights.sum()
    size = len(errors) if weights is None else max(1, round(effective_n(weights)))
    picks = np.random.default_rng(0).choice(len(values), size=(1000, size), p=p)
    flat = (np.arange(1000)[:, None] * len(values) + picks).ravel()
    counts = np.bincount(flat, minlength=1000 * len(values)).reshape(1000, len(values))
    curves = np.cumsum(counts, axis=1) / size
    index = np.searchsorted(values, at, side="right") - 1
    at_points = np.where(index >= 0, curves[:, np.maximum(index, 0)], 0.0)
    low, high = np.percentile(at_points, [2.5, 97.5], axis=0)
    return low, high


@pytest.mark.parametrize("n", [normalized.SMALL, normalized.N])
def test_pointwise_bands_fail_the_coverage_check(n):
    draw = normalized.plain_curve(n)  # the first 100 of checks(quick=True)'s repetitions
    assert normalized.coverage(pointwise_band, draw, 100, 3 + n).rate < 0.92  # 0: at its ends it is the EDF itself
    assert normalized.coverage(inside(pointwise_band), draw, 100, 3 + n).rate < 0.92  # about 0.4 between them


def inside(band: normalized.Band) -> normalized.Band:
    """The band held to the truth only between the 5% and 95% quantiles of the errors: no band outside them."""

    def between(errors, at, weights):
        low, high = band(errors, at, weights)
        lo, hi = np.quantile(errors, [0.05, 0.95])
        middle = (at >= lo) & (at <= hi)
        return np.where(middle, low, 0.0), np.where(middle, high, 1.0)

    return between
