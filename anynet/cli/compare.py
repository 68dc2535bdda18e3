"""`anynet compare`: sweep folders in, a report out (EDFs, KS tests, bootstrap ranges, plots, HTML)."""

from __future__ import annotations

import argparse

HELP = "compare sweeps: error EDFs (plain and normalized), KS tests, best-model ranges, plots, an HTML report"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="sweep folders (a running sweep uses what is recorded)")
    parser.add_argument("--out", required=True, help="output folder, e.g. reports/anynetx-a-vs-e")
    parser.add_argument(
        "--normalize",
        nargs="+",
        action="extend",
        choices=["flops", "params", "acts", "latency", "memory"],
        metavar="METRIC",
        help="also compare EDFs normalized over these: flops, params, acts, or the measured latency (batch-1 "
        "latency_ms) or memory (training memory_mb); several are shown side by side",
    )
    parser.add_argument(
        "--bins", type=int, help="bins for the normalized EDF (default: the most, up to 10, that every sweep fills)"
    )
    parser.add_argument("--names", nargs="+", metavar="NAME", help="labels for the sweeps (default: their names)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws and permutations (default 0)")


def run(args: argparse.Namespace) -> int:
    from analysis import compare, load_sweeps

    sweeps = load_sweeps(args.dirs, args.names)
    report = compare(sweeps, args.out, normalize=args.normalize, bins=args.bins, seed=args.seed)
    for _, row in report.table.iterrows():
        print(
            f"{row.sweep}: {row.ok} ok ({row.not_ok} left out), error min {row.min_error:.2f}% (best of a random "
            f"quarter of the models: median {row.min_error_median:.2f}% [{row.min_error_low:.2f}, "
            f"{row.min_error_high:.2f}]), mean {row.mean_error:.2f}%"
        )
    if report.bins:
        print(f"normalized by {', '.join(args.normalize)} ({report.bins} bins for {args.normalize[0]})")
    for line in report.speed:
        print(line)
    print(f"report: {report.html} ({len(report.figures)} figures, summary.md, table.csv)")
    return 0
