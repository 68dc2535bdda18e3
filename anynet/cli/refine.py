"""`anynet refine`: the paper's method, automated: propose constraints on a design space, test each child against
its parent, keep the best one that is no worse, and write the refined space."""

from __future__ import annotations

import argparse
from pathlib import Path

from anynet.validate import parse_number

HELP = (
    "refine a design space as the RegNet paper did, automatically: each round trains every constrained child (shared "
    "b, w non-decreasing, ...) at the same band and budget, keeps the best child that is no worse than its parent "
    "(a non-inferiority test, Holm over the round), and writes refine.md, refine.jsonl and refined.yaml"
)


def register(parser: argparse.ArgumentParser) -> None:
    from analysis.refine import ALPHA, MARGIN
    from analysis.refine_study import DEFAULT_COMPARE, DEFAULT_ROUNDS
    from analysis.study import DEFAULT_FLOPS, DEFAULT_N
    from anynet.cli.data import add_data_flags
    from anynet.cli.study import add_budget_flags

    parser.add_argument(
        "--space", default="A", help="the space to start from: A (the default) .. E, or a space name or YAML file"
    )
    parser.add_argument("--n", default=str(DEFAULT_N), help=f"models per space (default {DEFAULT_N})")
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS, help=f"constraints to accept at most (default {DEFAULT_ROUNDS})"
    )
    parser.add_argument(
        "--propose",
        default="auto",
        metavar="auto|FILE",
        help="the candidates: auto (every applicable share, order and fix edit, and the RegNet rule) or a file of "
        "written constraints, one a line ('shared b', 'w non-decreasing', 'd in [2, 6]', 'b = 1', 'regnet')",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=MARGIN,
        help=f"non-inferiority margin, points of error: a child passes when shown worse by less (default {MARGIN:g})",
    )
    parser.add_argument("--alpha", type=float, default=ALPHA, help=f"each round's error rate (default {ALPHA:g})")
    parser.add_argument(
        "--compare",
        default=",".join(DEFAULT_COMPARE),
        metavar="SPACES|none",
        help="after the loop, test the refined space (n models sampled afresh) against the start space and these, "
        f"comma-separated (default {','.join(DEFAULT_COMPARE)}; none: no comparison)",
    )
    parser.add_argument("--flops", default=DEFAULT_FLOPS, help=f"complexity band LO:HI (default {DEFAULT_FLOPS})")
    add_budget_flags(parser)
    add_data_flags(parser)
    parser.add_argument("--seed", type=int, default=0, help="sampling, training and test seed (default 0)")
    parser.add_argument("--cpus", type=float, default=1, help="CPUs per trial (default 1)")
    parser.add_argument("--gpus", type=float, default=0, help="GPUs per trial; a fraction shares one")
    parser.add_argument("--max-concurrent", type=int, help="at most this many trials at once")
    parser.add_argument("--address", help="an existing Ray cluster (default: a local Ray)")
    parser.add_argument("--out", default="runs/refine", help="the refinement's folder (default runs/refine)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from analysis.refine_study import read_proposals, run_refine
    from analysis.study import Study
    from anynet.cli.data import image_options
    from anynet.cli.study import recipe_from_args

    propose = None if args.propose == "auto" else read_proposals(args.propose)
    study = Study.of(
        spaces=(args.space,),
        n=int(parse_number("--n", args.n)),
        flops=args.flops or None,
        recipe=recipe_from_args(args),
        dataset=args.dataset,
        data_dir=args.data_dir,
        images=image_options(args, check=True),
        seed=args.seed,
        resources={"cpus": args.cpus, "gpus": args.gpus},
        max_concurrent=args.max_concurrent,
        address=args.address,
        out=Path(args.out),
    )
    print(f"refine: from {args.space}, {study.sweep.n} models a space, up to {args.rounds} rounds; folder {study.out}")
    compare = [] if args.compare.strip() == "none" else [s.strip() for s in args.compare.split(",") if s.strip()]
    result, comparison = run_refine(
        study,
        rounds=args.rounds,
        propose=propose,
        margin=args.margin,
        alpha=args.alpha,
        compare=compare,
        progress=not args.no_progress,
    )
    for row in result.rows:
        print(
            f"  round {row.round}: {row.constraint}: {row.child_mean:.2f}% vs {row.parent_mean:.2f}% "
            f"({row.difference:+.2f}), p worse {row.p_worse_holm:.3g} (Holm), p better {row.p_better:.3g}: "
            f"{row.decision}"
        )
    accepted = ", ".join(c.name for c in result.constraints) or "none"
    print(f"accepted, in order: {accepted}; stopped: {result.stop}")
    for row in comparison:
        print(f"  {row.words}")
    print(f"refined space: {study.out / 'refined.yaml'} ({result.final.name}); the path: {study.out / 'refine.md'}")
    print(f"report: {study.out / 'report' / 'report.html'}")
    return 0
