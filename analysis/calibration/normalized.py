"""Calibration of the complexity-normalized comparison and of the EDF bands, by seeded simulation on the report's
code path (analysis.stats.normalize for the shared range, the bins and the weights; ks_test with each model's bin;
edf_band as analysis.plots.edf_plot draws it).

Two spaces of n models each sample flops over [LOW, HIGH] GFLOPs differently: "uniform" evenly, "skewed" towards
cheap models (density falling linearly to 0 at HIGH). A model's error is 60 - slope x flops + N(0, 1), plus `shift`
for the skewed space: slope SLOPE is the null where error depends on complexity (why one normalizes), slope 0 the
simple null, shift > 0 a real difference (power)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from analysis.calibration import Check
from analysis.stats import FewBinsWarning, Normalization, bin_edges, edf, edf_band, ks_test, normalize

N = 200  # models per space
SMALL = 32  # models per space in the main job
LOW, HIGH = 0.2, 1.0  # GFLOPs
ALPHA = 0.05
SLOPE = 20.0  # error points per GFLOP in the null where error depends on complexity
SHIFT = 0.5  # error points added to the skewed space for the power figure
SPACES = ("uniform", "skewed")
NODES, WEIGHTS = np.polynomial.legendre.leggauss(16)  # Gauss-Legendre on [-1, 1], for the true normalized CDF


@dataclass(frozen=True)
class Pair:
    """One simulated comparison: each space's errors, normalized by flops as the report normalizes them."""

    errors: dict[str, np.ndarray]
    norm: Normalization
    slope: float


PValue = Callable[[Pair, int], float]  # a pair and a seed -> the normalized comparison's p-value
Band = Callable[[np.ndarray, np.ndarray, np.ndarray | None], tuple[np.ndarray, np.ndarray]]  # errors, at, weights


def draw_pair(rng: np.random.Generator, slope: float, shift: float = 0.0, n: int = N) -> Pair:
    """Two spaces' errors (the module's setting), normalized by their flops."""
    flops = {"uniform": rng.uniform(LOW, HIGH, n), "skewed": LOW + (HIGH - LOW) * rng.beta(1, 2, n)}
    errors = {name: 60 - slope * f + rng.normal(0, 1, n) for name, f in flops.items()}
    errors["skewed"] = errors["skewed"] + shift
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewBinsWarning)  # a few small draws fill fewer than 5 bins, as in a report
        return Pair(errors, normalize(flops, metric="flops"), slope)


def permutation_p(resamples: int) -> PValue:
    """The report's normalized p-value: ks_test with each model's bin, `resamples` permutations."""

    def p(pair: Pair, seed: int) -> float:
        (a, b), strata = SPACES, pair.norm.strata
        return ks_test(pair.errors[a], pair.errors[b], strata[a], strata[b], resamples=resamples, seed=seed).pvalue

    return p


def rejection_rate(pvalue: PValue, slope: float, shift: float, reps: int, seed: int) -> float:
    """The fraction of `reps` simulated pairs whose p-value is below ALPHA."""
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(reps):
        pair = draw_pair(rng, slope, shift)
        rejected += pvalue(pair, int(rng.integers(2**31))) < ALPHA
    return rejected / reps


def true_normalized_cdf(x: np.ndarray, pair: Pair) -> np.ndarray:
    """The skewed space's normalized error CDF at x over the pair's bins: the mean over bins of the error CDF
    within each bin (Gauss-Legendre over the flops density inside the bin)."""
    edges = bin_edges(pair.norm.bins, pair.norm.low, pair.norm.high)
    total = np.zeros(len(x))
    for left, right in zip(edges[:-1], edges[1:]):
        f = (left + right) / 2 + (right - left) / 2 * NODES
        density = WEIGHTS * (1 - (f - LOW) / (HIGH - LOW))
        total += special.ndtr(x[:, None] - (60 - pair.slope * f)[None, :]) @ density / density.sum()
    return total / pair.norm.bins


@dataclass(frozen=True)
class Curve:
    """One simulated EDF: the errors, their weights (None: plain) and the true CDF."""

    errors: np.ndarray
    weights: np.ndarray | None
    truth: Callable[[np.ndarray], np.ndarray]


def plain_curve(n: int) -> Callable[[np.random.Generator], Curve]:
    """n models with N(40, 3) errors."""
    return lambda rng: Curve(rng.normal(40, 3, n), None, lambda at: special.ndtr((at - 40) / 3))


def normalized_curve(n: int, slope: float) -> Callable[[np.random.Generator], Curve]:
    """The skewed space's normalized EDF in a pair of n models per space."""

    def draw(rng: np.random.Generator) -> Curve:
        pair = draw_pair(rng, slope, n=n)
        return Curve(pair.errors["skewed"], pair.norm.weights["skewed"], lambda at: true_normalized_cdf(at, pair))

    return draw


@dataclass(frozen=True)
class Coverage:
    rate: float  # the fraction of repetitions whose band held the whole true curve
    half_width: float  # the band's mean half-width
    needed: float  # the 95th percentile of sup |EDF - truth|: the narrowest constant band that would cover 95%


def coverage(band: Band, draw: Callable[[np.random.Generator], Curve], reps: int, seed: int) -> Coverage:
    """Simulate `reps` curves; check the whole true CDF against the band at each model's error and just below it
    (where a step band's distance to a continuous increasing curve is largest)."""
    rng = np.random.default_rng(seed)
    hits, widths, deviations = 0, [], []
    for _ in range(reps):
        curve = draw(rng)
        w = np.ones(len(curve.errors)) if curve.weights is None else curve.weights
        x = np.sort(curve.errors[w > 0])
        at = np.concatenate([x, np.nextafter(x, -np.inf)])
        low, high = band(curve.errors, at, curve.weights)
        truth = curve.truth(at)
        hits += bool(np.all((low <= truth) & (truth <= high)))
        widths.append(float(np.max(high - low)) / 2)
        deviations.append(float(np.max(np.abs(edf(curve.errors, at, w / w.sum()) - truth))))
    return Coverage(hits / reps, float(np.mean(widths)), float(np.percentile(deviations, 95)))


def _band_check(name: str, value: Coverage, conservative: bool, reps: int, setting: str) -> Check:
    """A band's coverage: 0.92-0.98 where the band is exact, 0.95-1 where it is conservative by design."""
    detail = f"{setting}; mean half-width {value.half_width:.3f}, narrowest that covers 95%: {value.needed:.3f}"
    return Check(name, "coverage", value.rate, *((0.95, 1.0) if conservative else (0.92, 0.98)), reps, detail)


def ks_checks(pvalue: PValue, reps: int, seed: int, setting: str) -> list[Check]:
    """The normalized test's false-positive rates (error dependent on and independent of flops) and its power."""
    depends = f"error 60 - {SLOPE:g} x GFLOPs + N(0, 1)"
    cases = [
        (f"normalized KS, {depends}", "false-positive rate", SLOPE, 0.0, (0.5 * ALPHA, 1.5 * ALPHA)),
        ("normalized KS, error independent of flops", "false-positive rate", 0.0, 0.0, (0.5 * ALPHA, 1.5 * ALPHA)),
        (f"normalized KS, skewed space {SHIFT:g} points worse, {depends}", "power", SLOPE, SHIFT, (0.5, 1.0)),
    ]
    return [
        Check(name, kind, rejection_rate(pvalue, slope, shift, reps, seed + i), *target, reps, setting)
        for i, (name, kind, slope, shift, target) in enumerate(cases)
    ]


def band_checks(band: Band, reps: int, seed: int) -> list[Check]:
    """The plain and normalized EDF bands' coverage. The plain band is exact, and so is the normalized one where
    error does not depend on complexity; where it does, the normalized band is conservative by design (target
    0.95-1, its width beside the narrowest that would do)."""
    out = []
    for n in (SMALL, N):
        value = coverage(band, plain_curve(n), reps, seed + n)
        out.append(_band_check(f"simultaneous EDF band, n = {n}", value, False, reps, "N(40, 3) errors"))
    for n in (SMALL, N):
        for slope in (SLOPE, 0.0):
            value = coverage(band, normalized_curve(n, slope), reps, seed + 1 + n + int(slope))
            words = f"error 60 - {SLOPE:g} x GFLOPs + N(0, 1)" if slope else "error independent of flops"
            name = f"simultaneous normalized EDF band, n = {n} per space, {words}"
            out.append(_band_check(name, value, bool(slope), reps, "the skewed space, bins as the report picks them"))
    return out


def checks(quick: bool = False, seed: int = 0) -> list[Check]:
    """The normalized KS test's false-positive rates and power, and the EDF bands' coverage, as the report runs
    them (quick: 400 repetitions and 499 permutations, which leave a permutation p-value exact; else 2,000 and the
    report's 4,999)."""
    reps, resamples = (400, 499) if quick else (2000, 4999)
    setting = f"{N} models per space, flops uniform vs skewed, {resamples} permutations"
    return ks_checks(permutation_p(resamples), reps, seed, setting) + band_checks(edf_band, reps, seed + 3)
