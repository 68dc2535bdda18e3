"""`anynet fidelity`: does the sweeps' brief budget rank models as a longer one does? Re-run a subsample, report."""

from __future__ import annotations

import argparse

HELP = (
    "re-train a seeded random subsample of k models per sweep at factor x the budget and again at the same "
    "budget with other seeds; print the rank correlations (Spearman, Kendall) with bootstrap intervals"
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="sweep folders (e.g. runs/study/sweeps/*)")
    parser.add_argument("--k", type=int, default=8, help="models re-run per sweep (default 8)")
    parser.add_argument("--factor", type=float, default=4.0, help="budget multiple of the long re-run (default 4)")
    parser.add_argument(
        "--address",
        help="an existing Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: the sweeps' own, else a local Ray)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from analysis.fidelity import analyse, describe, load_fidelity
    from analysis.load import sweep_names
    from sweeps.fidelity import run_fidelity

    statuses = run_fidelity(args.dirs, args.k, args.factor, address=args.address, progress=not args.no_progress)
    for s in statuses:
        if s.remaining or s.failed:
            print(f"  {s.name}: {s.ok} ok, {s.failed} failed, {s.remaining} not finished")
    models = load_fidelity(args.dirs, sweep_names(args.dirs), args.factor)
    for line in describe(analyse(models, seed=args.seed)):
        print(line)
    print("re-runs recorded in each sweep's fidelity/ folder; anynet compare shows them in its report")
    return 0
