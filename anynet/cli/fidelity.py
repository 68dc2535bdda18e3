"""`anynet fidelity`: does the sweeps' brief budget rank models as a longer one does? Re-run a subsample, report."""

from __future__ import annotations

import argparse

HELP = (
    "re-train a seeded random subsample of k models per sweep at factor x the budget and again at the same "
    "budget with other seeds; print the rank correlations within the spaces (Spearman, 95% intervals), the seed "
    "reliability, and the pooled figure"
)


def add_gate_flags(parser: argparse.ArgumentParser) -> None:
    """--min-fidelity and --strict, the fidelity check's gate (here and on `anynet study`)."""
    parser.add_argument(
        "--min-fidelity",
        type=float,
        metavar="R",
        help="warn (a line starting with WARNING:) when the fidelity check's within-space Spearman correlation of "
        "brief vs long has a 95%% lower end below R, or too few models for an interval (default: no gate)",
    )
    parser.add_argument("--strict", action="store_true", help="with --min-fidelity: exit 1 when the gate fails")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="sweep folders (e.g. runs/study/sweeps/*)")
    parser.add_argument("--k", type=int, default=8, help="models re-run per sweep (default 8)")
    parser.add_argument("--factor", type=float, default=4.0, help="budget multiple of the long re-run (default 4)")
    parser.add_argument(
        "--reseed-long",
        action="store_true",
        help="re-run the long budget a second time with other seeds (fidelity/x4-reseed/): its seed reliability, "
        "and the seed-noise bound sqrt(brief's x long's reliability) on brief vs long",
    )
    add_gate_flags(parser)
    parser.add_argument(
        "--address",
        help="an existing Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: the sweeps' own, else a local Ray)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the intervals' simulation (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from analysis.fidelity import analyse, check_gate, describe, gate, load_fidelity
    from analysis.load import sweep_names
    from sweeps.fidelity import run_fidelity

    check_gate(args.min_fidelity, args.strict)
    statuses = run_fidelity(
        args.dirs,
        args.k,
        args.factor,
        reseed_long=args.reseed_long,
        address=args.address,
        progress=not args.no_progress,
    )
    for s in statuses:
        if s.remaining or s.failed:
            print(f"  {s.name}: {s.ok} ok, {s.failed} failed, {s.remaining} not finished")
    result = analyse(load_fidelity(args.dirs, sweep_names(args.dirs), args.factor), seed=args.seed)
    for line in describe(result):
        print(line)
    print("re-runs recorded in each sweep's fidelity/ folder; anynet compare shows them in its report")
    warning = gate(result, args.min_fidelity) if args.min_fidelity is not None else None
    if warning:
        print(warning)
    return 1 if warning and args.strict else 0
