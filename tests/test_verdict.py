"""The verdict on planted populations, Holm's adjustment by hand, the EDF's bootstrap band, and the report's layout
(verdict first, a narrow table, the pairwise matrix) from made-up sweep folders."""

import re

import numpy as np
import pandas as pd
import pytest

from analysis.report import compare
from analysis.stats import edf, edf_band, holm
from analysis.verdict import verdict
from sweeps.config import sweep_from_dict
from sweeps.plan import prepare
from sweeps.store import SweepFolder


def planted(n=60, seed=0):
    """Three normal populations of errors: 'near' and 'twin' identical, 'far' 10 points lower."""
    rng = np.random.default_rng(seed)
    return {"near": rng.normal(40, 3, n), "far": rng.normal(30, 3, n), "twin": rng.normal(40, 3, n)}


def test_the_verdict_separates_the_far_pair_and_leaves_the_identical_pair_unresolved():
    said = verdict(planted(), {"near": "test", "far": "test", "twin": "test"}, seed=1)
    pairs = {frozenset((p.better, p.worse)): p for p in said.pairs}
    for other in ("near", "twin"):
        far = pairs[frozenset(("far", other))]
        assert far.better == "far" and far.p_holm < 0.01 and far.confidence == "separated at p < 0.01"
        assert far.low < 10 < far.high and far.low > 7 and far.n_better == far.n_worse == 60
    twin = pairs[frozenset(("near", "twin"))]
    assert not twin.resolved and twin.confidence.startswith("not resolved at this n (p = ")
    assert twin.low < 0 < twin.high and twin.p_holm >= twin.pvalue
    text = "\n".join(said.lines)
    assert said.lines[0].startswith("Mean test error, lowest first: far ") and "(n = 60)" in said.lines[0]
    assert re.fullmatch(
        r"Separated at p < 0\.01 \(Holm-adjusted\): far better than (near, twin|twin, near)\.", said.lines[1]
    )
    assert re.fullmatch(r"Not resolved at this n: (near vs twin|twin vs near) \(p = [\d.]+\)\.", said.headline[-1])
    assert re.search(
        r"far better than (near|twin): separated at p < 0\.01\. Mean test error \d+\.\d\d points lower "
        r"for far \(95% bootstrap \d+\.\d\d to \d+\.\d\d\), n = 60 vs 60\. KS D = 0\.9\d, p = ",
        text,
    )
    assert verdict(planted(), {"near": "test", "far": "test", "twin": "test"}, seed=1).lines == said.lines  # seeded


def test_the_verdict_names_which_error_and_handles_one_sweep():
    errors = planted(20)
    said = verdict(errors, {"near": "validation", "far": "validation", "twin": "validation"})
    assert said.lines[0].startswith("Mean validation error, lowest first: ") and "test error" not in str(said.lines)
    assert all("Mean validation error" in line for line in said.details[:-1])
    mixed = verdict(errors, {"near": "validation", "far": "test", "twin": "validation"})
    assert mixed.lines[0].startswith("Mean error (validation for near, test for far, validation for twin), lowest")
    assert "Mean validation error" in next(line for line in mixed.details if "far" not in line.split(":")[0])
    alone = verdict({"far": errors["far"]}, {"far": "test"})
    assert alone.pairs == [] and alone.lines[-1] == "One sweep alone: no pair to test."


def test_holm_matches_a_hand_computed_example():
    # sorted: 0.01 * 4 = 0.04; 0.02 * 3 = 0.06; 0.03 * 2 = 0.06; 0.5 * 1 = 0.5 (each at least the previous one)
    assert holm(np.array([0.03, 0.5, 0.01, 0.02])) == pytest.approx([0.06, 0.5, 0.04, 0.06])
    assert holm(np.array([0.04, 0.9])) == pytest.approx([0.08, 0.9])
    assert holm(np.array([0.6, 0.7])).tolist() == [1.0, 1.0]  # capped at 1


def test_edf_band_contains_the_edf_and_narrows_with_n():
    rng = np.random.default_rng(2)
    at = np.linspace(30, 50, 21)
    widths = []
    for n in (30, 300):
        errors = rng.normal(40, 3, n)
        low, high = edf_band(errors, at, seed=3)
        assert (low <= edf(errors, at)).all() and (edf(errors, at) <= high).all()
        widths.append(np.mean(high - low))
    assert widths[1] < widths[0] / 2  # about sqrt(10) narrower
    errors = rng.normal(40, 3, 100)
    weights = np.where(errors < 40, 3.0, 1.0)  # the weighted band follows the weighted EDF
    low, high = edf_band(errors, at, weights, seed=3)
    assert (low <= edf(errors, at, weights / weights.sum()) + 1e-12).all()
    assert (edf(errors, at, weights / weights.sum()) <= high + 1e-12).all()
    assert np.array_equal(edf_band(errors, at, seed=3)[0], edf_band(errors, at, seed=3)[0])


def sweep_folders(root, means, n=24, split=False):
    """Sweep folders with real plans and made-up errors, normal around each mean (no training); with `split`, the
    errors are recorded as validation errors too."""
    rng = np.random.default_rng(4)
    paths = []
    for i, (name, mean) in enumerate(means.items()):
        space = ("AnyNetX_A-small", "AnyNetX_E-small", "RegNetX-small")[i % 3]
        config = sweep_from_dict(
            {"name": name, "space": space, "n": n, "dataset": "synthetic", "out_dir": str(root / name)}
        )
        folder = SweepFolder(config.out_dir)
        for row in prepare(config, folder)[1]:
            error = float(rng.normal(mean, 2))
            result = {"error": error + 1, "val_error": error} if split else {"error": error}
            folder.append({**row, "status": "ok", "attempts": 1, "result": result})
        paths.append(folder.path)
    return paths


def test_the_report_puts_the_verdict_first_and_fits_seven_sweeps(tmp_path):
    means = {f"anynetx-space-{k}": 40.0 for k in "abcdef"} | {"regnetx": 30.0}
    report = compare(sweep_folders(tmp_path, means), tmp_path / "report", normalize="flops", bins=1)
    page = report.html.read_text()
    first_table = page[page.index("<table") : page.index("</table>")]
    assert len(re.findall(r"<th", first_table[: first_table.index("</tr>")])) <= 10
    verdict_at = page.index("regnetx better than anynetx-space-a: separated at p &lt; 0.01.")
    assert verdict_at < page.index("<img") and verdict_at < page.index("<table")
    matrices = re.findall(r'<table[^>]*class="[^"]*matrix.*?</table>', page, re.S)
    assert len(matrices) == 2 and "nan" not in "".join(matrices).lower()
    assert len(re.findall(r"<td><span>D \d\.\d\d /</span> <span>p [\d.e-]+</span></td>", matrices[0])) == 7 * 6
    assert matrices[0].count("<td></td>") == 7  # the diagonal
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert summary.index("## Verdict") < summary.index("KS tests") and "regnetx better than" in summary
    table = pd.read_csv(tmp_path / "report" / "table.csv")
    assert {"ks_vs_regnetx", "p_vs_regnetx", "p_holm_vs_regnetx", "mean_error", "ks_norm_vs_regnetx"} <= set(table)
    rows = table.set_index("sweep")
    a, r = "anynetx-space-a", "regnetx"
    assert rows.at[a, f"p_holm_vs_{r}"] == rows.at[r, f"p_holm_vs_{a}"] >= rows.at[a, f"p_vs_{r}"]


def test_the_report_says_validation_error_where_the_sweeps_have_a_split(tmp_path):
    folders = sweep_folders(tmp_path, {"a": 40.0, "e": 30.0}, n=8, split=True)
    summary = (compare(folders, tmp_path / "report").out / "summary.md").read_text()
    assert "- Mean validation error, lowest first: e " in summary and "test error" not in summary
    assert "- e better than a: separated at p < 0.01. Mean validation error " in summary
