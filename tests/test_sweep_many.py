"""Several sweeps trained by one `run_planned` call: one Tune run for all of them (per resource grant), one queue
longest first over all their models, and each record in its own sweep's folder, resumable as one sweep's is."""

import json
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest
import yaml

from sweeps import Record
from sweeps.dispatch import Dispatcher
from test_sweep_ray import TINY


RUN = """
import sys
from sweeps import load_sweep, run_sweeps
for s in run_sweeps([load_sweep(p) for p in sys.argv[1:]], progress=False):
    print("status:", s.name, s.ok, s.failed, s.remaining)
"""


def sweep_file(tmp_path: Path, name: str, **fields) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "out_dir": str(tmp_path / name), **TINY, **fields}))
    return path


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def plan(folder: Path) -> dict[int, dict]:
    return {row["id"]: row for row in map(json.loads, (folder / "plan.jsonl").read_text().splitlines())}


def tune_runs(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "ray").glob("run-*")) if (folder / "ray").is_dir() else []


def run(paths: list[Path], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN, *map(str, paths)], env=env, capture_output=True, text=True)


def test_two_sweeps_train_in_one_tune_run_each_getting_exactly_its_records_and_resume(tmp_path, ray_env):
    one = sweep_file(tmp_path, "one", n=5, recipe={"images": 256})
    two = sweep_file(tmp_path, "two", n=4, seed=3, recipe={"images": 512})
    # model 1 of each sweep raises on every attempt; model 2 of each kills its worker's process on every attempt
    done = run([one, two], {**ray_env, "ANYNET_FAIL_MODELS": "1,2!"})
    assert done.returncode == 0, done.stderr[-3000:]
    said = [line for line in done.stdout.splitlines() if line.startswith("status:")]  # Ray's raylet writes there too
    assert said == ["status: one 3 2 0", "status: two 2 2 0"]
    for name, n in (("one", 5), ("two", 4)):
        got = records(tmp_path / name)
        assert sorted(r["id"] for r in got) == list(range(n))  # every model once, in its own folder
        planned = plan(tmp_path / name)
        assert all(r["spec"] == planned[r["id"]]["spec"] for r in got)
        by_id = {r["id"]: r for r in got}
        assert (
            by_id[1]["status"] == "failed" and by_id[1]["attempts"] == 2 and "injected failure" in by_id[1]["message"]
        )
        assert by_id[2]["status"] == "failed" and by_id[2]["attempts"] == 2
        assert by_id[2]["message"].startswith("worker died:")
        assert all(r["status"] == "ok" for r in got if r["id"] not in (1, 2))
    assert len(tune_runs(tmp_path / "one")) == 1 and not tune_runs(tmp_path / "two")  # one Tune run for both

    # lose the last records of both folders (as if the driver died before they came): exactly those train again
    before = {name: records(tmp_path / name) for name in ("one", "two")}
    for name, keep in (("one", 3), ("two", 2)):
        kept = (tmp_path / name / "results.jsonl").read_text().splitlines(keepends=True)[:keep]
        (tmp_path / name / "results.jsonl").write_text("".join(kept))
    resumed = run([one, two], ray_env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for name, keep in (("one", 3), ("two", 2)):
        after = records(tmp_path / name)
        assert after[:keep] == before[name][:keep] and len(after) == len(before[name])
        assert sorted(r["id"] for r in after[keep:]) == sorted(r["id"] for r in before[name][keep:])
    assert len(tune_runs(tmp_path / "one")) == 2 and not tune_runs(tmp_path / "two")

    # all recorded: nothing trains, no Ray starts, no record changes
    final = {name: (tmp_path / name / "results.jsonl").read_text() for name in ("one", "two")}
    again = run([one, two], ray_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {name: (tmp_path / name / "results.jsonl").read_text() for name in ("one", "two")} == final
    assert len(tune_runs(tmp_path / "one")) == 2


def test_run_planned_groups_sweeps_by_resource_grant_and_orders_longest_first(tmp_path, monkeypatch):
    import sweeps.tune_trials
    from sweeps import load_sweep
    from sweeps.cost import training_cost
    from sweeps.plan import prepare
    from sweeps.run import run_planned
    from sweeps.store import SweepFolder

    calls, reads = [], []
    run_trials, final_ids = sweeps.tune_trials.run_trials, SweepFolder.final_ids
    monkeypatch.setattr(sweeps.tune_trials, "ray_session", lambda address: nullcontext())
    monkeypatch.setattr(sweeps.tune_trials, "run_trials", lambda trials, order, progress: calls.append((trials, order)))
    monkeypatch.setattr(SweepFolder, "final_ids", lambda self: reads.append(self.path) or final_ids(self))
    work = []
    for name, fields in (
        ("small", {"recipe": {"images": 256}}),
        ("big", {"recipe": {"images": 1024}}),
        ("wide", {"recipe": {"images": 512}, "resources": {"cpus": 2}}),
    ):
        folder = SweepFolder(tmp_path / name)
        config, rows = prepare(load_sweep(sweep_file(tmp_path, name, n=3, **fields)), folder)
        work.append((config, folder, rows))
    work[0][1].append(Record(work[0][2][0], "ok"))  # model 0 of "small" is done: not trained again
    run_planned(work, progress=False)
    assert sorted(reads) == sorted(f.path for _, f, _ in work)  # results.jsonl read once per folder
    assert [[t.config.name for t in trials] for trials, _ in calls] == [["small", "big"], ["wide"]]
    (trials, order), (wide, wide_order) = calls
    assert sorted(order) == [(0, 1), (0, 2), (1, 0), (1, 1), (1, 2)] and sorted(wide_order) == [(0, 0), (0, 1), (0, 2)]
    cost = {
        (k, row.id): c
        for k, t in enumerate(trials)
        for row, c in zip(t.plan, training_cost(t.plan, t.config.recipe, len(t.data.train_y)).macs)
    }
    assert [cost[item] for item in order] == sorted((cost[item] for item in order), reverse=True)  # over both
    assert trials[0].data is trials[1].data is wide[0].data  # one dataset split for the sweeps that share it
    with pytest.raises(ValueError, match="one resource grant"):
        run_trials([trials[0], wide[0]], order, False)


def test_the_dispatcher_queues_several_sweeps_and_charges_each_its_own_attempts():
    d = Dispatcher([(1, 7), (0, 3), (1, 2)], attempts=[1, 2])
    assert d.take("a") == (1, 7, 1) and d.take("b") == (0, 3, 1) and d.busy() == {1: 1, 0: 1}
    assert d.lost("a") is None and d.take("a") == (1, 7, 2)  # sweep 1 allows 2 attempts: back to the front
    assert d.lost("b") == (0, 3, 1)  # sweep 0 allows 1: out of attempts, for the driver to record
    d.finish("a", 0, 7)  # another sweep's model 7: not the one worker a holds
    assert d.busy() == {1: 1}
    d.finish("a", 1, 7)
    assert d.take("a") == (1, 2, 1) and d.take("b") == "wait"
    d.attempt("a", 1, 2, 2)  # the worker's trainer retried model 2 itself: its second attempt, the last
    assert d.lost("a") == (1, 2, 2) and d.take("b") is None and d.busy() == {}
