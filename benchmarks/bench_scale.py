"""Sweeps of 1,000 to 100,000 finished models: how long each command takes, and its peak memory, as n grows.

For each n it writes two sweep folders (AnyNetX_A and AnyNetX_E at small-image scale, 2-6 MF) through the real
path: the sweep file and plan by sweeps' own `prepare` (real specs from the sampler), and one result record per
model in the real record format (the fields a trained, measured model's record has), with planted errors (a known
function of flops, E 3 points better, noise). Then it times, each in a fresh Python process (its peak resident
memory from getrusage, the interpreter and its imports included):

    resume    what `anynet sweep run` does before training: prepare (re-sample and check the plan), the records
              read for the finished ids, the status (sweeps.run_sweeps with nothing left to train)
    status    anynet sweep status DIR
    load      sweeps.load_results(DIR)
    compare   anynet compare A E --normalize flops (the verdict, KS tests, bootstrap, fits, plots, report)
    fit       anynet fit DIR --top 10
    export    anynet export DIR --top 10

each with the results-table cache (sweeps.table_cache; its own folder under the root) emptied first, then `load` and
`compare` again with the tables the first runs kept (`load-cached`, `compare-cached`); and prints one line per operation and n (seconds, peak MB, and seconds per 1,000 models), then the growth from
each n to the next (time ratio against the n ratio: linear is 1). Run:

    python benchmarks/bench_scale.py --n 1000,10000,100000 [--root DIR] [--only compare,load]

The folders are kept under --root (default: a temporary folder, removed) and reused when they exist."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SPACES = {"AnyNetX_A": ("A", 0.0), "AnyNetX_E": ("E", -3.0)}  # sweep name: (study alias, planted error shift)
OPERATIONS = {
    "resume": "import yaml\nfrom sweeps import run_sweeps, sweep_from_dict\n"
    "run_sweeps([sweep_from_dict(yaml.safe_load(open('{a}/sweep.yaml'))['config'])], progress=False)",
    "status": "from anynet.cli import main\nmain(['sweep', 'status', '{a}'])",
    "load": "from sweeps import load_results\nload_results('{a}')",
    "load-cached": "from sweeps import load_results\nload_results('{a}')",
    "compare": "from anynet.cli import main\nmain(['compare', '{a}', '{e}', '--normalize', 'flops', '--out', '{out}'])",
    "compare-cached": "from anynet.cli import main\nmain(['compare', '{a}', '{e}', '--normalize', 'flops', '--out', "
    "'{out}'])",
    "fit": "from anynet.cli import main\nmain(['fit', '{a}', '--top', '10'])",
    "export": "from anynet.cli import main\nmain(['export', '{a}', '--top', '10'])",
}
MEASURED = """
import contextlib, io, json, resource, time
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
{body}
print(json.dumps({{"seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def record(row, error: float, rng: np.random.Generator):
    """A finished, measured model's record (sweeps.Record) for a plan row and its planted error."""
    from sweeps import Measurement, Record, TrainResult

    seed = int(rng.integers(2**32))
    measured = Measurement(
        latency_ms=round(1.0 + row.complexity.flops / 2e6, 4),
        latency_batch=1,
        throughput_ips=2000.0,
        throughput_batch=128,
        memory_mb=90.0,
        memory_method="saved_tensors",
        memory_batch=64,
        measure_device="cpu",
        measure_threads=1,
        measure_model="bn_folded_eval",
        measure_runs=[30, 8],
        measure_s=0.7,
    )
    result = TrainResult(
        **vars(measured),
        status="ok",
        error=round(error, 2),
        val_error=None,
        train_loss=1.5,
        epochs=[{"epoch": 1, "images": 6000, "train_loss": 1.5, "test_error": round(error, 2)}],
        images=6000,
        steps=94,
        train_size=60000,
        seconds=30.0,
        train_seconds=27.0,
        images_per_s=220.0,
        seed=seed,
        device="cpu",
        threads=1,
        versions={"python": "3.11", "torch": "2.13.0+cpu", "numpy": np.__version__, "anynet": "0.1.0"},
    )
    i = row.id
    return Record(
        row,
        "ok",
        attempts=1,
        seed=seed,
        result=result,
        wall_s=32.0,
        node="bench",
        started_at="2026-12-06T10:00:00.000+00:00",
        finished_at=f"2026-12-06T{10 + i // 3600 % 12:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000+00:00",
        worker="bench",
    )


def write_sweeps(root: Path, n: int) -> dict[str, Path]:
    """The two sweep folders of n finished models under root/<n>/sweeps/ (reused when complete)."""
    from analysis.study import Study, sweep_configs
    from sweeps import SweepFolder
    from sweeps.plan import prepare

    folders = {}
    for name, (alias, shift) in SPACES.items():
        config = sweep_configs(Study.of(spaces=(alias,), n=n, out=root / str(n)), 1, 10, 28)[0]
        folder = folders[name] = Path(config.out_dir)  # root/<n>/sweeps/<name>
        if (folder / "results.jsonl").exists() and len(SweepFolder(folder).plan()) == n:
            continue
        start = time.perf_counter()
        _, plan = prepare(config, SweepFolder(folder))
        rng = np.random.default_rng(n)
        flops = np.array([row.complexity.flops for row in plan], dtype=float)
        errors = 40 + shift - 5 * np.log2(flops / 4e6) + rng.normal(0, 3, len(plan))
        lines = "".join(json.dumps(record(row, e, rng).to_dict()) + "\n" for row, e in zip(plan, errors))
        (folder / "results.jsonl").write_text(lines)
        print(f"wrote {folder} ({n:,} models) in {time.perf_counter() - start:.1f} s", flush=True)
    return folders


def measure(operation: str, folders: dict[str, Path], out: Path, cache: Path) -> dict[str, float]:
    """Run one operation in a fresh interpreter, the table cache emptied first unless it is a `-cached` one: its
    seconds and peak resident MB."""
    if not operation.endswith("-cached"):
        shutil.rmtree(cache, ignore_errors=True)
    body = OPERATIONS[operation].format(a=folders["AnyNetX_A"], e=folders["AnyNetX_E"], out=out)
    code = MEASURED.format(body="\n".join("    " + line for line in body.splitlines()))
    env = {**os.environ, "ANYNET_CACHE": str(cache)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if run.returncode != 0 or "Ray" in run.stderr:
        raise SystemExit(f"{operation}: failed (or started Ray: a model was left to train)\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1000,10000,100000", help="comma-separated sweep sizes")
    parser.add_argument("--root", help="where the sweep folders go (kept; default: a temporary folder)")
    parser.add_argument("--only", help=f"comma-separated operations (default all: {', '.join(OPERATIONS)})")
    args = parser.parse_args()
    sizes = [int(float(x)) for x in args.n.split(",")]
    operations = args.only.split(",") if args.only else list(OPERATIONS)
    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown:
        parser.error(f"--only: {', '.join(unknown)} not among {', '.join(OPERATIONS)}")
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(args.root or temporary)
        figures: dict[str, list[dict[str, float]]] = {op: [] for op in operations}
        for n in sizes:
            folders = write_sweeps(root, n)
            for op in operations:
                got = measure(op, folders, root / str(n) / f"report-{op}", root / str(n) / "cache")
                figures[op].append(got)
                per = 1000 * got["seconds"] / n
                print(
                    f"{op:14s} n={n:>7,}: {got['seconds']:8.2f} s, peak {got['peak_mb']:7.0f} MB, {per:.3f} s per 1,000"
                )
        for op in operations:
            for (a, b), (fa, fb) in zip(zip(sizes, sizes[1:]), zip(figures[op], figures[op][1:])):
                growth = (fb["seconds"] / fa["seconds"]) / (b / a)
                print(
                    f"{op:14s} {a:,} -> {b:,}: time x{fb['seconds'] / fa['seconds']:.2f} for n x{b / a:g} ({growth:.2f} of linear)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
