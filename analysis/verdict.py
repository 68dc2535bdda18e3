"""The verdict of a comparison, in words: for every pair of design spaces, which has the lower mean error, by how
much, and whether one test of exactly that separates them.

"X better than Y" means: X's mean error is lower, by the one-sided studentized bootstrap test of the mean error
difference (analysis.pairtest; Welch's t-test above pairtest.LARGE models a pair) in the observed direction, with its p Holm-adjusted over the 2P directed hypotheses
of the P pairs below the level stated. Each pair also gets its effect sizes with 95% intervals (the mean
difference, from the test's draws; the probability that a model of X beats one of Y) and the two-sample KS test,
which says whether the EDFs differ in shape or place, never which space is better."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from analysis.pairtest import DRAWS, LARGE, MeanTest, beats, beats_interval, directed_holm, draws_for, mean_test
from analysis.stats import ks_test

LEVELS = (0.01, 0.05)  # the levels the headline states, strictest first
MIN_INTERVAL = 10  # models per space below which no interval is given


@dataclass(frozen=True)
class PairTest:
    """One pair's test as the verdict runs it, and its p Holm-adjusted over the directed hypotheses of all pairs
    (arrays: one value per leading slice of the errors)."""

    a: str
    b: str
    test: MeanTest
    p_holm: np.ndarray
    draws: int  # the test's bootstrap draws


@dataclass(frozen=True)
class PairVerdict:
    """One pair of spaces: `better` has the lower mean error; `difference` is its mean error's lead in points."""

    better: str
    worse: str
    n_better: int
    n_worse: int
    mean_better: float
    mean_worse: float
    difference: float  # mean error of `worse` minus that of `better`, percentage points
    low: float  # 95% studentized bootstrap interval of the difference (NaN: fewer than MIN_INTERVAL models)
    high: float
    statistic: float  # Welch's t of the difference
    pvalue: float  # the one-sided studentized bootstrap test's p
    p_holm: float  # Holm-adjusted over the 2P directed hypotheses
    beats: float  # P(a model of `better` has a lower error than one of `worse`), ties half
    beats_low: float  # its 95% interval, BCa or DeLong's (pairtest.beats_interval; NaN: fewer than MIN_INTERVAL models, or no overlap)
    beats_high: float
    ks_statistic: float  # two-sample KS D
    ks_pvalue: float  # not adjusted

    @property
    def resolved(self) -> bool:
        return self.p_holm < LEVELS[-1]

    @property
    def confidence(self) -> str:
        for level in LEVELS:
            if self.p_holm < level:
                return f"separated at p < {level:g}"
        return f"not resolved at this n (p = {self.p_holm:.2g}, Holm-adjusted)"


@dataclass(frozen=True)
class Verdict:
    pairs: list[PairVerdict]  # in the order of the sweeps' pairs
    headline: list[str]  # the answer: the ranking, the pairs separated and those not resolved
    details: list[str]  # one sentence group per pair, most certain first, then what p means

    @property
    def lines(self) -> list[str]:
        return [*self.headline, *self.details]


def pair_tests(errors: Mapping[str, np.ndarray], seed: int = 0, draws: int | None = None) -> list[PairTest]:
    """Every pair of spaces (in the order of the names' combinations) with its test and Holm p; the errors' last
    axis holds the models, leading axes independent comparisons (as the calibration simulates them). `draws` per
    test: None takes enough for the strictest level over the pairs' directed hypotheses (draws_for)."""
    pairs = list(combinations(errors, 2))
    if not pairs:
        return []
    draws = draws or draws_for(2 * len(pairs), LEVELS[0])
    tests = [mean_test(errors[a], errors[b], draws, seed + i) for i, (a, b) in enumerate(pairs)]
    adjusted = directed_holm(np.stack([t.pvalue for t in tests]))
    return [PairTest(a, b, t, p, draws) for (a, b), t, p in zip(pairs, tests, adjusted, strict=True)]


def verdict(errors: dict[str, np.ndarray], measured: dict[str, str], seed: int = 0) -> Verdict:
    """The verdict on the errors per sweep name; `measured` names each sweep's error ("validation", "test")."""
    errors = {name: np.asarray(e, dtype=float) for name, e in errors.items()}
    names = list(errors)
    tests = pair_tests(errors, seed)
    results = [_pair(errors, t, seed) for t in tests]
    by_mean = sorted(names, key=lambda n: np.mean(errors[n]))
    ranking = ", ".join(f"{n} {np.mean(errors[n]):.2f}% (n = {len(errors[n])})" for n in by_mean)
    headline = [f"Mean {_error_words(measured, names)}, lowest first: {ranking}."]
    if not results:
        return Verdict([], [*headline, "One sweep alone: no pair to test."], [])
    for level in LEVELS:
        separated = [r for r in results if r.confidence == f"separated at p < {level:g}"]
        worse = {b: sorted((r.worse for r in separated if r.better == b), key=by_mean.index) for b in by_mean}
        groups = [f"{b} better than {', '.join(w)}" for b, w in worse.items() if w]
        if groups:
            headline.append(f"Separated at p < {level:g} (Holm-adjusted): {'; '.join(groups)}.")
    unresolved = [f"{r.better} vs {r.worse} (p = {r.p_holm:.2g})" for r in results if not r.resolved]
    headline.append(
        f"Not resolved at this n: {'; '.join(unresolved)}."
        if unresolved
        else f"Every pair is separated at p < {LEVELS[-1]:g}."
    )
    details = [_detail(r, measured) for r in sorted(results, key=lambda r: r.p_holm)]
    details.append(_what_p_is(len(results), tests[0].draws))
    return Verdict(results, headline, details)


def _pair(errors: dict[str, np.ndarray], tested: PairTest, seed: int) -> PairVerdict:
    """The pair's verdict, `better` first, with its effect sizes and intervals and the KS test."""
    better, worse = (tested.a, tested.b) if tested.test.a_lower else (tested.b, tested.a)
    eb, ew = errors[better], errors[worse]
    low = high = beats_low = beats_high = np.nan
    if min(len(eb), len(ew)) >= MIN_INTERVAL:
        low, high = tested.test.low, tested.test.high
        beats_low, beats_high = beats_interval(eb, ew, DRAWS, seed)
    ks = ks_test(eb, ew)
    return PairVerdict(
        better=better,
        worse=worse,
        n_better=len(eb),
        n_worse=len(ew),
        mean_better=float(eb.mean()),
        mean_worse=float(ew.mean()),
        difference=float(ew.mean() - eb.mean()),
        low=float(low),
        high=float(high),
        statistic=float(tested.test.statistic),
        pvalue=float(tested.test.pvalue),
        p_holm=float(tested.p_holm),
        beats=float(beats(eb, ew)),
        beats_low=float(beats_low),
        beats_high=float(beats_high),
        ks_statistic=ks.statistic,
        ks_pvalue=ks.pvalue,
    )


def _detail(r: PairVerdict, measured: dict[str, str]) -> str:
    """One pair in words: the claim, the mean difference, the test, the probability of beating, the KS test."""
    lead = f"{r.better} better than {r.worse}" if r.resolved else f"{r.better} vs {r.worse}"
    ks = (
        "the EDFs differ in shape or place"
        if r.ks_pvalue < LEVELS[-1]
        else "no evidence at p < 0.05 that the EDFs differ in shape or place"
    )
    kind = "Welch's t-test (t" if r.n_better + r.n_worse > LARGE else "studentized bootstrap test (Welch's t"
    test = (
        f"{kind} = {r.statistic:.2f}): one-sided p = {r.pvalue:.2g}, Holm p = {r.p_holm:.2g}"
        if min(r.n_better, r.n_worse) >= 2
        else "no test: fewer than two models in a space"
    )
    return (
        f"{lead}: {r.confidence}. Mean {_error_words(measured, [r.better, r.worse])} {r.difference:.2f} points "
        f"lower for {r.better} {_interval(r.low, r.high, r)}, n = {r.n_better} vs {r.n_worse}; {test}. A model "
        f"of {r.better} beats one of {r.worse} with probability {r.beats:.2f} "
        f"{_interval(r.beats_low, r.beats_high, r)}. KS: {ks} (D = {r.ks_statistic:.2f}, p = {r.ks_pvalue:.2g}, "
        "not adjusted)."
    )


def _interval(low: float, high: float, r: PairVerdict) -> str:
    """'(95% interval LOW to HIGH)', or why there is none."""
    if min(r.n_better, r.n_worse) < MIN_INTERVAL:
        return f"(no interval: fewer than {MIN_INTERVAL} models in a space)"
    if not np.isfinite(low) or not np.isfinite(high):
        if r.n_better + r.n_worse > LARGE:
            return "(no interval: its estimated spread is zero)"
        return "(no interval: every bootstrap draw gives the same value)"
    return f"(95% interval {low:.2f} to {high:.2f})"


def _what_p_is(pairs: int, draws: int) -> str:
    return (
        f"p: one-sided studentized bootstrap test of the mean error difference (Welch's t against {draws:,} "
        f"bootstrap draws of each space's models, studentized the same way; Welch's t-test itself where a pair has "
        f"over {LARGE:,} models), in the direction observed; Holm p: "
        f"Holm's adjustment over the 2 x {pairs} = {2 * pairs} directed hypotheses (each pair both ways, so "
        f"choosing the direction after looking is paid for). A pair is called better only with Holm p below the "
        f"level stated. 95% intervals: studentized bootstrap for the mean difference (the test's draws; Welch's over "
        f"{LARGE:,} models), BCa "
        f"bootstrap ({DRAWS:,} draws) for the probability of beating (Mann-Whitney U / (n1 n2), ties half), or "
        f"DeLong's normal interval there. KS: "
        "two-sample Kolmogorov-Smirnov test, not adjusted: whether the error distributions differ at all, not "
        "which space is better."
    )


def _error_words(measured: dict[str, str], names: list[str]) -> str:
    """'validation error' when the named sweeps all measure the same error, else which each measures."""
    kinds = {measured[n] for n in names}
    if len(kinds) == 1:
        return f"{kinds.pop()} error"
    return f"error ({', '.join(f'{measured[n]} for {n}' for n in names)})"
