"""Growing a study until pairs of spaces separate: the look schedule, the Bonferroni-corrected rule's false-stop
rate on null pairs (and the uncorrected rule's excess), a real difference separating early, the errors, and the
--until-separated flag end to end."""

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from analysis.sequential import PairState, check_settings, look_schedule, parse_pairs, update_pairs
from analysis.study import StudyError
from anynet.cli import main

SPACES = ("A", "C", "E", "regnetx")


def test_look_schedule_doubles_and_ends_at_max_n():
    assert look_schedule(30, 200) == [30, 60, 120, 200]
    assert look_schedule(30, 240) == [30, 60, 120, 240]
    assert look_schedule(4, 8) == [4, 8]
    assert look_schedule(30, 30) == [30]


def null_runs(runs: int, schedule: list[int], alpha: float, seed: int = 0) -> tuple[float, float]:
    """Sequential runs on pairs of spaces with the same error distribution, each look's samples extending the
    previous look's as a growing study's do: the fraction ever declared separated by the corrected rule
    (update_pairs at alpha / L) and by the uncorrected one (p < alpha at any look; a run the corrected rule stops
    has already stopped the uncorrected one, so its later looks are not needed)."""
    errors = np.random.default_rng(seed).normal(size=(2 * runs, schedule[-1]))
    states = [PairState(f"a{i}", f"b{i}") for i in range(runs)]
    uncorrected = np.zeros(runs, dtype=bool)
    for look, n in enumerate(schedule, start=1):
        samples = {f"{side}{i}": errors[2 * i + j, :n] for i in range(runs) for j, side in enumerate("ab")}
        states = update_pairs(states, samples, look, alpha / len(schedule))
        uncorrected |= np.array([s.pvalue < alpha for s in states])
    return float(np.mean([s.separated for s in states])), float(uncorrected.mean())


def test_false_stop_rate_on_null_pairs_is_at_most_alpha_only_when_corrected():
    alpha, runs, schedule = 0.1, 2000, look_schedule(30, 240)
    margin = 3 * np.sqrt(alpha * (1 - alpha) / runs)  # three binomial standard errors at rate alpha
    corrected, uncorrected = null_runs(runs, schedule, alpha)
    assert corrected <= alpha + margin, corrected
    assert uncorrected > alpha + margin, uncorrected  # p < alpha at each of 4 looks stops too often


def test_a_real_difference_separates_early_and_stays_separated():
    rng = np.random.default_rng(1)
    schedule, alpha = look_schedule(30, 240), 0.01
    threshold = alpha / len(schedule)
    a, b, c = rng.normal(size=240), rng.normal(1.0, size=240), rng.normal(size=240)
    states = [PairState("A", "E"), PairState("A", "C")]
    for look, n in enumerate(schedule, start=1):
        states = update_pairs(states, {"A": a[:n], "E": b[:n], "C": c[:n]}, look, threshold)
    shifted, same = states
    assert shifted.look is not None and shifted.look < len(schedule)
    n = schedule[shifted.look - 1]
    assert (shifted.n_a, shifted.n_b) == (n, n) and shifted.pvalue < threshold
    assert shifted.pvalue == pytest.approx(stats.ks_2samp(a[:n], b[:n]).pvalue)
    assert not same.separated and (same.n_a, same.n_b) == (240, 240)
    later = update_pairs(states, {"A": a, "E": a, "C": a}, len(schedule) + 1, threshold)
    assert later[0] == shifted  # a separated pair keeps its look, n, D and p


def test_a_space_with_fewer_than_two_errors_waits():
    state = update_pairs([PairState("A", "E")], {"A": np.array([1.0]), "E": np.array([1.0, 2.0])}, 1, 0.01)[0]
    assert not state.separated and state.pvalue is None and (state.n_a, state.n_b) == (1, 2)


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
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("AnyNetX_A", "AnyNetX_E"):
        assert f"  {name}: 4 ok, 0 failed, 0 not finished" in done.stdout, done.stdout
    text = (out / "sequential.md").read_text()
    assert f"sequential outcome: {out / 'sequential.md'}\n{text}" in done.stdout
    # 4 vs 4 models cannot reach p < 0.01 / 2 (the smallest KS p-value there is 2/70), so both looks are made
    assert "Looks planned (models per space): 2, 4; made: 2, 4." in text and "alpha / L = 0.01 / 2 = 0.005" in text
    assert "| A vs E | 4 / 4 |" in text
    # the fidelity check ran once, after the last look, on 2 of its 4 models per space
    assert "brief vs 4x budget: Spearman " in done.stdout
    for name in ("AnyNetX_A", "AnyNetX_E"):
        assert len((out / "sweeps" / name / "fidelity" / "x4" / "results.jsonl").read_text().splitlines()) == 2
