"""`anynet fidelity`: does the sweeps' brief budget rank models as a longer one does? Re-run a subsample, report."""

from __future__ import annotations

import argparse

from anynet.errors import AnynetError

HELP = (
    "re-train a seeded random subsample of k models per sweep at factor x the budget and again at the same "
    "budget with other seeds; print the rank correlations within the spaces (Spearman, 95%% intervals), the seed "
    "reliability, and the pooled figure"
)


def add_gate_flags(parser: argparse.ArgumentParser, strict: str = "") -> None:
    """--min-fidelity and --strict, the fidelity check's gate (here and on `anynet study`)."""
    parser.add_argument(
        "--min-fidelity",
        type=float,
        metavar="R",
        help="warn (a line starting with WARNING:) when the fidelity check's within-space Spearman correlation of "
        "brief vs long has a 95%% lower end below R, or too few models for an interval (default: no gate)",
    )
    parser.add_argument(
        "--strict", action="store_true", help=f"with --min-fidelity: exit 1 when the gate fails{strict}"
    )


def add_retrain_flags(parser: argparse.ArgumentParser, default: int | None) -> None:
    """--retrain-top [K], --retrain-factor, --retrain-recipe, --retrain-seeds (on `anynet study` and `export`)."""
    parser.add_argument(
        "--retrain-top",
        nargs="?",
        const="auto",
        default=None if default is None else str(default),
        metavar="K",
        help="choose the best models at a higher fidelity: re-train the K best of each space by brief error at "
        "--retrain-factor x the budget (or under --retrain-recipe) with --retrain-seeds seeds and rank them by their "
        "mean error there (the space comparison keeps every model's brief error); K omitted: a quarter of the "
        f"models, at least 4; 0: rank by the brief error (default {default if default is not None else 'none'})",
    )
    parser.add_argument(
        "--retrain-factor", type=float, help="budget multiple of the re-training (default: the fidelity factor)"
    )
    parser.add_argument(
        "--retrain-recipe",
        metavar="SPEC",
        help="re-train under the study's recipe with these fields changed instead (key=value,... or a recipe YAML)",
    )
    parser.add_argument("--retrain-seeds", type=int, help="training seeds per re-trained model (default 2)")


def retrain_from_args(args: argparse.Namespace, n: int) -> dict:
    """The re-trained selection's Study fields from the flags; K 'auto' is a quarter of n, at least 4."""
    from analysis.study import DEFAULT_RETRAIN_SEEDS
    from sweeps import parse_recipe_spec

    if args.retrain_factor is not None and args.retrain_recipe:
        raise AnynetError("--retrain-factor: give it or --retrain-recipe, not both")
    top = args.retrain_top
    try:
        k = 0 if top is None else max(4, n // 4) if top == "auto" else int(top)
    except ValueError:
        raise AnynetError(f"--retrain-top: a whole number of models per space (none: a quarter of n), got {top!r}")
    return {
        "retrain_top": k,
        "retrain_factor": args.retrain_factor,
        "retrain_recipe": parse_recipe_spec(args.retrain_recipe, "--retrain-recipe") if args.retrain_recipe else None,
        "retrain_seeds": DEFAULT_RETRAIN_SEEDS if args.retrain_seeds is None else args.retrain_seeds,
    }


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
    parser.add_argument(
        "--recipe",
        metavar="SPEC",
        help="re-run the subsample under a reference recipe too (fidelity/reference/): each sweep's recipe with "
        "these fields changed, key=value,... (e.g. lr=0.1,weight_decay=5e-4,epochs=1) or a recipe YAML file",
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
    from analysis.load import load_sweeps
    from analysis.verdict import LEVELS, verdict
    from sweeps import parse_recipe_spec, run_fidelity

    check_gate(args.min_fidelity, args.strict)
    statuses = run_fidelity(
        args.dirs,
        args.k,
        args.factor,
        reseed_long=args.reseed_long,
        reference=parse_recipe_spec(args.recipe, "--recipe") if args.recipe else None,
        address=args.address,
        progress=not args.no_progress,
    )
    for s in statuses:
        if s.remaining or s.failed:
            print(f"  {s.name}: {s.ok} ok, {s.failed} failed, {s.remaining} not finished")
    sweeps = load_sweeps(args.dirs)
    result = analyse(load_fidelity(args.dirs, sweeps.names, args.factor, sweeps.frame), seed=args.seed)
    separated = None
    if len(sweeps.names) > 1:  # the verdict's claims about the spaces, checked at the higher fidelities
        errors = {n: sweeps.errors(n).to_numpy() for n in sweeps.names}
        said = verdict(errors, dict.fromkeys(sweeps.names, "test"), seed=args.seed)
        separated = [(r.better, r.worse) for r in said.pairs if r.p_holm < max(LEVELS)]
    for line in describe(result, separated, args.seed):
        print(line)
    print("re-runs recorded in each sweep's fidelity/ folder; anynet compare shows them in its report")
    warning = gate(result, args.min_fidelity) if args.min_fidelity is not None else None
    if warning:
        print(warning)
    return 1 if warning and args.strict else 0
