"""Measured latency, throughput and training memory: recorded with every model of a sweep, read back as columns
(NaN for older records), and the measurement itself (time-boxed, per model, leaving training as it was)."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
import yaml

from random_specs import TINY
from sweeps import Measure, Recipe, SweepFolder, load_results, synthetic, train
from planted import append_line
from sweeps.measure import measure, timed_runs, training_memory
from sweeps.records import MEASURED
from anynet.model import AnyNet

QUICK = Recipe(images=512, batch_size=32, lr=0.2)


@pytest.fixture(scope="module")
def data():
    return synthetic(n_train=1024, n_test=256)


def test_a_measured_training_run_records_every_key_and_learns_the_same(data):
    plain = train(TINY, data, QUICK, seed=1, threads=1)
    measured = train(TINY, data, QUICK, seed=1, threads=1, measure=True)
    assert plain.latency_ms is None and plain.measure_s is None  # a plain call does not measure
    assert measured.epochs == plain.epochs and measured.error == plain.error  # measuring comes after training
    record = measured.to_dict()
    assert set(MEASURED) <= set(record) and record["measure_error"] is None
    assert record["latency_ms"] > 0 and record["latency_batch"] == 1
    assert record["throughput_ips"] > 0 and record["throughput_batch"] == QUICK.eval_batch_size
    assert record["memory_mb"] > 0 and record["memory_method"] == "saved_tensors" and record["memory_batch"] == 32
    assert record["measure_device"] == "cpu" and record["measure_threads"] == 1
    assert record["measure_model"] == "bn_folded_eval" and 0 < record["measure_s"] < record["seconds"]
    assert all(runs >= 3 for runs in record["measure_runs"])
    json.dumps(record, allow_nan=False)


def test_measure_options_set_threads_batch_and_leave_the_process_as_it_was(data):
    torch.set_num_threads(2)
    result = train(TINY, data, QUICK, threads=2, measure=Measure(threads=1, throughput_batch=16, budget_s=0.05))
    assert result.measure_threads == 1 and result.threads == 2 and torch.get_num_threads() == 2
    assert result.throughput_batch == 16 and result.latency_ms > 0
    failed = train(TINY, data, Recipe(images=256, batch_size=32, lr=1e30), threads=1, measure=True)  # overflows
    assert failed.status == "diverged" and failed.latency_ms is None  # only models that trained ok are measured


def test_runs_are_time_boxed_but_at_least_min_runs():
    calls = []
    times = timed_runs(lambda: calls.append(1), torch.device("cpu"), warmup=2, min_runs=3, max_runs=50, budget_s=0)
    assert len(times) == 3 and len(calls) == 5
    times = timed_runs(lambda: None, torch.device("cpu"), warmup=0, min_runs=3, max_runs=7, budget_s=60)
    assert len(times) == 7


def test_training_memory_grows_with_the_batch_and_leaves_the_model_alone():
    model = AnyNet(TINY).to(memory_format=torch.channels_last)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    small, method = training_memory(model, TINY, 8, torch.device("cpu"), channels_last=True)
    large, _ = training_memory(model, TINY, 32, torch.device("cpu"), channels_last=True)
    assert method == "saved_tensors" and 0 < small < large
    params = sum(p.numel() * 4 for p in model.parameters()) / 2**20
    assert large - small > 2 * params  # activations scale with the batch, the model's state does not
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN statistics untouched


def test_training_memory_frees_what_it_measured():
    """It once kept every saved activation alive (a reference cycle through its hook), 75 MB per model in a sweep."""

    def anonymous_mb() -> float:
        with open("/proc/self/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Anonymous:")) / 1024

    if not os.path.exists("/proc/self/smaps_rollup"):
        pytest.skip("needs Linux's /proc")
    model = AnyNet(TINY).to(memory_format=torch.channels_last)
    measured, _ = training_memory(model, TINY, 256, torch.device("cpu"), channels_last=True)
    before = anonymous_mb()
    for _ in range(8):
        training_memory(model, TINY, 256, torch.device("cpu"), channels_last=True)
    assert anonymous_mb() - before < 2 * measured  # leaking, it grows by about 8 x measured


def test_measure_on_a_device_that_is_not_there_is_one_line():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from sweeps import MeasureError

    with pytest.raises(MeasureError, match="device: cuda requested, but this torch"):
        measure(
            AnyNet(TINY),
            TINY,
            device=torch.device("cpu"),
            train_batch=8,
            eval_batch=8,
            train_seconds=1.0,
            options=Measure(device="cuda"),
        )


def write_old_sweep(path):
    """A sweep folder as anynet wrote it before it measured models: no measurement keys in its records."""
    folder = SweepFolder(path)
    folder.write_settings({"name": "old", "config": {"recipe": {"images": 512}}})
    spec = TINY.to_dict()
    for i in range(3):
        result = {"error": 20.0 + i, "val_error": None, "train_loss": 1.0, "images": 512, "steps": 16}
        result |= {"train_size": 1024, "train_seconds": 1.0, "images_per_s": 512.0, "device": "cpu", "threads": 1}
        append_line(
            folder,
            {"id": i, "spec": spec, "flops": 10**6, "params": 10**4, "acts": 10**5, "status": "ok", "result": result},
        )
    return folder


def test_an_old_results_file_loads_with_empty_measurement_columns(tmp_path):
    write_old_sweep(tmp_path / "old")
    frame = load_results(tmp_path / "old")
    assert len(frame) == 3 and frame.error.tolist() == [20.0, 21.0, 22.0]
    for column in ("latency_ms", "throughput_ips", "memory_mb", "measure_s"):
        assert frame[column].dtype == float and frame[column].isna().all()
    assert frame.memory_method.isna().all()


def test_every_record_of_a_new_sweep_is_measured(tmp_path, ray_env):
    path = tmp_path / "sweep.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "measured",
                "out_dir": str(tmp_path / "measured"),
                "space": "AnyNetX_A-small",
                "n": 3,
                "flops": "1M:6M",
                "seed": 2,
                "overrides": {"params.d.high": 3, "params.w.high": 64},
                "dataset": "synthetic",
                "recipe": {"images": 512},
                "resources": {"cpus": 1},
                "max_concurrent": 2,
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "anynet.cli", "sweep", "run", str(path), "--no-progress"],
        env=ray_env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = SweepFolder(tmp_path / "measured").records()
    assert len(records) == 3 and all(r.status == "ok" for r in records)
    for r in records:
        result = r.result
        assert result.latency_ms > 0 and result.throughput_ips > 0 and result.memory_mb > 0
        assert result.memory_method == "saved_tensors" and result.measure_device == "cpu"
        assert result.measure_s < r.wall_s and result.measure_threads == 1
    frame = load_results(tmp_path / "measured")
    assert frame.latency_ms.notna().all() and frame.throughput_ips.notna().all() and frame.memory_mb.notna().all()
    assert not math.isnan(frame.measure_s.sum())


def test_a_sweep_file_says_where_latency_is_timed_without_changing_its_identity(tmp_path):
    from sweeps.config import SweepError, sweep_from_dict
    from sweeps.tune_trials import _measure

    base = {"name": "m", "space": "AnyNetX_A-small", "n": 2, "out_dir": str(tmp_path / "m")}
    plain = sweep_from_dict(base)
    timed = sweep_from_dict({**base, "measure": {"device": "cpu", "threads": 1}})
    assert plain.identity() == timed.identity()
    assert _measure(plain) is True and _measure(sweep_from_dict({**base, "measure": {"enabled": False}})) is False
    assert _measure(timed) == Measure(device="cpu", threads=1)
    for bad, field in (({"device": "tpu"}, "measure.device"), ({"threads": 0}, "measure.threads"), ({"x": 1}, "x")):
        with pytest.raises(SweepError, match=field):
            sweep_from_dict({**base, "measure": bad})
