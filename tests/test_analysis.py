"""Analysis on populations with known answers, the plots, and the report from real (tiny) sweeps."""

import struct
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import AnalysisError, bootstrap_best, compare, edf, ks_test, normalized_weights, search_efficiency
from analysis import plots
from anynet.spec import AnyNetSpec


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


def test_weighted_ks_with_equal_weights_matches_the_plain_statistic():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(0.5, size=70)
    plain, weighted = ks_test(a, b), ks_test(a, b, np.ones(50), np.ones(70))
    assert weighted.statistic == pytest.approx(plain.statistic)
    assert weighted.pvalue == pytest.approx(stats_asymptotic(plain.statistic, 50, 70), rel=1e-9)


def stats_asymptotic(d, n, m):
    from scipy import stats

    return stats.kstwobign.sf(np.sqrt(n * m / (n + m)) * d)


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


def test_search_efficiency_improves_with_more_models():
    errors = np.random.default_rng(4).uniform(10, 50, 64)
    table = search_efficiency(errors, draws=500)
    assert table.m.tolist() == [1, 2, 4, 8, 16, 32, 64]
    assert table["mean"].is_monotonic_decreasing and table["mean"].iloc[0] == pytest.approx(errors.mean(), abs=2)
    assert (table.low <= table["mean"]).all() and (table["mean"] <= table.high).all()


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
            plots.search_plot({"a": search_efficiency(frame.error.to_numpy(), draws=100)}, tmp_path / "search.png"),
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
            timeout=300,
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
    assert page.count("data:image/png;base64,") >= 5 and "http" not in page  # self-contained
    table = pd.read_csv(out / "table.csv")
    assert table.sweep.tolist() == ["anynetx_a", "anynetx_e"]
    assert {"min_error", "min_error_low", "min_error_high", "ks_norm_vs_anynetx_e"} <= set(table.columns)
    assert (table.ok == 8).all() and "KS tests" in (out / "summary.md").read_text()
    assert (table.median_e_fit >= 0).all() and (out / "e_fit.png").is_file() and (out / "s1_e_fit.png").is_file()
    single = compare([two_sweeps[0]], tmp_path / "one")  # a single sweep works too
    assert len(single.table) == 1 and (tmp_path / "one" / "edf.png").is_file()
    with pytest.raises(AnalysisError, match="normalize: 'macs' is not one of flops, params, acts"):
        compare(two_sweeps, tmp_path / "bad", normalize="macs")
    with pytest.raises(AnalysisError, match=r"normalized by params: bin \d+ of 8 .* holds no model; use fewer bins"):
        compare(two_sweeps, tmp_path / "bad", normalize="params", bins=8)  # 8 models cannot fill 8 bins each
