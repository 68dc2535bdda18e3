"""Growing a study until pairs of spaces separate: the look schedule, the rule at one look (the verdict's test, Holm
over all the named pairs' directed hypotheses at alpha / L), run_until_separated end to end on made-up errors (3
pairs, 4 looks: the threshold it applies and what it writes), the errors, and the --until-separated flag end to end.
The rule's family-wise false-positive rate and power: tests/test_calibration_pairs.py."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis.study
import sweeps
from analysis.pairtest import mean_test
from analysis.sequential import (
    PairState,
    check_settings,
    decide,
    look_schedule,
    parse_pairs,
    run_until_separated,
    update_pairs,
)
from analysis.stats import holm
from analysis.study import Study, StudyError, StudyResult
from anynet.cli import main
from anynet.cli.study import AFTER_SEQUENTIAL
from sweeps.status import SweepStatus

SPACES = ("A", "C", "E", "regnetx")


def test_look_schedule_doubles_and_ends_at_max_n():
    assert look_schedule(30, 200) == [30, 60, 120, 200]
    assert look_schedule(30, 240) == [30, 60, 120, 240]
    assert look_schedule(4, 8) == [4, 8]
    assert look_schedule(30, 30) == [30]


def made_up(seed: int = 3) -> dict[str, np.ndarray]:
    """32 models' errors per space: B 0.7 sd worse than A (too little to separate by 32 models), C 5 sd worse."""
    rng = np.random.default_rng(seed)
    return {"A": rng.normal(40, 1, 32), "B": rng.normal(40.7, 1, 32), "C": rng.normal(45, 1, 32)}


PAIRS = [("A", "B"), ("A", "C"), ("B", "C")]


def test_a_look_holm_adjusts_over_both_directions_of_every_named_pair():
    errors = {name: e[:8] for name, e in made_up().items()}
    decided = decide(errors, PAIRS, 0.05, 4)
    raw = np.array([t.pvalue for t in decided.tests])
    assert decided.p_holm == pytest.approx(holm(np.concatenate([raw, np.ones(3)]))[:3])  # 2 x 3 hypotheses
    assert decided.p_holm.min() == pytest.approx(min(1.0, 6 * raw.min()))
    assert decided.separates.tolist() == (decided.p_holm < 0.05 / 4).tolist() == [False, True, True]
    again = mean_test(errors["B"], errors["C"], seed=2)  # the verdict's test, seeded per pair
    assert decided.tests[2].pvalue == again.pvalue and decided.tests[2].a_lower == again.a_lower


def test_a_real_difference_separates_and_stays_separated():
    errors, schedule = made_up(), look_schedule(4, 32)
    states = [PairState(a, b) for a, b in PAIRS]
    for look, n in enumerate(schedule, start=1):
        states = update_pairs(states, {name: e[:n] for name, e in errors.items()}, look, 0.05, len(schedule))
    ab, ac, bc = states
    assert not ab.separated and (ab.n_a, ab.n_b) == (32, 32) and ab.p_holm >= 0.05 / 4
    for state in (ac, bc):
        assert state.separated and state.better != "C" and state.look < len(schedule)
        n = schedule[state.look - 1]
        assert (state.n_a, state.n_b) == (n, n) and state.p_holm < 0.05 / 4 and state.difference > 3
    later = update_pairs(states, {"A": errors["C"], "B": errors["B"], "C": errors["A"]}, 5, 0.05, len(schedule))
    assert later[1:] == states[1:]  # a separated pair keeps its look, direction, n, t and p


def test_a_space_with_fewer_than_two_errors_waits():
    errors = {"A": np.array([1.0]), "E": np.array([1.0, 2.0]), "C": np.array([])}
    waiting = update_pairs([PairState("A", "E"), PairState("A", "C")], errors, 1, 0.01, 2)
    assert [(s.n_a, s.n_b) for s in waiting] == [(1, 2), (1, 0)]
    assert all(not s.separated and s.pvalue is None and s.better is None for s in waiting)


FAILED = 5  # the model that failed in every space


class FakeStudy:
    """run_study and load_results replaced: each call "grows" the sweeps to its n, their models' errors the first
    n of `errors` (model 5 failed, with an error that must not count), and records what it was asked."""

    def __init__(self, errors: dict[str, np.ndarray]):
        self.errors, self.calls = errors, []

    def run_study(self, study: Study, progress: bool = True) -> StudyResult:
        n = study.sweep.n
        self.calls.append((n, study.fidelity, study.retrain_top))
        failed = int(n > FAILED)
        statuses = [SweepStatus(name, n, n - failed, failed, 0) for name in study.spaces]
        return StudyResult(statuses, None, {}, None, [])

    def load_results(self, path: Path) -> pd.DataFrame:
        n = self.calls[-1][0]
        error, status = self.errors[Path(path).name][:n].copy(), np.full(n, "ok")
        error[FAILED : FAILED + 1], status[FAILED : FAILED + 1] = 99.0, "failed"
        return pd.DataFrame({"id": range(n), "status": status, "error": error})


def test_run_until_separated_holds_three_pairs_to_holm_at_alpha_over_looks(tmp_path, monkeypatch):
    errors = made_up()
    fake = FakeStudy(errors)
    monkeypatch.setattr(analysis.study, "run_study", fake.run_study)
    monkeypatch.setattr(sweeps, "load_results", fake.load_results)
    study = Study.of(spaces=("A", "B", "C"), n=4, out=tmp_path, fidelity=2)
    done = run_until_separated(study, PAIRS, 0.05, 32, progress=False)
    assert done.planned == done.made == [4, 8, 16, 32]  # A:B never separates: every look is made
    # then the fidelity re-runs and the re-trained top models, once
    assert fake.calls == [(4, 0, 0), (8, 0, 0), (16, 0, 0), (32, 0, 0), (32, 2, 2)]
    first = decide({name: e[:4] for name, e in errors.items()}, PAIRS, 0.05, 4, seed=1)  # as the first look
    # at the first look A:C is below alpha = 0.05, and below alpha / L = 0.0125 uncorrected for the pairs (p x 2
    # directions), but its Holm p is not below alpha / L: it must wait
    assert 0.05 / 4 < first.p_holm[1] < 0.05 and 2 * first.tests[1].pvalue < 0.05 / 4
    ab, ac, bc = done.pairs
    assert (ac.look, ac.better, ac.n_a, bc.look, bc.better) == (2, "A", 7, 2, "B")
    assert not ab.separated and (ab.n_a, ab.n_b) == (31, 31) and ab.p_holm > 0.05 / 4
    text = (tmp_path / "sequential.md").read_text()
    assert text == done.text and "Looks planned (models per space): 4, 8, 16, 32; made: 4, 8, 16, 32." in text
    assert "2 x 3 = 6 directed hypotheses" in text and "alpha / L = 0.05 / 4 = 0.0125 (L = 4 planned looks)" in text
    assert "| A vs C | 7 / 7 | A " in text and "| A better, at look 2 (n = 8) |" in text
    assert "| A vs B | 31 / 31 |" in text and "| no (after 4 looks) |" in text
    assert "Stopped: the last look (max-n) was reached." in text


def test_pairs_parse_and_errors_name_the_field():
    assert parse_pairs("A:E,A:regnetx", SPACES) == [("A", "E"), ("A", "regnetx")]
    assert parse_pairs(" C : E ", SPACES) == [("C", "E")]
    for text, message in [
        (
            "A:F",
            "--until-separated: A:F: 'F' is not one of the study's spaces; the study's spaces are A, C, E, regnetx",
        ),
        ("E:E", "--until-separated: E:E pairs a space with itself; the study's spaces are A, C, E, regnetx"),
        ("A-E", "--until-separated: 'A-E' is not a pair SPACE:SPACE"),
        ("A:E,E:A", "--until-separated: E:A is given twice"),
    ]:
        with pytest.raises(StudyError, match=f"^{message}"):
            parse_pairs(text, SPACES)
    for alpha in (0, 1, 1.5):
        with pytest.raises(StudyError, match=r"^--alpha: must be a number in \(0, 1\)"):
            check_settings(alpha, 200, 30)
    with pytest.raises(StudyError, match=r"^--max-n: must be >= the study's n \(30\), got 20"):
        check_settings(0.01, 20, 30)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--until-separated", "A:F"], "--until-separated: A:F: 'F' is not one of the study's spaces"),
        (["--until-separated", "A:E", "--alpha", "2"], "--alpha: must be a number in (0, 1)"),
        (["--until-separated", "A:E", "--max-n", "3"], "--max-n: must be >= the study's n (4), got 3"),
    ],
)
def test_flag_errors_are_one_line_before_any_training(flags, message, tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["study", "--spaces", "A,E", "--n", "4", "--dataset", "synthetic", "--out", str(out), *flags]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1 and not out.exists()


def test_until_separated_end_to_end(tmp_path, ray_env):
    out = tmp_path / "study"
    args = ["study", "--spaces", "A,E", "--n", "2", "--dataset", "synthetic", "--images", "128", "--top", "1"]
    args += ["--fidelity", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "anynet.cli", *args, "--no-progress", "--out", str(out)]
        + ["--until-separated", "A:E", "--alpha", "0.01", "--max-n", "4"],
        env=ray_env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("AnyNetX_A", "AnyNetX_E"):
        assert f"  {name}: 4 ok, 0 failed, 0 not finished" in done.stdout, done.stdout
    text = (out / "sequential.md").read_text()
    assert f"sequential outcome: {out / 'sequential.md'}\n{text}" in done.stdout
    # 2 vs 2 models cannot separate (a quarter of the bootstrap draws resample both spaces to constants, and those
    # count against the claim), so both looks are made
    assert "Looks planned (models per space): 2, 4; made: 2, 4." in text and "alpha / L = 0.01 / 2 = 0.005" in text
    assert "| A vs E | 4 / 4 |" in text
    # the sequential outcome comes first; the fixed-n verdict after it, labelled as not valid
    outcome, label = done.stdout.index("sequential outcome: "), done.stdout.index(AFTER_SEQUENTIAL + "\n")
    assert outcome < label < done.stdout.index("\n  Mean test error, lowest first: ")
    # the fidelity check and the re-trained selection ran once, after the last look: 2 of its 4 models per space each
    assert "brief vs 2x budget: Spearman " in done.stdout and "best models chosen at 2x the budget" in done.stdout
    for name in ("AnyNetX_A", "AnyNetX_E"):
        for rerun in ("fidelity/x2", "retrain/x2-1", "retrain/x2-2"):
            assert len((out / "sweeps" / name / rerun / "results.jsonl").read_text().splitlines()) == 2
