"""Analysis on populations with known answers, the plots, and the report from real (tiny) sweeps."""

import re
import struct
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import (
    AnalysisError,
    bootstrap_best,
    compare,
    edf,
    ks_test,
    load_sweeps,
    normalized_weights,
    search_efficiency,
)
from analysis import plots
from anynet.spec import AnyNetSpec

EXTERNAL = re.compile(r"(?:src|href)=['\"]?https?://")  # a link out (base64 images may spell http)


def test_edf_is_exact_at_chosen_points():
    errors = np.array([3.0, 1.0, 2.0, 2.0])
    assert edf(errors, [0, 1, 1.5, 2, 2.5, 3, 9]).tolist() == [0, 0.25, 0.25, 0.75, 0.75, 1, 1]
    weights = np.array([0.5, 0.1, 0.2, 0.2])
    assert edf(errors, [1, 2, 3]).tolist() == [0.25, 0.75, 1.0]
    assert np.allclose(edf(errors, [1, 2, 3], weights), [0.1, 0.5, 1.0])


def test_ks_finds_a_shift_and_rarely_flags_one_distribution():
    rng = np.random.default_rng(0)
    assert ks_test(rng.normal(size=200), rng.normal(1.0, size=200)).pvalue < 1e-6
    false_alarms = sum(ks_test(rng.normal(size=100), rng.normal(size=100)).pvalue < 0.05 for _ in range(200))
    assert false_alarms <= 20  # a 5% test: expect about 10 of 200, allow twice that


def test_normalized_ks_in_one_bin_is_the_plain_test_by_permutation():
    from scipy import stats

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(0.3, size=70)
    plain, one_bin = ks_test(a, b), ks_test(a, b, np.zeros(50, int), np.zeros(70, int))
    assert one_bin.statistic == pytest.approx(plain.statistic)
    exact = stats.ks_2samp(a, b, method="exact").pvalue
    assert 0.02 < exact < 0.5 and one_bin.pvalue == pytest.approx(exact, abs=0.02)  # 4,999 permutations
    assert ks_test(a, b, np.zeros(50, int), np.zeros(70, int)) == one_bin  # seeded
    far = ks_test(a, b + 10, np.zeros(50, int), np.zeros(70, int), resamples=99)
    assert far.statistic == pytest.approx(1) and far.pvalue == 1 / 100  # (1 + #{D* >= D}) / (1 + resamples)


def test_normalized_ks_statistic_is_the_gap_between_the_plotted_normalized_edfs():
    from analysis.stats import bin_index

    rng = np.random.default_rng(7)
    fa, fb = rng.uniform(1, 8, 80), 1 + 7 * rng.beta(1, 3, 60)
    a, b = 50 - 3 * fa + rng.normal(size=80), 50 - 3 * fb + rng.normal(size=60)
    wa, wb = normalized_weights(fa, 4, 1.5, 7), normalized_weights(fb, 4, 1.5, 7)
    points = np.concatenate([a, b])
    gap = np.max(np.abs(edf(a, points, wa) - edf(b, points, wb)))
    test = ks_test(a, b, bin_index(fa, 4, 1.5, 7), bin_index(fb, 4, 1.5, 7))
    assert test.statistic == pytest.approx(gap) and 0 < test.pvalue <= 1
    assert ks_test(a, b).statistic != pytest.approx(gap)  # not the plain statistic
    with pytest.raises(AnalysisError, match="strata of both samples or of neither"):
        ks_test(a, b, bin_index(fa, 4, 1.5, 7))
    with pytest.raises(AnalysisError, match="every bin must hold models of both samples"):
        ks_test(a, b, np.zeros(80, int), np.ones(60, int))


def test_bins_are_log_spaced_where_the_range_spans_more_than_2x():
    from analysis.stats import bin_edges, bin_index

    assert np.allclose(bin_edges(4, 1, 16), [1, 2, 4, 8, 16])  # 16x: log-spaced
    assert np.allclose(bin_edges(4, 10, 20), [10, 12.5, 15, 17.5, 20])  # 2x: equal-width
    assert np.allclose(bin_edges(2, 0, 20), [0, 10, 20])  # from 0: equal-width
    assert bin_index(np.array([0.5, 1, 1.9, 2, 15.9, 16, 17]), 4, 1, 16).tolist() == [-1, 0, 0, 1, 3, 3, -1]


def test_log_spaced_bins_leave_less_bias_than_equal_width_ones_over_a_wide_range():
    from analysis.stats import bin_edges

    rng = np.random.default_rng(8)
    gaps = {"log": [], "equal": []}
    for _ in range(50):  # a null: error falls with log flops; over 0.1-6.4, a samples flops log-uniform, b uniform
        fa, fb = 0.1 * 2 ** rng.uniform(0, 6, 400), rng.uniform(0.1, 6.4, 400)
        a, b = 40 - 4 * np.log2(fa) + rng.normal(size=400), 40 - 4 * np.log2(fb) + rng.normal(size=400)
        low, high = max(fa.min(), fb.min()), min(fa.max(), fb.max())
        for kind, edges in (("log", bin_edges(10, low, high)), ("equal", np.linspace(low, high, 11))):
            means = [normalized_mean(f, e, edges) for f, e in ((fa, a), (fb, b))]
            gaps[kind].append(means[1] - means[0])
    log, equal = abs(np.mean(gaps["log"])), abs(np.mean(gaps["equal"]))
    assert equal > 0.1 and log < equal / 2  # error points between the spaces' normalized mean errors


def normalized_mean(flops, errors, edges):
    """The mean error with each bin of `edges` weighted equally (every bin must hold a model)."""
    index = np.searchsorted(edges, flops, side="right") - 1
    index[flops == edges[-1]] = len(edges) - 2
    inside = (flops >= edges[0]) & (flops <= edges[-1])
    counts = np.bincount(index[inside], minlength=len(edges) - 1)
    assert (counts > 0).all()
    return np.mean(np.bincount(index[inside], weights=errors[inside], minlength=len(edges) - 1) / counts)


def test_fewer_than_5_bins_warn():
    from analysis.stats import FewBinsWarning, normalize

    rng = np.random.default_rng(9)
    values = {"a": rng.uniform(10, 20, 50), "b": rng.uniform(10, 20, 50)}
    with pytest.warns(FewBinsWarning, match="only 3 bins .*barely corrects for flops"):
        few = normalize(values, 3, "flops")
    assert few.spacing == "equal-width" and "3 equal-width bins over the shared flops range" in few.words
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enough = normalize(values, metric="flops")
    assert enough.bins == 10 and enough.warning == ""
    assert normalize({"a": np.linspace(1, 9, 60), "b": np.linspace(1, 9, 60)}).spacing == "log-spaced"


def test_normalized_weights_give_every_bin_equal_mass():
    rng = np.random.default_rng(2)
    flops = np.concatenate([rng.uniform(0, 10, 90), rng.uniform(10, 20, 10), [25.0]])  # skewed, one outside
    w = normalized_weights(flops, 4, 0, 20)
    assert w.sum() == pytest.approx(1.0) and w[-1] == 0
    bins = np.minimum((flops[:-1] / 5).astype(int), 3)
    assert np.allclose(np.bincount(bins, weights=w[:-1]), 0.25)
    with pytest.raises(AnalysisError, match=r"bin 2 of 4 \(5-10\) holds no model; use fewer bins"):
        normalized_weights(np.array([1.0, 2.0, 12.0, 19.0]), 4, 0, 20)


def test_most_bins_is_the_most_every_population_fills():
    from analysis import most_bins

    full = np.linspace(0, 20, 41)
    assert most_bins([full, full], 0, 20) == 10 and most_bins([full], 0, 20, limit=4) == 4
    gappy = np.array([0.0, 1.0, 2.0, 12.0, 19.0, 20.0])  # nothing in 2-12: 3 bins (0-6.7-13.3-20) is the most
    assert most_bins([full, gappy], 0, 20) == 3
    assert all((normalized_weights(v, 3, 0, 20) > 0).any() for v in (full, gappy))
    with pytest.raises(AnalysisError, match="bin 1 of 1"):
        most_bins([full, np.array([30.0])], 0, 20)


def test_bootstrap_interval_covers_a_planted_best_region():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 100, 400)
    frame = pd.DataFrame({"x": x, "noise": rng.uniform(0, 100, 400), "error": np.abs(x - 70) + rng.normal(0, 2, 400)})
    boot = bootstrap_best(frame, ["x", "noise"], draws=2000)
    low, median, high = boot.ranges.loc["x", ["low", "median", "high"]]
    assert low <= 70 <= high and high - low < 15 and abs(median - 70) < 5
    n_low, n_high = boot.ranges.loc["noise", ["low", "high"]]
    assert n_high - n_low > 50  # an irrelevant parameter gets a wide range
    assert boot.error_low <= boot.error_median <= boot.error_high


def test_the_best_of_a_random_quarter_reaches_the_observed_minimum_at_its_low_end():
    errors = np.random.default_rng(6).uniform(20, 60, 200)
    boot = bootstrap_best(pd.DataFrame({"error": errors}), [])
    assert boot.error_low == errors.min() < boot.error_median  # a quarter holds the best model ~22% of the time


def test_search_efficiency_improves_with_more_models():
    errors = np.random.default_rng(4).uniform(10, 50, 64)
    table = search_efficiency(errors)
    assert table.m.tolist() == [1, 2, 4, 8, 16, 32, 64]
    assert table["mean"].is_monotonic_decreasing and table["mean"].iloc[0] == pytest.approx(errors.mean())
    assert (table.low <= table["mean"]).all() and (table["mean"] <= table.high).all()
    best = errors[np.random.default_rng(5).integers(0, 64, size=(200_000, 8))].min(axis=1)  # simulated, m = 8
    row = table.set_index("m").loc[8]
    assert row["mean"] == pytest.approx(best.mean(), abs=0.05)
    assert (row.low, row.high) == tuple(np.quantile(best, [0.05, 0.95], method="inverted_cdf"))


def test_edf_band_is_simultaneous_at_kish_effective_n():
    from scipy import stats

    from analysis.stats import edf_band

    errors = np.random.default_rng(10).normal(40, 3, 64)
    at = np.sort(errors)
    low, high = edf_band(errors, at)
    inner = (low > 0) & (high < 1)
    assert np.allclose((high - low)[inner] / 2, stats.kstwo.ppf(0.95, 64))
    weights = np.where(np.arange(64) < 32, 1.0, 3.0)
    weights[:4] = 0  # left out: 28 models of weight 1 and 32 of weight 3 remain
    low, high = edf_band(errors, at, weights)
    inner = (low > 0) & (high < 1)
    assert np.allclose((high - low)[inner] / 2, stats.kstwo.ppf(0.95, 48))  # Kish: 124^2 / 316 = 48.7
    assert np.all(low <= edf(errors, at, weights / weights.sum()) + 1e-12)


def test_edf_legend_counts_the_effective_n_of_the_models_in_range():
    values = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    assert plots.edf_label("a", values, None) == "a (n=5, min 10.00, mean 30.00)"
    weights = np.array([0.0, 0.5, 0.25, 0.25, 0.0])  # 10 and 50 outside the shared range
    assert plots.edf_label("a", values, weights) == "a (effective n=3 of 3, min 20.00, mean 27.50)"


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_every_plot_writes_a_png_of_the_expected_size_without_warnings(tmp_path):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "id": range(20),
            "error": rng.uniform(10, 40, 20),
            "w1": rng.choice([8, 16, 64], 20),
            "spec": [AnyNetSpec(block_type="res_basic_block", depths=[1, 2], widths=[16, 32], strides=[2, 2])] * 20,
        }
    )
    boot = bootstrap_best(frame, ["w1"], draws=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = [
            plots.edf_plot(
                {"a": (frame.error.to_numpy(), None), "b": (frame.error.to_numpy() + 3, np.ones(20))},
                tmp_path / "edf.png",
                "EDF",
            ),
            plots.param_plot(frame, "w1", boot, tmp_path / "w1.png", "w1"),
            plots.widths_plot(frame, tmp_path / "widths.png", "widths"),
            plots.search_plot({"a": search_efficiency(frame.error.to_numpy())}, tmp_path / "search.png"),
        ]
    for path in paths:
        assert png_size(path) == plots.SIZE and path.stat().st_size > 5000
    assert frame.spec[0].block_widths == (16, 32, 32)


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory, ray_env_module):
    """Two tiny real sweeps (AnyNetX_A and AnyNetX_E at small scale), run through the anynet command."""
    root = tmp_path_factory.mktemp("sweeps")
    folders = []
    for space in ("AnyNetX_A-small", "AnyNetX_E-small"):
        name = space.split("-")[0].lower()
        path = root / f"{name}.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "name": name,
                    "out_dir": str(root / name),
                    "space": space,
                    "n": 8,
                    "flops": "1M:6M",
                    "seed": 1,
                    "overrides": {"params.d.high": 3, "params.w.high": 64},
                    "dataset": "synthetic",
                    "recipe": {"images": 1024},
                    "resources": {"cpus": 1},
                    "max_concurrent": 2,
                }
            )
        )
        done = subprocess.run(
            [sys.executable, "-m", "anynet.cli", "sweep", "run", str(path), "--no-progress"],
            env=ray_env_module,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        folders.append(root / name)
    return folders


def test_the_report_builds_from_real_sweeps(two_sweeps, tmp_path):
    out = tmp_path / "report"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "anynet.cli",
            "compare",
            *map(str, two_sweeps),
            "--out",
            str(out),
            "--normalize",
            "flops",
            "--bins",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"report: {out / 'report.html'}" in done.stdout
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 5 and not EXTERNAL.search(page)  # self-contained
    table = pd.read_csv(out / "table.csv")
    assert table.sweep.tolist() == ["anynetx_a", "anynetx_e"]
    assert {"min_error", "min_error_low", "min_error_high", "ks_norm_vs_anynetx_e"} <= set(table.columns)
    summary = (out / "summary.md").read_text()
    assert (table.ok == 8).all() and "KS tests" in summary
    assert "(best of a random quarter of the models: median [2.5%, 97.5%] " in summary
    assert "Warning: normalized by flops with only 1 bin (fewer than 5): the normalization then barely" in summary
    assert "Normalized by flops: 1 log-spaced bin over the shared flops range" in summary  # 1M-6M: log-spaced
    assert "best of a random quarter of the models: median [2.5%, 97.5%]</th>" in page
    assert "simultaneous 95% band" in page and "95% bootstrap" not in page
    assert (table.median_e_fit >= 0).all() and (out / "e_fit.png").is_file() and (out / "s1_e_fit.png").is_file()
    single = compare(load_sweeps([two_sweeps[0]]), tmp_path / "one")  # a single sweep works too
    assert len(single.table) == 1 and (tmp_path / "one" / "edf.png").is_file()
    with pytest.raises(AnalysisError, match="normalize: 'macs' is not one of flops, params, acts"):
        compare(load_sweeps(two_sweeps), tmp_path / "bad", normalize="macs")
    with pytest.raises(AnalysisError, match=r"normalized by params: \w+: bin \d+ of 8 .* holds no model; use fewer"):
        compare(
            load_sweeps(two_sweeps), tmp_path / "bad", normalize="params", bins=8
        )  # 8 models cannot fill 8 bins each
