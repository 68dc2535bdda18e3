"""Design spaces by measured latency: Pareto fronts, latency per flop, and a planted pair of spaces with equal flops
where one is measurably slower, which the latency-normalized comparison tells apart and the flops-normalized one
does not."""

import re
import numpy as np
import pandas as pd
import pytest
import torch

from analysis import AnalysisError, compare
from analysis.load import load_sweeps
from analysis.pareto import latency_per_flop, pareto_mask, pareto_table
from analysis.report import unsupported
from anynet.cli import main
from anynet.counting import complexity
from anynet.model import AnyNet
from anynet.spec import AnyNetSpec
from sweeps import Measure, SweepFolder, load_results
from sweeps.measure import measure, torch_threads
from planted import ok_record, with_result
from sweeps import Measurement, PlanRow

EXTERNAL = re.compile(r"(?:src|href)=['\"]?https?://")  # a link out (base64 images may spell http)

N = 20  # models per planted space


def test_pareto_mask_keeps_what_nothing_beats():
    cost = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    error = np.array([30.0, 25.0, 28.0, 26.0, 20.0, 20.0, 1.0])
    assert pareto_mask(cost, error).tolist() == [True, True, False, False, True, False, False]
    assert pareto_mask(np.array([1.0, 1.0]), np.array([5.0, 5.0])).tolist() == [True, True]  # exact ties: both


def test_pareto_table_and_latency_per_flop_per_sweep():
    frame = pd.DataFrame(
        {
            "sweep": ["a"] * 3 + ["b"] * 2,
            "id": [0, 1, 2, 0, 1],
            "error": [30.0, 20.0, 25.0, 22.0, 21.0],
            "latency_ms": [1.0, 2.0, 3.0, 4.0, np.nan],
            "flops": [1e9, 2e9, 3e9, 1e9, 1e9],
            "throughput_ips": [100.0] * 5,
            "throughput_batch": [8.0] * 5,
            "memory_mb": [5.0] * 5,
            "memory_method": ["saved_tensors"] * 5,
            "memory_batch": [4.0] * 5,
            "measure_device": ["cpu"] * 5,
            "measure_threads": [1.0] * 5,
        }
    )
    front = pareto_table(frame, ["a", "b"])
    assert front[["sweep", "id"]].values.tolist() == [["a", 0], ["a", 1], ["b", 0]]
    per = latency_per_flop(frame, ["a", "b"]).set_index("sweep")
    assert per.loc["a", "ms_per_gflop"] == 1.0 and per.loc["a", "n"] == 3 and per.loc["b", "n"] == 1
    assert per.loc["b", "relative"] == 4.0 and per.loc["a", "measured_on"] == "cpu, 1 thread"


def _spec(widths, block):
    """A 3-stage 28 px model: shallow and dense (one basic block per stage), or deep and depthwise (3, 6, 6 X blocks
    with bottleneck ratio 4 and group width 1, MobileNet's inverted bottleneck): at equal flops the second runs many
    more, smaller kernels, which take longer per multiply-add (measured below, not assumed)."""
    dense = block == "res_basic_block"
    extra = {} if dense else {"bot_muls": [4.0] * 3, "group_ws": [1] * 3}
    return AnyNetSpec(
        stem_type="res_stem_cifar",
        stem_w=16,
        block_type=block,
        depths=[1, 1, 1] if dense else [3, 6, 6],
        widths=[int(w) for w in widths],
        strides=[1, 2, 2],
        num_classes=10,
        in_channels=1,
        resolution=28,
        **extra,
    )


def _dense_like(flops: int) -> AnyNetSpec:
    """The dense model (widths w, 2w, 4w) whose flops are nearest to `flops`."""
    candidates = [_spec((w, 2 * w, 4 * w), "res_basic_block") for w in range(2, 128)]
    return min(candidates, key=lambda s: abs(complexity(s).flops - flops))


def _measured(specs, rounds=3):
    """Each model measured as a sweep measures it (sweeps.measure, 1 thread), in `rounds` rounds over all models;
    each keeps its least disturbed round (lowest latency), as this machine's cores may be shared."""
    models = [AnyNet(spec).to(memory_format=torch.channels_last) for spec in specs]
    options = Measure(threads=1, min_runs=7, max_runs=7, throughput_batch=2)
    cpu, best = torch.device("cpu"), [None] * len(specs)
    with torch_threads(1):  # the training-memory forward too: 2 threads on 2 busy cores spin badly
        for _ in range(rounds):
            for i, (spec, model) in enumerate(zip(specs, models)):
                got = measure(model, spec, device=cpu, train_batch=2, eval_batch=2, train_seconds=0.0, options=options)
                if best[i] is None or got.latency_ms < best[i].latency_ms:
                    best[i] = got
    return best


def _write(path, name, specs, speeds):
    folder = SweepFolder(path)
    folder.write_settings({"name": name, "config": {"recipe": {"images": 1024}}})
    for i, (spec, speed) in enumerate(zip(specs, speeds)):
        cx = complexity(spec)
        error = 40.0 - 5 * np.log2(cx.flops / 5e6)  # the same known function of flops in both spaces
        result = {"error": error, "val_error": None, "images": 1024, "train_size": 1024, **vars(speed)}
        folder.append(ok_record(PlanRow(i, name, spec, cx), **result))


@pytest.fixture(scope="module")
def equal_flops(tmp_path_factory):
    """Two spaces of 12 models each, pairwise of equal flops (within a few %) and equal error (error falls with
    flops as a known function), their latencies measured for real: depthwise-heavy vs dense."""
    root = tmp_path_factory.mktemp("planted")
    scales = np.geomspace(0.75, 5, N)  # flops about evenly spread on a log scale over 5M-170M, as the bins are
    depthwise = [_spec((8 * k, 16 * k, 32 * k), "res_bottleneck_block") for k in scales]
    flops = [complexity(s).flops for s in depthwise]
    dense = [_dense_like(f) for f in flops]
    assert all(abs(complexity(d).flops / f - 1) < 0.08 for d, f in zip(dense, flops))
    speeds = _measured(dense + depthwise)
    _write(root / "dense", "dense", dense, speeds[:N])
    _write(root / "depthwise", "depthwise", depthwise, speeds[N:])
    return [root / "dense", root / "depthwise"]


def test_latency_normalized_edfs_tell_equal_flops_spaces_apart(equal_flops, tmp_path):
    frames = [load_results(d) for d in equal_flops]
    per_flop = [float(np.median(f.latency_ms / (f.flops / 1e9))) for f in frames]
    assert per_flop[1] > 1.2 * per_flop[0]  # depthwise: slower per multiply-add (1.48x on a loaded machine)
    report = compare(load_sweeps(equal_flops), tmp_path / "report", normalize=["flops", "latency"])
    row = report.table.set_index("sweep").loc["dense"]
    assert row.ks_norm_flops_vs_depthwise < 0.25 and row.p_norm_flops_vs_depthwise > 0.5  # by flops: alike
    assert row.ks_norm_latency_vs_depthwise > 0.6 and row.p_norm_latency_vs_depthwise < 0.05  # by latency: apart
    assert row.ks_norm_vs_depthwise == row.ks_norm_flops_vs_depthwise  # the first metric keeps the old columns
    per = report.table.set_index("sweep").ms_per_gflop
    assert per["depthwise"] > per["dense"] and (report.table.ms_per_gflop_n == N).all()
    page = (tmp_path / "report" / "report.html").read_text()
    assert "ms per GFLOP" in page and "Pareto" in page and "cpu, 1 thread" in page and not EXTERNAL.search(page)
    for figure in ("edf_flops.png", "edf_latency.png", "pareto_latency.png", "pareto_flops.png", "latency_flops.png"):
        assert (tmp_path / "report" / figure).is_file(), figure
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "## Measured speed" in summary and "ms per GFLOP" in summary and "normalized by latency" in summary
    front = pd.read_csv(tmp_path / "report" / "pareto.csv")
    assert set(front.columns) >= {"sweep", "id", "error", "latency_ms", "flops"} and set(front.sweep) == {
        "dense",
        "depthwise",
    }


def test_cli_compare_normalized_by_latency(equal_flops, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["compare", *map(str, equal_flops), "--normalize", "latency", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "normalized by latency" in printed and "dense: median " in printed
    assert f"n={N}; " in printed and "latency: batch 1, median of timed runs" in printed
    table = pd.read_csv(out / "table.csv")
    assert "ks_norm_vs_depthwise" in table and "ks_norm_latency_vs_depthwise" in table


def test_latency_normalization_refuses_unmeasured_sweeps(equal_flops, tmp_path):
    old = tmp_path / "old"
    folder = SweepFolder(old)
    folder.write_settings({"name": "old"})
    for record in SweepFolder(equal_flops[0]).records():
        result = {k: v for k, v in record.result.to_dict().items() if not k.startswith(("latency", "measure"))}
        folder.append(with_result(record, **result))
    with pytest.raises(AnalysisError, match=f"normalize: latency: old has no measured latency for {N} of {N} models"):
        compare(load_sweeps([equal_flops[1], old]), tmp_path / "bad", normalize="latency")
    report = compare(
        load_sweeps([equal_flops[1], old]), tmp_path / "mixed", normalize="flops"
    )  # the rest of the report works
    assert "Not measured: old" in (tmp_path / "mixed" / "summary.md").read_text() and report.bins
    mixed = load_sweeps([equal_flops[1], old])
    assert unsupported(mixed, "latency") == (
        f"old has no measured latency for {N} of {N} models (recorded before anynet measured models, or measured "
        "with no success)"
    )
    assert unsupported(mixed, "flops") is None and unsupported(load_sweeps(equal_flops), "latency") is None


def test_a_normalization_is_unsupported_where_a_sweep_leaves_the_shared_range_empty(equal_flops, tmp_path):
    """Two sweeps whose flops ranges do not overlap: no shared range to normalize over, said as data."""
    far = tmp_path / "far"
    _write(far, "far", [_dense_like(f) for f in (500_000, 600_000, 700_000)], [Measurement()] * 3)
    reason = unsupported(load_sweeps([equal_flops[0], far]), "flops")
    assert reason is not None and reason.startswith("normalized by flops: ")
