"""Grow a study until named pairs of its spaces separate, with the chance of a false "better" controlled over the
pairs and the looks together.

The study is looked at after each of L planned looks (its n, doubled at each step, the last look exactly at max_n).
At each look every named pair gets the verdict's test (analysis.pairtest: the one-sided studentized bootstrap test
of the mean error difference, in the direction observed at that look) on its spaces' errors (plain, not
flops-normalized), and the P pairs' p-values are Holm-adjusted over their 2P directed hypotheses (each pair both
ways, which pays for choosing the direction after looking): `decide`. A pair separates at the first look where its
Holm p is below alpha / L, in that look's direction, and stays separated (its look, n, t and p are kept); the study
stops growing once every pair has separated.

Why the chance of any false "X better than Y", over all pairs and looks, is at most alpha: at each look, Holm's
procedure over the fixed family of all 2P directed hypotheses (separated pairs included, so the family does not
depend on earlier looks) makes a false claim with probability at most alpha / L, whatever the dependence between
the pairs; a false claim at some look is a false claim of that look's procedure, so by Bonferroni over the L looks
the chance of one is at most alpha, whatever the dependence between looks (each look's samples extend the previous
look's, by the sampler's prefix property). The pairs must be named before looking at the data: choosing them after
seeing a verdict voids the guarantee.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.pairtest import LARGE, MeanTest, directed_holm, draws_for, mean_test
from analysis.study import StudyError
from anynet.files import write_text_atomic

if TYPE_CHECKING:
    from analysis.study import Study, StudyResult


@dataclass(frozen=True)
class PairState:
    """One named pair of spaces: its latest test (or the one that separated it) and the look that did, if any."""

    a: str
    b: str
    n_a: int = 0
    n_b: int = 0
    better: str | None = None  # the space with the lower mean error; None until both spaces have two models
    difference: float | None = None  # the other space's mean error minus `better`'s, points
    statistic: float | None = None  # Welch's t of the difference
    pvalue: float | None = None  # one-sided, in the observed direction
    p_holm: float | None = None  # Holm-adjusted over the 2P directed hypotheses of the look
    look: int | None = None  # 1-based look at which the pair separated; None while it has not

    @property
    def separated(self) -> bool:
        return self.look is not None


@dataclass(frozen=True)
class Look:
    """One look's decision on the named pairs (in their order): each pair's test, its Holm p and whether the rule
    separates it; arrays along the pairs, then the errors' leading axes (independent studies, as simulated)."""

    tests: list[MeanTest]
    p_holm: np.ndarray
    separates: np.ndarray


@dataclass(frozen=True)
class SequentialResult:
    """The final look's study result, the pairs' states, the looks planned and made, and the outcome's text."""

    result: StudyResult
    pairs: list[PairState]
    planned: list[int]
    made: list[int]
    alpha: float
    text: str
    path: Path


def look_schedule(n: int, max_n: int) -> list[int]:
    """The models per space at each look: n, doubled at each step, the last look exactly at max_n."""
    looks = [n]
    while looks[-1] < max_n:
        looks.append(min(2 * looks[-1], max_n))
    return looks


def parse_pairs(text: str, spaces: Sequence[str]) -> list[tuple[str, str]]:
    """Parse "A:E,A:regnetx" into [("A", "E"), ("A", "regnetx")], each name one of the study's spaces as given."""
    pairs = []
    for part in text.split(","):
        names = tuple(name.strip() for name in part.split(":"))
        if len(names) != 2:
            raise StudyError(f"--until-separated: {part.strip()!r} is not a pair SPACE:SPACE (e.g. A:E,A:regnetx)")
        pairs.append(names)
    check_pairs(pairs, spaces)
    return pairs


def check_pairs(pairs: Sequence[tuple[str, str]], spaces: Sequence[str]) -> None:
    """Each pair names two different spaces of the study, and no pair is named twice."""
    allowed = f"the study's spaces are {', '.join(spaces)}"
    if not pairs:
        raise StudyError(f"--until-separated: give at least one pair SPACE:SPACE; {allowed}")
    seen = set()
    for a, b in pairs:
        for name in (a, b):
            if name not in spaces:
                raise StudyError(f"--until-separated: {a}:{b}: {name!r} is not one of the study's spaces; {allowed}")
        if a == b:
            raise StudyError(f"--until-separated: {a}:{b} pairs a space with itself; {allowed}")
        if frozenset((a, b)) in seen:
            raise StudyError(f"--until-separated: {a}:{b} is given twice")
        seen.add(frozenset((a, b)))


def check_settings(alpha: float, max_n: int, n: int) -> None:
    """alpha in (0, 1); max_n at least the study's n."""
    if not 0 < alpha < 1:
        raise StudyError(f"--alpha: must be a number in (0, 1), got {alpha!r}")
    if max_n < n:
        raise StudyError(f"--max-n: must be >= the study's n ({n}), got {max_n}")


def decide(
    errors: Mapping[str, np.ndarray],
    pairs: Sequence[tuple[str, str]],
    alpha: float,
    looks: int,
    draws: int | None = None,
    seed: int = 0,
) -> Look:
    """The rule at one look: each pair's test on `errors` (space -> its models' errors, on the last axis), Holm over
    the 2P directed hypotheses of all the named pairs, and a pair separates when its Holm p < alpha / looks.
    `draws` per test: None takes enough for alpha / looks over 2P hypotheses (draws_for)."""
    draws = draws or draws_for(2 * len(pairs), alpha / looks)
    tests = [mean_test(errors[a], errors[b], draws, seed + i) for i, (a, b) in enumerate(pairs)]
    p_holm = directed_holm(np.stack([t.pvalue for t in tests]))
    return Look(tests, p_holm, p_holm < alpha / looks)


def update_pairs(
    states: Sequence[PairState],
    errors: Mapping[str, np.ndarray],
    look: int,
    alpha: float,
    looks: int,
) -> list[PairState]:
    """The states after a look (`decide` on `errors`): a pair not yet separated takes this look's test, and its
    look when the rule separates it; a separated pair keeps its own. A pair with fewer than two errors in a space
    waits (p = 1 in the family)."""
    decided = decide(errors, [(s.a, s.b) for s in states], alpha, looks, seed=look)
    updated = []
    for state, test, p_holm, separates in zip(states, decided.tests, decided.p_holm, decided.separates, strict=True):
        if not state.separated:
            state = replace(state, n_a=len(errors[state.a]), n_b=len(errors[state.b]))
            if min(state.n_a, state.n_b) >= 2:
                state = replace(
                    state,
                    better=state.a if test.a_lower else state.b,
                    difference=float(test.difference),
                    statistic=float(test.statistic),
                    pvalue=float(test.pvalue),
                    p_holm=float(p_holm),
                    look=look if separates else None,
                )
        updated.append(state)
    return updated


def describe(states: Sequence[PairState], planned: Sequence[int], made: Sequence[int], alpha: float) -> str:
    """The outcome as markdown: looks, the rule and its guarantee, and per pair n, the mean difference, t, p, Holm
    p, the threshold and where it separated."""
    looks, pairs = len(planned), len(states)
    threshold = alpha / looks
    lines = [
        "# Sequential tests: grow until the named pairs separate",
        "",
        f"Looks planned (models per space): {', '.join(map(str, planned))}; made: {', '.join(map(str, made))}.",
        "",
        "At each look every named pair gets the verdict's test: the one-sided studentized bootstrap test of the "
        f"mean error difference (Welch's t, {draws_for(2 * pairs, threshold):,} bootstrap draws; Welch's t-test "
        f"itself above {LARGE:,} models a pair; plain errors, not flops-normalized), "
        f"in the direction observed at that look. The {pairs} pair(s)' p-values are Holm-adjusted over their "
        f"2 x {pairs} = {2 * pairs} directed hypotheses (each pair both ways, so the direction is paid for), and a "
        f"pair separates when its Holm p < alpha / L = {alpha:g} / {looks} = {threshold:.4g} (L = {looks} planned "
        f'looks). The chance of any false "better", over all the pairs and looks together, is at most alpha = '
        f"{alpha:g}, for pairs named before looking at the data. A separated pair stays separated; its row shows "
        "the look that separated it.",
        "",
        "The fixed-n verdict of the report ignores the looks: after stopping here, its p-values are not valid; this "
        "outcome is.",
        "",
        "| pair | n | mean difference | Welch's t | one-sided p | Holm p | threshold | separated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in states:
        tested = s.better is not None
        lead = f"{s.better} {s.difference:.2f} points lower" if tested else "-"
        t, p, holm = (f"{s.statistic:.2f}", f"{s.pvalue:.3g}", f"{s.p_holm:.3g}") if tested else ("-", "-", "-")
        where = (
            f"{s.better} better, at look {s.look} (n = {planned[s.look - 1]})"
            if s.separated
            else f"no (after {len(made)} looks)"
        )
        lines.append(
            f"| {s.a} vs {s.b} | {s.n_a} / {s.n_b} | {lead} | {t} | {p} | {holm} | {threshold:.4g} | {where} |"
        )
    done = all(s.separated for s in states)
    lines += ["", f"Stopped: {'every pair separated' if done else 'the last look (max-n) was reached'}."]
    return "\n".join(lines) + "\n"


def run_until_separated(
    study: Study, pairs: Sequence[tuple[str, str]], alpha: float, max_n: int, progress: bool = True
) -> SequentialResult:
    """Run the study at each look's n (growing its sweeps) until every pair has separated or max_n is reached;
    each look tests the first n models of each space. Writes the outcome to <out>/sequential.md."""
    from analysis.study import run_study
    from sweeps import load_results

    check_pairs(pairs, study.spaces)
    check_settings(alpha, max_n, study.sweep.n)
    planned = look_schedule(study.sweep.n, max_n)
    states = [PairState(a, b) for a, b in pairs]
    made: list[int] = []
    for look, n in enumerate(planned, start=1):
        # the fidelity check and the re-trained selection run once, at the last look made: the subsample and the top
        # models are drawn from the models finished then
        result = run_study(replace(study, sweep=study.sweep.with_n(n), fidelity=0, retrain_top=0), progress=progress)
        made.append(n)
        errors = {}
        for alias, status in zip(study.spaces, result.statuses):
            frame = load_results(Path(study.out) / "sweeps" / status.name)
            errors[alias] = frame["error"][(frame["status"] == "ok") & (frame["id"] < n)].to_numpy(dtype=float)
        states = update_pairs(states, errors, look, alpha, len(planned))
        if all(s.separated for s in states):
            break
    if study.fidelity or study.retrain_top:
        result = run_study(replace(study, sweep=study.sweep.with_n(made[-1])), progress=progress)  # only the re-runs
    text = describe(states, planned, made, alpha)
    path = Path(study.out) / "sequential.md"
    write_text_atomic(path, text)
    return SequentialResult(result, states, planned, made, alpha, text, path)
