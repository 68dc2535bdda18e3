"""The RegNet paper's refinement loop, automated: from a design space, propose constraints (shared b, w
non-decreasing, ...: sampler.constraints), evaluate each constrained child space on n models, and keep the child
that is no worse than its parent, until no child is.

"No worse" is a non-inferiority test: a child passes when the test rejects H0 "its mean error exceeds its parent's
by `margin` points or more" (pairtest's studentized bootstrap, on the child's errors shifted by -margin), with
Holm's adjustment over the round's candidates. So in each round the chance of accepting any child whose true mean
error is worse than its parent's by the margin or more is at most alpha, whatever the dependence between the
children's tests (they share the parent's models). Among the children that pass, the one with the lowest mean error
is accepted (ties: the smaller space) and becomes the next round's parent; its models are reused as the parent's,
never trained again. That reuse selects them for a low mean, which makes the next round's children look worse than
they are: conservative for accepting a harmful child. A child that merely does not pass is not shown worse: the
p better column (the one-sided test that the child's mean error is lower) says which children were better.

The evaluator trains the models (in tests, a planted one); this module needs no training."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.pairtest import DRAWS, directed_holm, draws_for, mean_test
from analysis.stats import holm
from anynet.errors import AnynetError
from anynet.files import write_text_atomic
from sampler.constraints import Constraint, candidates, log10_size, parse_constraint, space_yaml
from sampler.space import DesignSpace

# Per (name, space): the errors (percent) of n models sampled from the space and trained, in order; `name` names the
# sweep folder to train in. A round's spaces come in one call, so a real evaluator trains them in one run.
Evaluator = Callable[[Sequence[tuple[str, DesignSpace]], int], Sequence[np.ndarray]]

# 1 point of top-1 error. The paper keeps a constraint when the child's error distribution looks no worse by eye;
# the spread of errors between models of one space in a complexity band is several points (an sd of 2 to 4), so one
# point is a quarter to a half of that sd: a loss the paper's EDF plots would show, yet a margin that n = 100 models
# per space can resolve (the standard error of a difference of means is 0.3 to 0.6 points there).
MARGIN = 1.0
ALPHA = 0.05
ACCEPTED = "accepted"
NON_INFERIOR = "non-inferior, not chosen"
REJECTED = "rejected"


class RefineError(AnynetError):
    """A refinement that cannot run as asked; the message names the field and what is allowed."""


def noninferior(child: np.ndarray, parent: np.ndarray, margin: float, seed: int = 0, draws: int = DRAWS) -> np.ndarray:
    """The one-sided p of H0 "the child's mean error exceeds the parent's by `margin` points or more" against "by
    less", models on the last axis, leading axes tested each as if alone (as mean_test); p = 1 below two models.

    It is mean_test on the child's errors minus the margin, against the parent's: with t Welch's t of the parent's
    mean minus the shifted child's and T* its B bootstrap pivots, this p is the share of T* at or above t. mean_test
    tests in the observed direction: where the shifted child's mean is the lower, its p is this one. Elsewhere it
    tested the opposite claim on the same resamples (it negates both spaces' errors: T'* = -T*, t' = -t), and
    its p' = (1 + #{T* <= t} + u) / (B + 1), u the undefined draws, while this p is (1 + #{T* >= t} + u) / (B + 1)
    = 1 - p' + (1 + e + u) / (B + 1), e the draws with T* = t exactly. With continuous errors e = u = 0 (u needs both
    resampled spaces constant), so p = 1 - p' + 1 / (B + 1), raised to 1/2 at least since the estimate points to H0:
    a p of 1/2 or more changes no decision at alpha below 1/2, nor Holm's adjustment of the p-values below 1/2."""
    child, parent = np.asarray(child, dtype=float), np.asarray(parent, dtype=float)
    if min(child.shape[-1], parent.shape[-1]) < 2:
        return np.ones(np.broadcast_shapes(child.shape[:-1], parent.shape[:-1]))
    test = mean_test(child - margin, parent, draws, seed)
    return np.where(test.a_lower, test.pvalue, np.maximum(0.5, 1 - test.pvalue + 1 / (draws + 1)))


def superior(child: np.ndarray, parent: np.ndarray, seed: int = 0, draws: int = DRAWS) -> np.ndarray:
    """The one-sided p that the child's mean error is lower than the parent's (noninferior with margin 0)."""
    return noninferior(child, parent, 0.0, seed, draws)


@dataclass(frozen=True)
class CandidateRow:
    """One candidate of one round: the constraint, the parent and child spaces (names, log10 sizes and how they
    were counted), n models each, their mean errors (percent), the difference (child minus parent), the margin, the
    non-inferiority p (raw and Holm-adjusted over the round), the p that the child is better, and the decision."""

    round: int
    constraint: str
    constraint_dict: dict[str, Any]
    parent: str
    child: str
    parent_log10_size: float
    parent_size_counted: str
    child_log10_size: float
    child_size_counted: str
    parent_n: int  # models that trained ok (n, less any that failed)
    child_n: int
    parent_mean: float
    child_mean: float
    difference: float
    margin: float
    p_worse: float
    p_worse_holm: float
    p_better: float
    decision: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RefineResult:
    """The path of a refinement: every candidate's row, round by round, the final space and why it stopped."""

    start: DesignSpace
    final: DesignSpace
    rows: tuple[CandidateRow, ...]
    stop: str
    n: int
    margin: float
    alpha: float

    @property
    def accepted(self) -> list[CandidateRow]:
        """The accepted candidates' rows, one per round that accepted one, in order."""
        return [r for r in self.rows if r.decision == ACCEPTED]

    @property
    def constraints(self) -> list[Constraint]:
        """The accepted constraints, in order."""
        return [Constraint.from_dict(r.constraint_dict) for r in self.accepted]


def refine(
    space: DesignSpace,
    evaluate: Evaluator,
    *,
    n: int,
    rounds: int,
    margin: float = MARGIN,
    alpha: float = ALPHA,
    propose: Sequence[Constraint | str] | None = None,
    seed: int = 0,
    draws: int | None = None,
) -> RefineResult:
    """Refine `space` for up to `rounds` rounds of n models per space. Each round's candidates are
    sampler.constraints.candidates(current), or those of `propose` (constraints or their written forms) that apply
    to it; it stops early when none applies or no child is non-inferior. `seed` seeds the bootstrap tests (round r
    draws from the stream of (seed, r)); `draws` bootstrap draws per test, by default pairtest's draws_for the
    round's number of candidates at alpha."""
    n, rounds = _check_int("n", n, 2), _check_int("rounds", rounds, 1)
    margin = _check_number("margin", margin, "a number >= 0 (points of error)", lambda x: x >= 0)
    alpha = _check_number("alpha", alpha, "a number in (0, 1)", lambda x: 0 < x < 1)
    if draws is not None:
        draws = _check_int("draws", draws, 1)
    proposed = None if propose is None else _proposals(propose)
    errors: dict[str, np.ndarray] = {}

    def errors_of(spaces: list[DesignSpace]) -> list[np.ndarray]:
        """The spaces' errors, evaluating (in one call) those not evaluated before."""
        todo = [s for s in spaces if s.name not in errors]
        if todo:
            found = list(evaluate([(s.name, s) for s in todo], n))
            if len(found) != len(todo):
                raise RefineError(f"evaluate: returned {len(found)} error arrays for {len(todo)} spaces; one a space")
            errors.update({s.name: _checked(s.name, e, n) for s, e in zip(todo, found)})
        return [errors[s.name] for s in spaces]

    current, rows = space, []
    stop = f"after {rounds} round{'s' if rounds > 1 else ''}"
    for r in range(1, rounds + 1):
        options = candidates(current) if proposed is None else [c for c in proposed if c.applies_to(current)]
        if not options:
            stop = f"no candidate applies to {current.name}"
            break
        children = [c.apply(current) for c in options]
        parent, *child = errors_of([current, *children])  # as many errors as models trained ok: a test per child
        test_seed = int(np.random.SeedSequence([seed, r]).generate_state(1)[0])
        per_test = draws or draws_for(len(options), alpha)
        p_worse = np.array([noninferior(c, parent, margin, test_seed, per_test) for c in child], dtype=float)
        p_better = np.array([superior(c, parent, test_seed, per_test) for c in child], dtype=float)
        p_holm = holm(p_worse)
        sizes = [log10_size(s) for s in children]
        means = np.array([c.mean() for c in child])
        passed = {i for i in range(len(options)) if p_holm[i] < alpha}
        chosen = min(passed, key=lambda i: (means[i], sizes[i][0], i)) if passed else None
        parent_size = log10_size(current)
        for i, (c, s) in enumerate(zip(options, children)):
            decision = ACCEPTED if i == chosen else NON_INFERIOR if i in passed else REJECTED
            rows.append(
                CandidateRow(
                    round=r,
                    constraint=c.name,
                    constraint_dict=c.to_dict(),
                    parent=current.name,
                    child=s.name,
                    parent_log10_size=parent_size[0],
                    parent_size_counted=parent_size[1],
                    child_log10_size=sizes[i][0],
                    child_size_counted=sizes[i][1],
                    parent_n=len(parent),
                    child_n=len(child[i]),
                    parent_mean=float(parent.mean()),
                    child_mean=float(means[i]),
                    difference=float(means[i] - parent.mean()),
                    margin=margin,
                    p_worse=float(p_worse[i]),
                    p_worse_holm=float(p_holm[i]),
                    p_better=float(p_better[i]),
                    decision=decision,
                )
            )
        if chosen is None:
            stop = f"no child of {current.name} is non-inferior"
            break
        current = children[chosen]
    return RefineResult(space, current, tuple(rows), stop, n, margin, alpha)


@dataclass(frozen=True)
class ComparisonRow:
    """The refined space against another space sampled at the same band, budget and recipe: n and mean error of
    each, the difference (refined minus other, points), its 95% interval, the one-sided p in the observed direction
    (raw and Holm-adjusted over the comparisons' directed hypotheses), and the claim it supports, in words."""

    other: str
    refined: str
    other_n: int
    refined_n: int
    other_mean: float
    refined_mean: float
    difference: float
    low: float
    high: float
    p: float
    p_holm: float
    words: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_final(
    refined: tuple[str, np.ndarray],
    others: Sequence[tuple[str, np.ndarray]],
    alpha: float = ALPHA,
    seed: int = 0,
    draws: int | None = None,
) -> list[ComparisonRow]:
    """Test the refined space's mean error against each other space's: pairtest's studentized bootstrap in the
    observed direction, Holm over the 2 x len(others) directed hypotheses (directed_holm), so the chance of any
    wrong claim of a lower or higher mean is at most alpha. The refined space's errors should come from models
    sampled afresh: the loop chose its child for a low mean on the models it has, and those models flatter it."""
    name, errors = refined[0], np.asarray(refined[1], dtype=float)
    if not others:
        return []
    per_test = draws or draws_for(2 * len(others), alpha)
    tests = [mean_test(errors, np.asarray(e, dtype=float), per_test, seed) for _, e in others]
    p_holm = directed_holm(np.array([float(t.pvalue) for t in tests]))
    rows = []
    for (other, e), t, p in zip(others, tests, p_holm):
        sign = -1.0 if t.a_lower else 1.0  # refined minus other
        low, high = sorted((sign * float(t.low), sign * float(t.high)))
        difference = float(errors.mean() - np.mean(e))
        if p < alpha:
            side = "lower" if t.a_lower else "higher"
            words = (
                f"{name}'s mean error is {side} than {other}'s by {abs(difference):.2f} points (95% interval of "
                f"the difference {low:+.2f} to {high:+.2f}; p {p:.2g}, Holm over {len(others)} comparisons)"
            )
        else:
            words = f"{name} vs {other}: not resolved at this n ({difference:+.2f} points, p {p:.2g}, Holm)"
        rows.append(
            ComparisonRow(
                other,
                name,
                len(e),
                len(errors),
                float(np.mean(e)),
                float(errors.mean()),
                difference,
                low,
                high,
                float(t.pvalue),
                float(p),
                words,
            )
        )
    return rows


def write(
    result: RefineResult,
    out: Path,
    comparison: Sequence[ComparisonRow] = (),
    flops: tuple[float | None, float | None] | None = None,
) -> None:
    """Write out/refine.jsonl (one JSON line per candidate row), out/refine.md (a table per round, then the final
    space with the Python that samples it in the band `flops`, the accepted constraints and the comparison with
    other spaces) and out/refined.yaml (the final space, as
    get_space(path) reads it), each atomically; with a comparison, out/refine-compare.jsonl (a line per space)."""
    out = Path(out)
    lines = "".join(json.dumps(r.to_dict()) + "\n" for r in result.rows)
    write_text_atomic(out / "refine.jsonl", lines)
    write_text_atomic(out / "refine.md", markdown(result, comparison, flops))
    write_text_atomic(out / "refined.yaml", space_yaml(result.final))
    if comparison:
        write_text_atomic(out / "refine-compare.jsonl", "".join(json.dumps(r.to_dict()) + "\n" for r in comparison))


def sample_code(path: str, flops: tuple[float | None, float | None] | None = None) -> str:
    """The Python that draws specs from the space file at `path` with anynet's sampler, in the band `flops`."""
    band = "" if flops is None else f", flops=({flops[0]!r}, {flops[1]!r})"
    return "\n".join(
        [
            "from anynet import AnyNet",
            "from sampler import get_space, sample",
            "",
            f"space = get_space({path!r})",
            f"specs = sample(space, 100, seed=0{band}).specs  # 100 distinct AnyNetSpec objects",
            "model = AnyNet(specs[0])  # a torch.nn.Module",
        ]
    )


def markdown(
    result: RefineResult,
    comparison: Sequence[ComparisonRow] = (),
    flops: tuple[float | None, float | None] | None = None,
) -> str:
    """The refinement as Markdown: a table per round, then the final space, the accepted constraints in order, what
    the margin and alpha mean, and the refined space against other spaces where compared."""
    lines = [
        f"# Refinement of {result.start.name}",
        "",
        f"{result.n} models per space; margin {_points(result.margin)} of error; alpha {result.alpha:g}. "
        f"Stopped: {result.stop}.",
    ]
    for r in sorted({row.round for row in result.rows}):
        rows = [row for row in result.rows if row.round == r]
        first = rows[0]
        lines += [
            "",
            f"## Round {r}: {first.parent} ({_size(first.parent_log10_size)} settings, mean error "
            f"{first.parent_mean:.2f}%)",
            "",
            "| constraint | child size | child mean error | difference (margin) | p worse | p worse, Holm | p better "
            "| decision |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {row.constraint} | {_size(row.child_log10_size)} | {row.child_mean:.2f}% | {row.difference:+.2f} "
            f"({row.margin:g}) | {row.p_worse:.3g} | {row.p_worse_holm:.3g} | {row.p_better:.3g} | {row.decision} |"
            for row in rows
        ]
    size, counted = log10_size(result.final)
    lines += [
        "",
        "## Result",
        "",
        f"Final space: {result.final.name}, {_size(size)} settings ({counted}), in refined.yaml beside this file. "
        "To draw models from it elsewhere (`pip install` anynet; `anynet sample --space refined.yaml` does the same):",
        "",
        "```python",
        sample_code("refined.yaml", flops),
        "```",
        "",
    ]
    if result.accepted:
        lines += ["Accepted constraints, in order:", ""]
        lines += [
            f"{i}. {row.constraint} (round {row.round}): {_size(row.parent_log10_size)} to "
            f"{_size(row.child_log10_size)} settings, mean error {row.parent_mean:.2f}% to {row.child_mean:.2f}%"
            for i, row in enumerate(result.accepted, start=1)
        ]
    else:
        lines.append("No constraint was accepted.")
    lines += [
        "",
        f"A child is non-inferior when its Holm-adjusted p worse is below alpha = {result.alpha:g}, p worse testing "
        f"the hypothesis that its mean error exceeds its parent's by the margin, {_points(result.margin)}, or more: "
        f"in each round the chance of accepting a child that is truly worse by the margin or more is at most "
        f"{result.alpha:g}.",
        "",
    ]
    if comparison:
        first = comparison[0]
        lines += [
            "## Against other spaces",
            "",
            f"{first.refined}: {first.refined_n} models sampled afresh (another seed; the loop's own models of the "
            "chosen child were picked for their low mean), against each space's models at the same band, budget and "
            "recipe.",
            "",
            "| space | n | mean error | refined minus it (95% interval) | p | p, Holm |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.other} | {r.other_n} | {r.other_mean:.2f}% | {r.difference:+.2f} ({r.low:+.2f} to {r.high:+.2f}) "
            f"| {r.p:.3g} | {r.p_holm:.3g} |"
            for r in comparison
        ]
        lines += ["", *[f"- {r.words}" for r in comparison], ""]
    return "\n".join(lines)


def _points(x: float) -> str:
    return f"{x:g} point{'' if x == 1 else 's'}"


def _size(log10: float) -> str:
    return f"10^{log10:.2f}"


def _proposals(propose: Sequence[Constraint | str]) -> list[Constraint]:
    """The proposals as constraints, each once, in order."""
    if isinstance(propose, (str, bytes)) or not isinstance(propose, Sequence):
        raise RefineError(f"propose: must be a list of constraints or their written forms, got {propose!r}")
    found = []
    for i, c in enumerate(propose):
        if isinstance(c, str):
            c = parse_constraint(c)
        elif not isinstance(c, Constraint):
            raise RefineError(f"propose[{i}]: must be a Constraint or its written form, got {c!r}")
        found.append(c)
    return list(dict.fromkeys(found))


def _checked(name: str, errors: Any, n: int) -> np.ndarray:
    """The evaluator's errors for space `name`: 2 to n finite numbers (one per model that trained ok)."""
    values = np.asarray(errors, dtype=float)
    if values.ndim != 1 or not 2 <= len(values) <= n:
        raise RefineError(
            f"evaluate: returned shape {values.shape} for {name}; must return 2 to {n} errors, one per model that "
            f"trained ok"
        )
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise RefineError(f"evaluate: returned {bad} non-finite errors for {name}; must return finite errors (percent)")
    return values


def _check_int(field: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise RefineError(f"{field}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_number(field: str, value: Any, allowed: str, ok: Callable[[float], bool]) -> float:
    """value as a float where it is a finite number that `ok` accepts; else an error naming the field and `allowed`."""
    number = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not (number and math.isfinite(value) and ok(float(value))):
        raise RefineError(f"{field}: must be {allowed}, got {value!r}")
    return float(value)
