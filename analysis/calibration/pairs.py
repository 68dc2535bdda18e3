"""Calibration of the pair comparisons, by seeded simulation on the real code paths: the verdict's "X better than Y"
(analysis.verdict.pair_tests: the one-sided studentized bootstrap test, Holm over the directed hypotheses), its
two 95% intervals (analysis.pairtest), and the rule of `anynet study --until-separated` (analysis.sequential.decide).

A simulated space is a scipy distribution of model errors and a number of models: normal, or skewed (gamma with
shape 2, a right tail of bad models). Each repetition is an independent study; a simulation runs its repetitions
at once through the same functions (their leading axis), which then share the bootstrap draws across repetitions:
each repetition's p-value and interval are what they would be alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import integrate, stats

from analysis import sequential
from analysis.calibration import Check
from analysis.pairtest import DRAWS, beats_interval, mean_test
from analysis.verdict import pair_tests

ALPHA = 0.05
RATE = (0.5 * ALPHA, 1.5 * ALPHA)  # target of a false-positive rate meant to be alpha
AT_MOST = (0.0, ALPHA)  # target of a rule meant to be conservative
COVERAGE = (0.92, 0.98)
GAMMA_SHAPE = 2.0  # the skewed spaces' shape: skewness 2 / sqrt(2) = 1.4


@dataclass(frozen=True)
class Space:
    """A simulated design space: its models' error distribution (frozen scipy) and how many models a study has."""

    dist: Any
    n: int
    words: str

    def draw(self, rng: np.random.Generator, reps: int, n: int | None = None) -> np.ndarray:
        """`reps` studies' errors, (reps, n)."""
        return self.dist.rvs(size=(reps, n or self.n), random_state=rng)


def normal(mean: float, sd: float, n: int) -> Space:
    return Space(stats.norm(mean, sd), n, f"N({mean:g}, {sd:g}), n {n}")


def skewed(mean: float, sd: float, n: int) -> Space:
    """Gamma errors with this mean and sd, skewed to the right."""
    scale = sd / np.sqrt(GAMMA_SHAPE)
    dist = stats.gamma(GAMMA_SHAPE, loc=mean - GAMMA_SHAPE * scale, scale=scale)
    return Space(dist, n, f"skewed (gamma) mean {mean:g} sd {sd:g}, n {n}")


Claims = Callable[[Mapping[str, np.ndarray], int], np.ndarray]  # errors (reps, n) per space, seed -> any "better"
Interval = Callable[[np.ndarray, np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]  # better, worse, draws, seed
Rule = Callable[[Mapping[str, np.ndarray], Sequence[tuple[str, str]], int, int], np.ndarray]  # see sequential_rule


def verdict_claims(draws: int | None = None) -> Claims:
    """Whether the verdict calls any pair "better" at ALPHA in each repetition (its Holm p below ALPHA); `draws`
    per test (None: as the verdict picks them)."""

    def claims(errors: Mapping[str, np.ndarray], seed: int) -> np.ndarray:
        return np.any([t.p_holm < ALPHA for t in pair_tests(errors, seed, draws)], axis=0)

    return claims


def claim_rate(spaces: Mapping[str, Space], claims: Claims, reps: int, seed: int) -> float:
    """The fraction of `reps` simulated studies of `spaces` in which some pair is called better."""
    rng = np.random.default_rng(seed)
    errors = {name: space.draw(rng, reps) for name, space in spaces.items()}
    return float(np.mean(claims(errors, seed)))


def verdict_interval(better: np.ndarray, worse: np.ndarray, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The verdict's 95% interval of mean(worse) - mean(better): its test's (analysis.pairtest.mean_test)."""
    test = mean_test(better, worse, draws, seed)
    return test.low, test.high


def mean_coverage(
    better: Space, worse: Space, reps: int, draws: int, seed: int, interval: Interval = verdict_interval
) -> float:
    """The fraction of `reps` studies whose 95% interval of the mean difference holds the true one."""
    rng = np.random.default_rng(seed)
    low, high = interval(better.draw(rng, reps), worse.draw(rng, reps), draws, seed)
    truth = worse.dist.mean() - better.dist.mean()
    return float(np.mean((low <= truth) & (truth <= high)))


def true_beats(better: Space, worse: Space) -> float:
    """P(an error drawn from `better` is below one drawn from `worse`): the integral of f_better x sf_worse over all
    but 1e-12 of `better`'s mass at each end."""
    low, high = better.dist.ppf(1e-12), better.dist.isf(1e-12)
    value, _ = integrate.quad(lambda x: better.dist.pdf(x) * worse.dist.sf(x), low, high, limit=200)
    return float(value)


def beats_coverage(better: Space, worse: Space, reps: int, draws: int, seed: int) -> float:
    """The fraction of `reps` studies whose 95% interval of P(better beats worse) holds the true one."""
    rng = np.random.default_rng(seed)
    low, high = beats_interval(better.draw(rng, reps), worse.draw(rng, reps), draws, seed)
    truth = true_beats(better, worse)
    return float(np.mean((low <= truth) & (truth <= high)))


def sequential_rule(draws: int | None = None) -> Rule:
    """analysis.sequential.decide at ALPHA: (errors at a look, pairs, looks, seed) -> which pairs separate; `draws`
    per test (None: as run_until_separated picks them)."""

    def rule(errors: Mapping[str, np.ndarray], pairs: Sequence[tuple[str, str]], looks: int, seed: int) -> np.ndarray:
        return sequential.decide(errors, pairs, ALPHA, looks, draws, seed).separates

    return rule


def separations(
    spaces: Mapping[str, Space],
    pairs: Sequence[tuple[str, str]],
    schedule: Sequence[int],
    rule: Rule,
    reps: int,
    seed: int,
) -> np.ndarray:
    """(pairs, reps): whether each pair is ever separated in `reps` simulated sequential studies, each look's
    errors the first n of the study's models (the sampler's prefix property), as run_until_separated sees them."""
    rng = np.random.default_rng(seed)
    errors = {name: space.draw(rng, reps, schedule[-1]) for name, space in spaces.items()}
    ever = np.zeros((len(pairs), reps), dtype=bool)
    for look, n in enumerate(schedule, start=1):
        ever |= rule({name: e[:, :n] for name, e in errors.items()}, pairs, len(schedule), seed + look)
    return ever


NULLS = {  # equal mean errors: a "better" is a false positive
    "same distribution": {"A": normal(40, 3, 30), "B": normal(40, 3, 30)},
    "Behrens-Fisher null, normal": {"A": normal(40, 3, 20), "B": normal(40, 1, 60)},
    "Behrens-Fisher null, skewed": {"A": skewed(40, 3, 20), "B": skewed(40, 1, 60)},
    "Behrens-Fisher null, small spaces": {"A": normal(40, 3, 5), "B": normal(40, 1, 15)},
    "Behrens-Fisher null, large spaces (Welch's t-test)": {"A": skewed(40, 3, 700), "B": skewed(40, 1, 1400)},
    "family-wise, 4 equal spaces (6 pairs)": {name: normal(40, 3, 20) for name in "ABCD"},
}
MEAN_CASES = [  # (better, worse): small n, skew, unequal variances and sizes
    (skewed(40, 3, 10), skewed(41, 1, 10)),
    (skewed(40, 1, 20), skewed(41, 3, 60)),
    (normal(40, 3, 60), normal(41, 1, 20)),
]
BEATS_CASES = MEAN_CASES[:2]
# Just above pairtest.LARGE, where the mean difference's interval is Welch's and P(beats)'s DeLong's: skew and unequal
# variances and sizes.
LARGE_CASES = [(skewed(40, 1, 700), skewed(40.2, 3, 1400)), (normal(40, 3, 1400), normal(40.2, 1, 700))]
SEQUENTIAL_PAIRS = (("A", "B"), ("A", "C"), ("B", "C"))
SCHEDULE = (5, 10, 20, 40)  # models per space at each of the 4 looks


def pair_checks(claims: Claims, reps: int, seed: int, setting: str) -> list[Check]:
    """The false-positive rate of "X better than Y" under each of NULLS (the last family-wise over 6 pairs; the one before
    above pairtest.LARGE models, by Welch's t-test)."""
    out = []
    for i, (name, spaces) in enumerate(NULLS.items()):
        words = "; ".join(f"{n}: {s.words}" for n, s in spaces.items()) if len(spaces) == 2 else spaces["A"].words
        rate = claim_rate(spaces, claims, reps, seed + i)
        check = Check(f'"better" at {ALPHA:g}, {name}', "false-positive rate", rate, *RATE, reps, f"{words}; {setting}")
        out.append(check)
    return out


def interval_checks(reps: int, draws: int, seed: int) -> list[Check]:
    """The coverage of the mean difference's interval (MEAN_CASES by the studentized bootstrap, LARGE_CASES by
    Welch) and of P(beats)'s (BEATS_CASES by BCa, LARGE_CASES by DeLong)."""
    out = []
    for i, (better, worse) in enumerate(MEAN_CASES):
        value = mean_coverage(better, worse, reps, draws, seed + i)
        words = f"{better.words} vs {worse.words}; {draws:,} draws"
        out.append(Check("mean difference, 95% studentized bootstrap", "coverage", value, *COVERAGE, reps, words))
    for i, (better, worse) in enumerate(LARGE_CASES):
        value = mean_coverage(better, worse, reps, draws, seed + 30 + i)
        words = f"{better.words} vs {worse.words}"
        out.append(Check("mean difference, 95% Welch", "coverage", value, *COVERAGE, reps, words))
    for i, (better, worse) in enumerate(BEATS_CASES):
        value = beats_coverage(better, worse, reps, draws, seed + 10 + i)
        words = f"{better.words} vs {worse.words}, true P(beats) {true_beats(better, worse):.2f}; {draws:,} draws"
        out.append(Check("P(better beats worse), 95% BCa bootstrap", "coverage", value, *COVERAGE, reps, words))
    for i, (better, worse) in enumerate(LARGE_CASES):
        value = beats_coverage(better, worse, reps, draws, seed + 20 + i)
        words = f"{better.words} vs {worse.words}, true P(beats) {true_beats(better, worse):.2f}"
        out.append(Check("P(better beats worse), 95% DeLong", "coverage", value, *COVERAGE, reps, words))
    return out


def sequential_checks(rule: Rule, reps: int, seed: int, setting: str) -> list[Check]:
    """The sequential rule with 3 pairs and 4 looks (SCHEDULE): its family-wise false-positive rate with three
    equal spaces (target at most alpha), and its power where C is 1 sd worse than A and B (both A:C and B:C
    separated by the last look)."""
    null = {name: normal(40, 3, SCHEDULE[-1]) for name in "ABC"}
    words = f"3 pairs, looks at n = {', '.join(map(str, SCHEDULE))}; {setting}"
    rate = float(np.mean(separations(null, SEQUENTIAL_PAIRS, SCHEDULE, rule, reps, seed).any(axis=0)))
    name = f"sequential rule at {ALPHA:g}, 3 equal spaces"
    out = [Check(name, "false-positive rate", rate, *AT_MOST, reps, f"N(40, 3); {words}")]
    shifted = {**null, "C": normal(43, 3, SCHEDULE[-1])}
    power = float(np.mean(separations(shifted, SEQUENTIAL_PAIRS, SCHEDULE, rule, reps, seed + 1)[1:].all(axis=0)))
    name = f"sequential rule at {ALPHA:g}, C 1 sd worse than A and B"
    return [*out, Check(name, "power", power, 0.5, 1.0, reps, f"A:C and B:C both separated; {words}")]


def checks(quick: bool = False, seed: int = 0) -> list[Check]:
    """Every pair figure. Quick: 999 bootstrap draws per test and interval, 1,000 repetitions of each false-positive
    rate and 400 of the rest; else the draws the verdict and the sequential rule take (9,999 or more; the intervals
    9,999), 5,000 and 2,000 repetitions."""
    reps, draws = (400, 999) if quick else (2000, None)
    setting = f"{draws:,} draws" if draws else "the tool's draws"
    return [
        *pair_checks(verdict_claims(draws), 5 * reps // 2, seed, setting),
        *interval_checks(reps, draws or DRAWS, seed + 100),
        *sequential_checks(sequential_rule(draws), reps, seed + 200, setting),
    ]
