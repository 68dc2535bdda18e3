"""Sweeps on a local Ray with synthetic data, through the `anynet sweep` command as a user runs it: retries and
failures, growth, SIGKILL of the driver and resume. Every Ray process a test starts is stopped at its end."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from conftest import processes_with

TINY = {
    "space": "AnyNetX_A-small",
    "overrides": {"params.d.high": 2, "params.w.high": 32},
    "flops": ":5M",
    "dataset": "synthetic",
    "resources": {"cpus": 1},
    "max_concurrent": 2,
    "retries": 1,
}


def sweep_file(tmp_path: Path, name: str, **fields) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "out_dir": str(tmp_path / name), **TINY, **fields}))
    return path


def anynet(*args: str, env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "anynet.cli", *args], env=env, capture_output=True, text=True, **kwargs
    )


def lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def test_a_failing_model_is_retried_then_recorded_and_the_sweep_grows(tmp_path, ray_env):
    path = sweep_file(tmp_path, "grow", n=6, recipe={"images": 512})
    done = anynet("sweep", "run", str(path), "--no-progress", env={**ray_env, "ANYNET_FAIL_MODELS": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    first = lines(tmp_path / "grow")
    assert sorted(r["id"] for r in first) == list(range(6))
    failed = next(r for r in first if r["id"] == 2)
    assert failed["status"] == "failed" and failed["attempts"] == 2 and len(failed["failures"]) == 2
    assert "injected failure" in failed["message"] and "failed (1): RuntimeError: injected failure" in done.stdout
    assert all(
        r["status"] == "ok" and r["attempts"] == 1 and r["result"]["error"] is not None for r in first if r["id"] != 2
    )

    grown = anynet("sweep", "run", str(path), "--n", "8", "--no-progress", env=ray_env)
    assert grown.returncode == 0, grown.stderr[-3000:]
    after = lines(tmp_path / "grow")
    assert after[:6] == first and sorted(r["id"] for r in after[6:]) == [6, 7]  # old records kept as they were
    status = anynet("sweep", "status", str(tmp_path / "grow"), env=ray_env)
    assert "8 of 8 done (ok 7, failed 1), 0 remaining" in status.stdout and "best so far: model" in status.stdout

    changed = sweep_file(tmp_path, "grow", n=8, seed=5, recipe={"images": 512})
    refused = anynet("sweep", "run", str(changed), "--no-progress", env=ray_env)
    assert refused.returncode == 1 and "changed: seed: 0 -> 5" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and lines(tmp_path / "grow") == after


def test_sigkill_of_the_driver_then_resume_trains_each_model_once(tmp_path, ray_env):
    path = sweep_file(tmp_path, "kill", n=8, recipe={"images": 3072})
    results = tmp_path / "kill" / "results.jsonl"
    driver = subprocess.Popen(
        [sys.executable, "-m", "anynet.cli", "sweep", "run", str(path), "--no-progress"],
        env=ray_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while driver.poll() is None:  # however slow the machine: wait for two records, then kill
        if results.is_file() and len(results.read_text().splitlines()) >= 2:
            break
        time.sleep(0.1)
    assert driver.poll() is None, "the sweep ended before it could be killed"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = lines(tmp_path / "kill")
    assert 2 <= len(before) < 8
    for pid in processes_with(f"RAY_TMPDIR={ray_env['RAY_TMPDIR']}"):  # the orphaned Ray of the killed driver
        os.kill(pid, signal.SIGKILL)

    resumed = anynet("sweep", "run", str(path), "--no-progress", env=ray_env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = lines(tmp_path / "kill")
    ids = [r["id"] for r in after]
    assert sorted(ids) == list(range(8)) and len(ids) == 8  # exactly n records, none duplicated
    assert after[: len(before)] == before  # the records made before the kill are untouched ...
    assert not {r["id"] for r in before} & {r["id"] for r in after[len(before) :]}  # ... and were not trained again
    assert all(r["status"] == "ok" for r in after)


def test_a_model_whose_worker_dies_is_charged_attempts_then_recorded(tmp_path, ray_env):
    path = sweep_file(tmp_path, "crash", n=4, recipe={"images": 256})
    done = anynet("sweep", "run", str(path), "--no-progress", env={**ray_env, "ANYNET_FAIL_MODELS": "1!"})
    assert done.returncode == 0, done.stderr[-3000:]
    records = {r["id"]: r for r in lines(tmp_path / "crash")}
    assert sorted(records) == [0, 1, 2, 3] and len(lines(tmp_path / "crash")) == 4
    assert records[1]["status"] == "failed" and records[1]["attempts"] == 2
    assert records[1]["message"].startswith("worker died:")
    assert all(records[i]["status"] == "ok" for i in (0, 2, 3))
