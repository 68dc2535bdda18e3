"""Which brief-training recipe ranks a space's models most faithfully, for its cost? The measurement behind the
study's default recipe (README: how the defaults were chosen).

The first --models models of each of the study's default spaces (the study's own plans at seed 0) are trained
once under a standard reference recipe (one full epoch, batch 128, lr 0.1, weight decay 5e-4, no warm-up), then
under each candidate recipe at the study's budget (the fewer-longer candidate at twice it) with --seeds training
seeds. Per candidate it prints the within-space Spearman correlation with the reference (analysis.fidelity's
unbiased estimate and 95% interval, ranks taken inside each space; the mean over the seeds), how many pairs of
spaces keep the reference's order by mean error, the mean error and the cost in seconds per model (training and
evaluation), all measured in this run. Every training result is appended to --out as it ends, so a run cut short
keeps what it finished and a rerun skips it.

    python benchmarks/fidelity_recipes.py --workers 2 --models 6 --seeds 1   # 55 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import time
from itertools import combinations
from multiprocessing import get_context
from pathlib import Path

import numpy as np

BASE = {"budget_macs": 100e9}
REFERENCE = {"epochs": 1, "lr": 0.1, "weight_decay": 5e-4}  # a standard recipe, at least one epoch
DEFAULT = {"batch_size": 64, "warmup": 0.2}  # the study's default since 2026-11-30
# name -> recipe fields over BASE, at equal total cost: the longer candidate trains half as many models.
CANDIDATES = {
    "paper": {},
    "default": DEFAULT,
    "fewer-longer": {**DEFAULT, "budget_macs": 2 * BASE["budget_macs"]},
    "lr0.1+warmup": {**DEFAULT, "lr": 0.1},
    "precise_bn": {**DEFAULT, "precise_bn": 8192},
    "reference-at-budget": {"lr": 0.1, "weight_decay": 5e-4},
}
DATA = None


def models(n: int) -> list[dict]:
    """The study's first n models of each default space (seed 0), as plan rows with their space's name."""
    from analysis.study import DEFAULT_FLOPS, DEFAULT_SPACES, Study, sweep_configs
    from sweeps.plan import sample_plan

    configs = sweep_configs(Study.of(spaces=DEFAULT_SPACES, n=n, flops=DEFAULT_FLOPS), 1, 10, 28)
    return [{"id": row.id, "spec": row.spec.to_dict(), "sweep": c.name} for c in configs for row in sample_plan(c)]


def _init() -> None:
    global DATA
    import torch

    from sweeps.data import load_dataset

    torch.set_num_threads(1)
    DATA = load_dataset("fashion-mnist")


def _train(job: dict) -> dict:
    from anynet.spec import AnyNetSpec
    from sweeps.recipe import Recipe
    from sweeps.trainer import train

    if time.time() > job["deadline"]:
        return {**job["key"], "skipped": True}
    started = time.perf_counter()
    result = train(AnyNetSpec.from_dict(job["spec"]), DATA, Recipe(**job["recipe"]), seed=job["seed"], threads=1)
    return {
        **job["key"],
        "error": result.error,
        "status": result.status,
        "seconds": time.perf_counter() - started,
        "train_seconds": result.train_seconds,
        "images": result.images,
    }


def jobs(rows: list[dict], seeds: int, deadline: float) -> list[dict]:
    """The reference runs first (the longest), then each candidate's seeds."""
    out = []
    for row in rows:
        seed = int(np.random.SeedSequence([99, row["id"], len(row["sweep"])]).generate_state(1)[0])
        key = {"run": "reference", "seed_index": 0, "sweep": row["sweep"], "id": row["id"]}
        out.append({"key": key, "spec": row["spec"], "recipe": REFERENCE, "seed": seed, "deadline": deadline})
    for s in range(seeds):
        for name, fields in CANDIDATES.items():
            for row in rows:
                seed = int(np.random.SeedSequence([s, row["id"], len(row["sweep"])]).generate_state(1)[0])
                out.append(
                    {
                        "key": {"run": name, "seed_index": s, "sweep": row["sweep"], "id": row["id"]},
                        "spec": row["spec"],
                        "recipe": {**BASE, **fields},
                        "seed": seed,
                        "deadline": deadline,
                    }
                )
    return out


def summarize(records: list[dict]) -> list[str]:
    """Per candidate: within-space Spearman with the reference (mean of seeds; the first seed's interval), pairs of
    spaces in the reference's order by mean error, mean error, seconds per model and that cost against the paper's."""
    import pandas as pd

    from analysis.fidelity import within

    frame = pd.DataFrame([r for r in records if not r.get("skipped") and r.get("status") == "ok"])
    ref = frame[frame.run == "reference"].set_index(["sweep", "id"]).error.rename("reference")
    paper = frame[frame.run == "paper"].seconds.mean()
    lines = [
        f"reference: {len(ref)} models, one epoch, batch 128, lr 0.1, weight decay 5e-4; mean error "
        f"{ref.mean():.2f}%, {frame[frame.run == 'reference'].seconds.mean():.1f} s per model",
        f"{'candidate':<20} {'n':>3} {'within-space Spearman vs reference':>36} {'pairs kept':>10} "
        f"{'mean_err':>9} {'s/model':>8} {'cost':>6}",
    ]
    for name in CANDIDATES:
        runs = frame[frame.run == name]
        if runs.empty:
            continue
        found, kept = [], []
        for s in sorted(set(runs.seed_index)):
            errors = runs[runs.seed_index == s].set_index(["sweep", "id"]).error.rename("candidate")
            models = pd.concat([errors, ref], axis=1, join="inner").reset_index()
            found.append(within(models, "candidate", "reference"))
            means = models.groupby("sweep")[["candidate", "reference"]].mean()
            pairs = list(combinations(means.index, 2))
            kept.append(
                sum(
                    (means.candidate[a] < means.candidate[b]) == (means.reference[a] < means.reference[b])
                    for a, b in pairs
                )
            )
        w = found[0]
        interval = f"[{w.low:.2f}, {w.high:.2f}]" if w.low is not None else "(no interval)"
        rho = np.mean([f.spearman for f in found])
        lines.append(
            f"{name:<20} {w.n:>3} {rho:>12.2f} {interval:>16} (seed 0) {np.mean(kept):>5.1f} of {len(pairs)} "
            f"{runs.error.mean():>9.2f} {runs.seconds.mean():>8.1f} {runs.seconds.mean() / paper:>5.2f}x"
        )
    return lines


def _key(record: dict) -> tuple:
    return record["run"], record["seed_index"], record["sweep"], record["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=6, help="models per space (default 6)")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds per candidate (default 1)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes, 1 thread each")
    parser.add_argument("--minutes", type=float, default=1e9, help="start no training after this many minutes")
    parser.add_argument("--out", default="runs/fidelity_recipes.jsonl", help="results, appended as they end")
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    seen = {_key(r) for r in done if not r.get("skipped")}
    todo = [
        j for j in jobs(models(args.models), args.seeds, time.time() + args.minutes * 60) if _key(j["key"]) not in seen
    ]
    from anynet import fused

    fused.extension()  # compile the CPU kernel once, before the workers start
    started = time.perf_counter()
    with get_context("spawn").Pool(args.workers, initializer=_init) as pool, open(out, "a") as f:
        for record in pool.imap_unordered(_train, todo):
            f.write(json.dumps(record) + "\n")
            f.flush()
            done.append(record)
    print(f"{len(todo)} trainings in {time.perf_counter() - started:.0f} s on {args.workers} workers")
    print("\n".join(summarize(done)))


if __name__ == "__main__":
    main()
