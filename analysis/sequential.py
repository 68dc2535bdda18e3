"""Grow a study until named pairs of its spaces separate: sequential two-sample KS tests with a stated correction.

The study is looked at after each of L planned looks (its n, doubled at each step, the last look exactly at max_n);
at each look every pair not yet separated gets the two-sample KS test on its spaces' errors (plain, not
flops-normalized). A pair counts as separated at a look when p < alpha / L: Bonferroni over the looks, so the chance
that a pair of spaces with no difference is ever declared separated is at most alpha, whatever the dependence
between looks (each look's samples extend the previous look's, by the sampler's prefix property). A separated pair
stays separated (its look, n, D and p are kept); the study stops growing once every pair has separated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.stats import ks_test
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
    statistic: float | None = None  # KS D; None until both spaces have two finished models
    pvalue: float | None = None
    look: int | None = None  # 1-based look at which the pair separated; None while it has not

    @property
    def separated(self) -> bool:
        return self.look is not None


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


def update_pairs(
    states: Sequence[PairState], errors: Mapping[str, np.ndarray], look: int, threshold: float
) -> list[PairState]:
    """The states after a look: each pair not yet separated is tested on `errors` (space -> its models' errors)
    and separates at this look when p < threshold (alpha / L); a pair with fewer than two errors in a space waits."""
    updated = []
    for state in states:
        if not state.separated:
            a, b = np.asarray(errors[state.a], dtype=float), np.asarray(errors[state.b], dtype=float)
            state = replace(state, n_a=len(a), n_b=len(b), statistic=None, pvalue=None)
            if min(len(a), len(b)) >= 2:
                ks = ks_test(a, b)
                separated = look if ks.pvalue < threshold else None
                state = replace(state, statistic=ks.statistic, pvalue=ks.pvalue, look=separated)
        updated.append(state)
    return updated


def describe(states: Sequence[PairState], planned: Sequence[int], made: Sequence[int], alpha: float) -> str:
    """The outcome as markdown: looks, the correction, and per pair n, D, p, threshold and where it separated."""
    threshold = alpha / len(planned)
    lines = [
        "# Sequential KS tests",
        "",
        f"Looks planned (models per space): {', '.join(map(str, planned))}; made: {', '.join(map(str, made))}.",
        "",
        f"At each look every pair not yet separated gets the two-sample KS test on its spaces' errors (plain, not "
        f"flops-normalized); it counts as separated when p < alpha / L = {alpha:g} / {len(planned)} = "
        f"{threshold:.4g} (Bonferroni over the L = {len(planned)} planned looks: a pair of spaces with no "
        f"difference is declared separated with probability at most alpha = {alpha:g}). A separated pair stays "
        "separated; its row shows the look that separated it.",
        "",
        "| pair | n | D | p | threshold | separated |",
        "|---|---|---|---|---|---|",
    ]
    for s in states:
        d = "-" if s.statistic is None else f"{s.statistic:.3f}"
        p = "-" if s.pvalue is None else f"{s.pvalue:.3g}"
        where = f"at look {s.look} (n = {planned[s.look - 1]})" if s.separated else f"no (after {len(made)} looks)"
        lines.append(f"| {s.a} vs {s.b} | {s.n_a} / {s.n_b} | {d} | {p} | {threshold:.4g} | {where} |")
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
    check_settings(alpha, max_n, study.n)
    planned = look_schedule(study.n, max_n)
    states = [PairState(a, b) for a, b in pairs]
    made: list[int] = []
    for look, n in enumerate(planned, start=1):
        # the fidelity check runs once, at the last look made: its subsample is drawn from the models finished then
        result = run_study(replace(study, n=n, fidelity=0), progress=progress)
        made.append(n)
        errors = {}
        for alias, status in zip(study.spaces, result.statuses):
            frame = load_results(Path(study.out) / "sweeps" / status.name)
            errors[alias] = frame["error"][(frame["status"] == "ok") & (frame["id"] < n)].to_numpy(dtype=float)
        states = update_pairs(states, errors, look, alpha / len(planned))
        if all(s.separated for s in states):
            break
    if study.fidelity:
        result = run_study(replace(study, n=made[-1]), progress=progress)  # trains only the fidelity re-runs
    text = describe(states, planned, made, alpha)
    path = Path(study.out) / "sequential.md"
    write_text_atomic(path, text)
    return SequentialResult(result, states, planned, made, alpha, text, path)
