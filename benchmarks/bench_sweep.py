"""What Ray costs a sweep: 16 trials of small models on synthetic data through `anynet sweep run` on a local Ray
(2 trials at once, 1 CPU each) against the same 16 trainings one after another in one process with 2 threads.

Both sides are timed end to end as a user meets them (a fresh process: imports, data, and for Ray its start and
stop). Figures: the two walls; the trials' own training time (the sum of the records' wall_s, each model's time
inside its worker); the Ray wall against that sum spread over the 2 slots (target <= 1.1x); and where the rest
goes: Ray's fixed cost (command start to the first model's start, last model's end to the command's exit), the
per-trial overhead (on each worker, from one model's end to the next one's start: the report to the driver and
the next id from the dispatcher; target < 1 s), and the slots' idle time (the second worker starting later, and
one worker finishing its last model while the other still trains), per trial.

Run: python benchmarks/bench_sweep.py [--trials 16] [--images 24576]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

SLOTS = 2
SEQUENTIAL = """
import json, sys
from anynet.spec import AnyNetSpec
from sweeps import Recipe, synthetic, train
from sweeps.tune_trials import model_seed
plan = [json.loads(line) for line in open(sys.argv[1])]
data, recipe = synthetic(), Recipe(images=int(sys.argv[2]))
for row in plan:
    train(AnyNetSpec.from_dict(row["spec"]), data, recipe, seed=model_seed(0, row["id"], 1), threads=2)
"""


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """(start, end) as Unix times, the clock the records' timestamps use."""
    started = time.time()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return started, time.time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--images", type=int, default=24576, help="training images per trial")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bsw", dir="/tmp") as tmp:
        folder = Path(tmp) / "sweep"
        sweep = {
            "name": "bench",
            "out_dir": str(folder),
            "space": "AnyNetX_A-small",
            "n": args.trials,
            "overrides": {"params.d.high": 3, "params.w.high": 64},
            "flops": "2M:4M",
            "dataset": "synthetic",
            "recipe": {"images": args.images},
            "resources": {"cpus": 1},
            "max_concurrent": SLOTS,
        }
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(sweep))
        env = {**os.environ, "RAY_TMPDIR": tmp}
        launched, exited = timed([sys.executable, "-m", "anynet.cli", "sweep", "run", str(path), "--no-progress"], env)
        records = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
        assert len(records) == args.trials and all(r["status"] == "ok" for r in records)
        start, end = timed([sys.executable, "-c", SEQUENTIAL, str(folder / "plan.jsonl"), str(args.images)], env)
    ray_wall, sequential = exited - launched, end - start
    first = min(_time(r, "started_at") for r in records)
    last = max(_time(r, "finished_at") for r in records)
    trained = sum(r["wall_s"] for r in records)
    ideal = trained / SLOTS
    gaps = []
    for worker in {r["worker"] for r in records}:
        mine = sorted((r for r in records if r["worker"] == worker), key=lambda r: _time(r, "started_at"))
        gaps += [_time(b, "started_at") - _time(a, "finished_at") for a, b in zip(mine, mine[1:])]
    idle = (SLOTS * (last - first) - trained - sum(gaps)) / args.trials
    print(f"{args.trials} trials, {args.images} images each, synthetic; Ray: {SLOTS} trials at once x 1 CPU")
    print(f"anynet sweep run (local Ray)      wall {ray_wall:7.1f} s")
    print(
        f"one process, one after another    wall {sequential:7.1f} s   (Ray path {sequential / ray_wall:.2f}x faster)"
    )
    print(f"trials' training time, summed          {trained:7.1f} s   ({trained / args.trials:.1f} s per trial)")
    print(f"Ray wall / (sum / {SLOTS})                     {ray_wall / ideal:7.2f}x    (target <= 1.10)")
    print(f"fixed cost: start {first - launched:.1f} s, stop {exited - last:.1f} s")
    print(
        f"per-trial overhead                     {sum(gaps) / len(gaps):7.3f} s   (target < 1 s; max {max(gaps):.3f} s)"
    )
    print(f"slots idle (start stagger, end imbalance) {idle:5.2f} s per trial")


def _time(record: dict, key: str) -> float:
    return datetime.fromisoformat(record[key]).timestamp()


if __name__ == "__main__":
    main()
