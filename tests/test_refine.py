"""The refinement loop (analysis/refine.py) without training: a planted evaluator whose errors reward shared b and
growing widths and punish g = 1, the loop's choices, proposals, the parent's models reused, the written files, the
calibration of the non-inferiority and superiority tests, and the loop's false acceptance of harmful constraints.
Bootstrap draws are 999 throughout (the module's default is 9,999 or more) to keep the file fast."""

import functools
import json
import re
import zlib
from collections import Counter
from dataclasses import fields

import numpy as np
import pytest

from analysis.refine import (
    ACCEPTED,
    NON_INFERIOR,
    REJECTED,
    CandidateRow,
    RefineError,
    compare_final,
    noninferior,
    refine,
    superior,
    write,
)
from anynet.errors import SpecError
from anynet.spec import AnyNetSpec
from sampler import DesignSpace, get_space, sample
from sampler.constraints import Constraint

DRAWS = 999
BAND = (2e6, 6e6)
POOL = 1000  # specs sampled once per space; a repetition draws its n models from them
START = get_space("AnyNetX_A-small")
_pools: dict[str, np.ndarray] = {}


def planted_mean(spec: AnyNetSpec) -> float:
    """A model's true error (percent): 30, + 3 per extra distinct b across stages, + 4 where every stage has b = 1
    (so "shared b" beats "b = 1"), + 4 per stage after the first whose width does not grow (so "w non-decreasing" beats "shared w"),
    + 1.5 where every stage has the same depth (a "shared d" slightly worse than the margin), and + 4 where every
    group width is 1 (a harmful "g = 1")."""
    w = spec.widths
    return (
        30
        + 3 * (len(set(spec.bot_muls)) - 1)
        + 4 * all(m == 1 for m in spec.bot_muls)
        + 4 * sum(after <= before for before, after in zip(w, w[1:]))
        + 1.5 * (len(set(spec.depths)) == 1)
        + 4 * all(g == 1 for g in spec.group_ws)
    )


def seed_of(name: str) -> int:
    return zlib.crc32(name.encode())


def pool(space: DesignSpace) -> np.ndarray:
    """The true errors of POOL specs of the space, sampled once (seed: the name's CRC-32); their mean is the space's
    true mean error."""
    if space.name not in _pools:
        drawn = sample(space, POOL, seed=seed_of(space.name), flops=BAND)
        _pools[space.name] = np.array([planted_mean(s) for s in drawn.specs])
    return _pools[space.name]


def true_mean(name: str) -> float:
    return float(_pools[name].mean())


class Planted:
    """The evaluator: n models' true errors plus N(0, sd) noise, counting its calls per space name. Repetition 0
    takes the pool's first n, which is sample(space, n, seed=CRC-32 of the name) by the sampler's prefix property;
    repetition r > 0 takes n of the pool at random."""

    def __init__(self, rep: int = 0, sd: float = 2.0) -> None:
        self.rep, self.sd, self.calls = rep, sd, Counter()

    def __call__(self, spaces: list[tuple[str, DesignSpace]], n: int) -> list[np.ndarray]:
        return [self.one(name, space, n) for name, space in spaces]

    def one(self, name: str, space: DesignSpace, n: int) -> np.ndarray:
        self.calls[name] += 1
        rng = np.random.default_rng([seed_of(name), self.rep])
        errors = pool(space)
        chosen = errors[:n] if self.rep == 0 else rng.choice(errors, n, replace=False)
        return chosen + rng.normal(0.0, self.sd, n)


@functools.cache
def planted_run():
    evaluate = Planted()
    return refine(START, evaluate, n=64, rounds=3, draws=DRAWS), evaluate


def test_the_planted_evaluator_samples_the_space_by_its_name():
    specs = sample(START, 5, seed=seed_of(START.name), flops=BAND).specs
    assert np.array_equal(pool(START)[:5], [planted_mean(s) for s in specs])


def test_refine_keeps_shared_b_and_increasing_widths_and_never_g1():
    result, _ = planted_run()
    names = [row.constraint for row in result.accepted]
    assert {"shared b", "w non-decreasing"} <= set(names) and len(names) <= 3
    assert "g = 1" not in names
    g1 = [row for row in result.rows if row.constraint == "g = 1"]
    assert len(g1) == len({row.round for row in result.rows}) and all(row.decision == REJECTED for row in g1)
    # One accepted child per round, the next round's parent; the final space is the start with the accepted edits.
    for row in result.accepted:
        assert row.p_worse_holm < 0.05 and row.child_log10_size < row.parent_log10_size
        later = [r for r in result.rows if r.round == row.round + 1]
        assert all(r.parent == row.child for r in later)
        same_round = [r for r in result.rows if r.round == row.round and r.decision != REJECTED]
        assert min(same_round, key=lambda r: r.child_mean) == row
    final = START
    for constraint in result.constraints:
        final = constraint.apply(final)
    assert final == result.final and result.final.name == result.accepted[-1].child


def test_rows_hold_the_holm_adjusted_noninferiority_test():
    result, _ = planted_run()
    first = [row for row in result.rows if row.round == 1]
    assert len(first) == 10  # AnyNetX_A-small's candidates: share and order d, w, b, g; b = 1; g = 1
    raw = np.array([row.p_worse for row in first])
    k = len(raw)
    assert min(row.p_worse_holm for row in first) == pytest.approx(min(1.0, k * raw.min()))
    for row in first:
        assert row.difference == pytest.approx(row.child_mean - row.parent_mean)
        assert row.margin == 1.0 and row.parent_n == row.child_n == 64
        assert (row.decision != REJECTED) == (row.p_worse_holm < 0.05)
        if row.difference > row.margin:
            assert row.p_worse >= 0.5 and row.decision == REJECTED


def test_proposals_restrict_the_candidates():
    evaluate = Planted()
    propose = ["shared b", Constraint("order", "w"), "g = 1", "regnet", "shared b"]
    result = refine(START, evaluate, n=40, rounds=3, propose=propose, draws=DRAWS)
    first = [row.constraint for row in result.rows if row.round == 1]
    assert first == ["shared b", "w non-decreasing", "g = 1"]  # regnet needs b and g shared; duplicates once
    assert {row.constraint for row in result.rows} <= {"shared b", "w non-decreasing", "g = 1", "regnet"}
    assert [row.constraint for row in result.accepted] in (
        ["shared b", "w non-decreasing"],
        ["w non-decreasing", "shared b"],
    )
    assert result.stop.startswith("no child")
    assert set(evaluate.calls) == {START.name} | {row.child for row in result.rows}


def test_no_candidate_that_applies_stops_at_once(tmp_path):
    evaluate = Planted()
    result = refine(START, evaluate, n=8, rounds=2, propose=["regnet"], draws=DRAWS)
    assert result.rows == () and result.final == START and result.stop == f"no candidate applies to {START.name}"
    assert not evaluate.calls
    write(result, tmp_path)
    assert "No constraint was accepted." in (tmp_path / "refine.md").read_text()


def test_each_space_is_evaluated_once():
    result, evaluate = planted_run()
    assert set(evaluate.calls.values()) == {1}
    assert set(evaluate.calls) == {START.name} | {row.child for row in result.rows}
    for row in result.accepted:  # the accepted child is the next round's parent, not evaluated again
        assert evaluate.calls[row.child] == 1


def test_written_files(tmp_path):
    result, _ = planted_run()
    write(result, tmp_path)
    lines = (tmp_path / "refine.jsonl").read_text().splitlines()
    assert len(lines) == len(result.rows)
    names = {f.name for f in fields(CandidateRow)}
    for line, row in zip(lines, result.rows):
        data = json.loads(line)
        assert set(data) == names and data == row.to_dict()
        assert Constraint.from_dict(data["constraint_dict"]).name == data["constraint"]
    assert [json.loads(line)["decision"] for line in lines].count(ACCEPTED) == len(result.accepted)
    space = get_space(str(tmp_path / "refined.yaml"))
    assert space == result.final
    for spec in sample(space, 8, seed=1, flops=BAND).specs:
        assert len(set(spec.bot_muls)) == 1 and list(spec.widths) == sorted(spec.widths)
    text = (tmp_path / "refine.md").read_text()
    for r in {row.round for row in result.rows}:
        assert f"## Round {r}:" in text
    assert f"Final space: {result.final.name}, 10^" in text
    order = [text.index(f". {row.constraint} (round {row.round})") for row in result.accepted]
    assert order == sorted(order)
    assert "by the margin, 1 point, or more" in text and "at most 0.05" in text
    assert NON_INFERIOR in text or REJECTED in text


def rates(p: np.ndarray) -> float:
    return float((p < 0.05).mean())


def test_noninferiority_and_superiority_tests_are_calibrated():
    """2,000 studies at once (leading axis), 16 normal models per space of sd 2, margin 1 point. Measured (p < 0.05):
    noninferior() 0.0545 at the boundary (child 1 point worse) and 0.0025 at 2 points worse; superior() 0.056 at
    equal means and 0.0025 with the child 1 point worse."""
    rng = np.random.default_rng(11)
    reps, n, margin = 2000, 16, 1.0
    parent = rng.normal(30.0, 2.0, (reps, n))
    noise = rng.normal(0.0, 2.0, (reps, n))

    def p_worse(shift: float) -> np.ndarray:
        return noninferior(30.0 + shift + noise, parent, margin, seed=3, draws=DRAWS)

    assert 0.025 <= rates(p_worse(margin)) <= 0.075
    assert rates(p_worse(2 * margin)) < 0.01
    assert 0.025 <= rates(superior(30.0 + noise, parent, seed=4, draws=DRAWS)) <= 0.075
    assert rates(superior(30.0 + margin + noise, parent, seed=4, draws=DRAWS)) < 0.01


def test_noninferiority_p_is_one_curve_across_the_observed_direction():
    """On the same draws, p falls as the margin grows, on both sides of the margin where the shifted child's mean
    meets the parent's (where mean_test turns its direction); it is at least 1/2 where the shifted child's mean is
    the higher and near 1 far on that side (derived from the draws, not just set to 1/2)."""
    rng = np.random.default_rng(5)
    child, parent = rng.normal(31.0, 2.0, 16), rng.normal(30.0, 2.0, 16)
    margins = np.linspace(-3.0, 5.0, 33)
    p = np.array([float(noninferior(child, parent, m, seed=7, draws=DRAWS)) for m in margins])
    assert np.all(np.diff(p) <= 0)
    higher = child.mean() - margins > parent.mean()
    assert higher.any() and not higher.all()
    assert np.all(p[higher] >= 0.5) and p[0] > 0.99 and p[-1] < 0.01
    assert float(noninferior(child[:1], parent, 1.0)) == 1.0


def test_false_acceptance_of_harmful_constraints():
    """100 seeded repetitions of the whole loop (3 rounds, 12 models per space): a repetition fails where it accepts
    a child whose true mean error (its pool's mean) is worse than its parent's by more than the margin (g = 1,
    shared w, shared d, and b = 1 after shared b are such children). Measured: 0 of 100 (the bound: at most 5), and
    0 of the 466 harmful children evaluated over the 100 (135 each of g = 1, shared w and shared d; 35 b = 1 and 26
    shared g after shared b); 33 repetitions accepted one constraint or more."""
    failures = active = 0
    for rep in range(100):
        result = refine(START, Planted(rep), n=12, rounds=3, seed=rep, draws=DRAWS)
        harmful = {row.child for row in result.rows if true_mean(row.child) - true_mean(row.parent) > row.margin}
        assert "AnyNetX_A-small-g1" in harmful
        failures += any(row.child in harmful for row in result.accepted)
        active += bool(result.accepted)
    assert failures <= 5 and active >= 20


def test_comparison_of_the_refined_space_is_calibrated():
    """compare_final, 400 seeded studies of a refined space against 3 others, 16 models each of sds 1, 2, 3 and 4:
    with equal means the rate of any claim of a lower or higher mean (Holm over the 3) is alpha within simulation
    error (sd 0.011 at 400), and each 95% interval of the difference covers the truth; with the refined space (sd
    1) 2 points lower than one other (sd 2), that claim is made, never the wrong way. Measured: 0.0525 any claim,
    coverage 0.96, 0.955, 0.945; power 0.92, 0 wrong-way claims."""
    rng = np.random.default_rng(23)
    reps, n, sds = 400, 16, (1.0, 2.0, 3.0, 4.0)
    claims = wrong = power = 0
    covered = np.zeros(3)
    for rep in range(reps):
        refined, *others = (rng.normal(30.0, sd, n) for sd in sds)
        rows = compare_final(("R", refined), [(f"S{i}", e) for i, e in enumerate(others)], seed=rep, draws=DRAWS)
        claims += any(r.p_holm < 0.05 for r in rows)
        covered += [r.low <= 0.0 <= r.high for r in rows]
        shifted = compare_final(("R", refined - 2.0), [("S0", others[0])], seed=rep, draws=DRAWS)[0]
        power += shifted.p_holm < 0.05 and "lower" in shifted.words
        wrong += shifted.p_holm < 0.05 and "higher" in shifted.words
    assert claims / reps <= 0.075 and np.all(covered / reps >= 0.92)
    assert power / reps >= 0.8 and wrong == 0


def test_bad_settings_name_the_field():
    evaluate = Planted()
    for settings, field in [
        ({"n": 1, "rounds": 1}, "n: must be an integer >= 2"),
        ({"n": 8, "rounds": 0}, "rounds: must be an integer >= 1"),
        ({"n": 8, "rounds": 1, "alpha": 1.5}, "alpha: must be a number in (0, 1)"),
        ({"n": 8, "rounds": 1, "margin": -1}, "margin: must be a number >= 0"),
        ({"n": 8, "rounds": 1, "propose": [3]}, "propose[0]: must be a Constraint"),
        ({"n": 8, "rounds": 1, "propose": "shared b"}, "propose: must be a list"),
    ]:
        with pytest.raises(RefineError, match=re.escape(field)):
            refine(START, evaluate, **settings)
    with pytest.raises(SpecError, match="shared q"):
        refine(START, evaluate, n=8, rounds=1, propose=["shared q"])
    with pytest.raises(RefineError, match="evaluate: returned shape \\(9,\\)"):
        refine(START, lambda spaces, n: [np.ones(9) for _ in spaces], n=8, rounds=1)
    with pytest.raises(RefineError, match="evaluate: returned shape \\(1,\\)"):
        refine(START, lambda spaces, n: [np.ones(1) for _ in spaces], n=8, rounds=1)
    with pytest.raises(RefineError, match="1 non-finite"):
        refine(START, lambda spaces, n: [np.r_[np.nan, np.ones(n - 1)] for _ in spaces], n=8, rounds=1)
