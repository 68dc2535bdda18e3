"""Which brief-training recipe ranks models most faithfully, for its cost? The measurement behind the study's
default recipe (README: how the defaults were chosen).

The first --models models of each of the study's default spaces (the study's own plans at seed 0) are trained
once at a reference budget (--factor x the base budget, the base recipe), then under each candidate recipe at the
base budget with two training seeds. Per candidate it prints the rank agreement with the reference (Spearman,
pooled over all spaces, mean over the two seeds), the seed-noise agreement of its two seeds, its mean error and
its cost in seconds per model (training and evaluation), all measured in this run. Every training result is
appended to --out as it ends, so a run cut short keeps what it finished and a rerun skips it.

    python benchmarks/fidelity_recipes.py --workers 2 --models 6       # about 45 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

BASE = {"budget_macs": 100e9}
# name -> recipe fields over BASE; each is one lever the issue names (lr, warm-up, precise BatchNorm statistics,
# batch size) or a combination of the ones that could help.
CANDIDATES = {
    "base": {},
    "lr0.025": {"lr": 0.025},
    "lr0.1": {"lr": 0.1},
    "lr0.2": {"lr": 0.2},
    "warmup": {"warmup": 0.2},
    "precise_bn": {"precise_bn": 8192},
    "bs64": {"batch_size": 64},
    "lr0.1+warmup+precise": {"lr": 0.1, "warmup": 0.2, "precise_bn": 8192},
    "bs64+precise": {"batch_size": 64, "precise_bn": 8192},
}
DATA = None


def models(n: int) -> list[dict]:
    """The study's first n models of each default space (seed 0), as plan rows with their space's name."""
    from analysis.study import DEFAULT_FLOPS, DEFAULT_SPACES, Study, sweep_files
    from sweeps.config import sweep_from_dict
    from sweeps.plan import sample_plan

    files = sweep_files(Study(spaces=DEFAULT_SPACES, n=n, flops=DEFAULT_FLOPS), 1, 10, 28)
    return [{**row, "sweep": f["name"]} for f in files for row in sample_plan(sweep_from_dict(f))]


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


def jobs(rows: list[dict], factor: float, seeds: int, deadline: float) -> list[dict]:
    """The reference runs first (the longest), then each candidate's seeds."""
    out = []
    for row in rows:
        seed = int(np.random.SeedSequence([99, row["id"], len(row["sweep"])]).generate_state(1)[0])
        out.append(
            {
                "key": {"run": f"ref{factor:g}x", "seed_index": 0, "sweep": row["sweep"], "id": row["id"]},
                "spec": row["spec"],
                "recipe": {"budget_macs": BASE["budget_macs"] * factor},
                "seed": seed,
                "deadline": deadline,
            }
        )
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


def summarize(records: list[dict], factor: float) -> list[str]:
    """Per candidate: Spearman with the reference (mean of seeds), seed-noise Spearman, mean error, s per model."""
    import pandas as pd
    from scipy import stats

    frame = pd.DataFrame([r for r in records if not r.get("skipped") and r.get("error") is not None])
    frame["model"] = frame.sweep + "-" + frame.id.astype(str)
    ref = frame[frame.run == f"ref{factor:g}x"].set_index("model").error
    lines = [
        f"reference: {len(ref)} models at {factor:g}x the base budget, mean error {ref.mean():.2f}%, "
        f"{frame[frame.run == f'ref{factor:g}x'].seconds.mean():.1f} s per model"
    ]
    lines.append(
        f"{'candidate':<22} {'n':>3} {'rho_ref':>8} {'rho_seeds':>9} {'mean_err':>9} {'s/model':>8} {'eval_share':>10}"
    )
    for name in CANDIDATES:
        runs = frame[frame.run == name]
        if runs.empty:
            continue
        by_seed = [runs[runs.seed_index == s].set_index("model").error for s in sorted(set(runs.seed_index))]
        rho = [stats.spearmanr(*ref.align(e, join="inner")).statistic for e in by_seed]
        noise = stats.spearmanr(*by_seed[0].align(by_seed[1], join="inner")).statistic if len(by_seed) > 1 else np.nan
        share = 1 - runs.train_seconds.sum() / runs.seconds.sum()
        lines.append(
            f"{name:<22} {len(by_seed[0]):>3} {np.mean(rho):>8.3f} {noise:>9.3f} {runs.error.mean():>9.2f} "
            f"{runs.seconds.mean():>8.1f} {share:>10.2f}"
        )
    return lines


def _key(record: dict) -> tuple:
    return record["run"], record["seed_index"], record["sweep"], record["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=6, help="models per space (default 6)")
    parser.add_argument("--factor", type=float, default=4.0, help="reference budget multiple (default 4)")
    parser.add_argument("--seeds", type=int, default=2, help="training seeds per candidate (default 2)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes, 1 thread each")
    parser.add_argument("--minutes", type=float, default=1e9, help="start no training after this many minutes")
    parser.add_argument("--out", default="runs/fidelity_recipes.jsonl", help="results, appended as they end")
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    seen = {_key(r) for r in done if not r.get("skipped")}
    todo = [
        j
        for j in jobs(models(args.models), args.factor, args.seeds, time.time() + args.minutes * 60)
        if _key(j["key"]) not in seen
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
    print("\n".join(summarize(done, args.factor)))


if __name__ == "__main__":
    main()
