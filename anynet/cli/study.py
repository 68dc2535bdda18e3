"""`anynet study`: one sweep per design space, one shared recipe and band, then the report and RegNet configs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from anynet.validate import parse_number

if TYPE_CHECKING:
    from analysis.sequential import SequentialResult
    from analysis.study import Study

HELP = (
    "a design-space study: one sweep per space (shared recipe, band, dataset), then the compare report with "
    "RegNet fits and the best models exported as RegNet configs; run it again to resume"
)


def register(parser: argparse.ArgumentParser) -> None:
    from anynet.cli.data import add_data_flags
    from anynet.cli.fidelity import add_gate_flags, add_retrain_flags
    from analysis.study import (
        ALIASES,
        DEFAULT_FACTOR,
        DEFAULT_FIDELITY,
        DEFAULT_FLOPS,
        DEFAULT_N,
        DEFAULT_RETRAIN_TOP,
        DEFAULT_SPACES,
    )

    parser.add_argument(
        "--spaces",
        default=",".join(DEFAULT_SPACES),
        help=f"comma-separated: {', '.join(ALIASES)} (the paper's spaces at small-image scale), or "
        f"space names/YAML files (default {','.join(DEFAULT_SPACES)})",
    )
    parser.add_argument(
        "--n",
        default=str(DEFAULT_N),
        help=f"models per space (default {DEFAULT_N}; a larger n on an existing study grows every sweep)",
    )
    parser.add_argument("--flops", default=DEFAULT_FLOPS, help=f"complexity band LO:HI (default {DEFAULT_FLOPS})")
    add_budget_flags(parser)
    parser.add_argument(
        "--fidelity",
        type=int,
        default=DEFAULT_FIDELITY,
        metavar="K",
        help=f"re-run a seeded random subsample of K models per space at the same budget (other "
        f"seeds) and at --fidelity-factor x it, to check the budget's ranking (default "
        f"{DEFAULT_FIDELITY}; 0: no check)",
    )
    parser.add_argument(
        "--fidelity-factor",
        type=float,
        default=DEFAULT_FACTOR,
        help=f"budget multiple of the fidelity check's long re-run (default {DEFAULT_FACTOR:g})",
    )
    parser.add_argument(
        "--fidelity-reseed-long",
        action="store_true",
        help="re-run the fidelity check's long budget a second time with other seeds: its seed reliability, and "
        "the seed-noise bound sqrt(brief's x long's reliability) on brief vs long (K more re-runs per space)",
    )
    add_gate_flags(parser, "; and on an unreadable image in --dataset PATH (default: skipped, and named)")
    add_recipe_flags(parser)
    add_retrain_flags(parser, DEFAULT_RETRAIN_TOP)
    add_data_flags(parser, strict=False)  # --strict (the gate's) also stops at an unreadable image
    parser.add_argument(
        "--val-split",
        type=float,
        help="select on a validation split of this fraction of the "
        "training set (default: test error, as the paper's CIFAR studies)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling and training seed (default 0)")
    parser.add_argument("--cpus", type=float, default=1, help="CPUs per trial (its torch threads; default 1)")
    parser.add_argument("--gpus", type=float, default=0, help="GPUs per trial; a fraction shares one (e.g. 0.25)")
    parser.add_argument(
        "--latency-device", help="time each trained model's latency on this device (cpu, cuda; default: the trial's)"
    )
    parser.add_argument(
        "--latency-threads", type=int, help="and with this many threads (default: the trial's; e.g. 1 on a GPU run)"
    )
    parser.add_argument("--max-concurrent", type=int, help="at most this many trials at once")
    parser.add_argument(
        "--address", help="an existing Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: a local Ray)"
    )
    parser.add_argument("--out", default="runs/study", help="the study folder (default runs/study)")
    parser.add_argument("--top", type=int, default=3, help="models exported per space (default 3)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--plan",
        action="store_true",
        help="only sample the spaces and estimate the time (trains nothing, writes nothing)",
    )
    parser.add_argument(
        "--until-separated",
        metavar="PAIRS",
        help="grow every sweep in looks (n, 2n, 4n, ..., the last at --max-n) until each pair of spaces, e.g. "
        "A:E,A:regnetx, separates: the verdict's one-sided test of the mean error difference (not flops-normalized) "
        "at each look, Holm-adjusted over the pairs' 2 directions each, separating below alpha / L for L planned "
        "looks, so the chance of any false 'better' over all pairs and looks is at most alpha; name the pairs "
        "before looking at any result (choosing them from a verdict seen voids this); the outcome goes to "
        "<out>/sequential.md and replaces the fixed-n verdict, whose p-values ignore the looks",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="with --until-separated: the chance, over all pairs and looks together, of any false 'better'; each "
        "look tests at alpha / L for L looks, Holm over the pairs (default 0.01)",
    )
    parser.add_argument(
        "--max-n", default="200", help="with --until-separated: models per space at the last look (default 200)"
    )
    parser.add_argument(
        "--rate",
        metavar="MACS_PER_S",
        help="with --plan: training multiply-adds/s of one trial "
        "(default: measured on the plans' median model, a few seconds)",
    )


def add_recipe_flags(parser: argparse.ArgumentParser) -> None:
    """--fidelity-recipe: the fidelity check's reference recipe."""
    from analysis.study import DEFAULT_FIDELITY_RECIPE

    default = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in DEFAULT_FIDELITY_RECIPE.items())
    parser.add_argument(
        "--fidelity-recipe",
        metavar="SPEC",
        default=default,
        help=f"re-run the fidelity subsample under a reference recipe too: the study's recipe with these fields "
        f"changed, key=value,... (e.g. lr=0.1,weight_decay=5e-4,epochs=1) or a recipe YAML file; the report says "
        f"which claims held under it (default {default}; none: no reference run)",
    )


def recipe_from_args(args: argparse.Namespace) -> dict:
    """The study's recipe fields: the defaults, with the budget flag given replacing the default budget, and the
    other recipe flags given."""
    from analysis.study import DEFAULT_RECIPE

    recipe = dict(DEFAULT_RECIPE)
    for flag, key in (("budget", "budget_macs"), ("epochs", "epochs"), ("images", "images")):
        if getattr(args, flag) is not None:  # one budget replaces the default one; the other defaults stay
            recipe = {k: v for k, v in recipe.items() if k != "budget_macs"} | {key: getattr(args, flag)}
    for flag in ("batch_size", "lr", "warmup", "precise_bn"):
        if getattr(args, flag) is not None:
            recipe[flag] = getattr(args, flag)
    return recipe


def add_budget_flags(parser: argparse.ArgumentParser) -> None:
    """--budget | --epochs | --images, --batch-size, --lr, --warmup, --precise-bn: the recipe's flags."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--budget", help="training multiply-adds per model, e.g. 100G (the default)")
    budget.add_argument("--epochs", help="epochs per model (fractions allowed) instead of a compute budget")
    budget.add_argument("--images", help="training images per model instead of a compute budget")
    parser.add_argument("--batch-size", type=int, help="training batch size (default 64; lr scales with it)")
    parser.add_argument("--lr", type=float, help="learning rate at batch 128 (default 0.05)")
    parser.add_argument("--warmup", type=float, help="fraction of the steps with a linear lr warm-up (default 0.2)")
    parser.add_argument(
        "--precise-bn", help="training images for precise BatchNorm statistics before evaluation (default 0: off)"
    )


def study_from_args(args: argparse.Namespace):
    """The Study the flags describe (values are validated where each sweep file is)."""
    from anynet.cli.data import image_options
    from anynet.cli.fidelity import retrain_from_args
    from analysis.study import Study
    from sweeps import parse_recipe_spec

    recipe = recipe_from_args(args)
    n = int(parse_number("--n", args.n))
    reference = args.fidelity_recipe
    return Study.of(
        spaces=tuple(s.strip() for s in args.spaces.split(",") if s.strip()),
        n=n,
        flops=args.flops or None,
        recipe=recipe,
        dataset=args.dataset,
        data_dir=args.data_dir,
        images=image_options(args, check=True),
        val_split=args.val_split,
        seed=args.seed,
        resources={"cpus": args.cpus, "gpus": args.gpus},
        measure={
            k: v for k, v in (("device", args.latency_device), ("threads", args.latency_threads)) if v is not None
        },
        max_concurrent=args.max_concurrent,
        address=args.address,
        out=Path(args.out),
        top=args.top,
        fidelity=args.fidelity,
        fidelity_factor=args.fidelity_factor,
        fidelity_reseed_long=args.fidelity_reseed_long,
        fidelity_recipe=None if reference == "none" else parse_recipe_spec(reference, "--fidelity-recipe"),
        **retrain_from_args(args, n),
        min_fidelity=args.min_fidelity,
        strict=args.strict,
    )


def run(args: argparse.Namespace) -> int:
    from analysis.study import check_gate, retrain_how, run_study

    study = study_from_args(args)
    check_gate(study)
    budget = ", ".join(f"{k} {v}" for k, v in recipe_from_args(args).items())
    check = (
        f"fidelity check {study.fidelity} per space at {study.fidelity_factor:g}x"
        + (" and under a reference recipe" if study.fidelity_recipe else "")
        if study.fidelity
        else "no fidelity check"
    )
    if study.retrain_top:
        factor, recipe = retrain_how(study)
        how = f"{factor:g}x" if recipe is None else "the retrain recipe"
        check += (
            f", best models chosen from the top {study.retrain_top} re-trained at {how} ({study.retrain_seeds} seeds)"
        )
    print(
        f"study: {', '.join(study.spaces)}; {study.sweep.n} models each, flops {args.flops or None}, {budget}, "
        f"{check}, {args.dataset}; folder {study.out}"
    )
    if args.plan:
        return _plan(study, args.rate)
    started = time.perf_counter()
    if args.until_separated:
        sequential = _until_separated(study, args)
        result = sequential.result
        print(f"sequential outcome: {sequential.path}")
        print(sequential.text, end="")
    else:
        result = run_study(study, progress=not args.no_progress)
    print(f"trained and reported in {time.perf_counter() - started:,.0f} s")
    for s in result.statuses:
        best = f", best {s.best_error:.2f}% (model {s.best_id})" if s.best_error is not None else ""
        print(f"  {s.name}: {s.ok} ok, {s.failed} failed, {s.remaining} not finished{best}")
    if result.report is not None:
        verdict = result.report.verdict
        if args.until_separated:  # the sequential outcome above is the answer
            verdict = [AFTER_SEQUENTIAL, *(f"  {line}" for line in verdict)]
        for line in (*verdict, *result.report.fidelity, *result.report.speed):
            print(line)
        print(f"report: {result.report.html}")
    for name, path in result.exports.items():
        print(f"RegNet configs of {name}: {path} (and {path.with_suffix('.pycls.yaml').name})")
    for line in result.report.selection if result.report is not None else ():
        print(line)
    if result.best is not None:
        b, r = result.best, result.best["regnet"]
        fit = f", e_fit {b['e_fit']:.3f}" if b["e_fit"] is not None else ""
        print(
            f"best model: {b['name']}, {ranked_words(b['ranked_by'])} -> RegNet d={r['depth']} w0={r['w0']} "
            f"wa={r['wa']} wm={r['wm']} group_w={r['group_w']} bot_mul={r['bot_mul']} ({b['source']}{fit})"
        )
    for note in result.notes:
        print(f"note: {note}")
    if any(s.remaining for s in result.statuses):
        print("some models did not finish: run the same command again to resume")
    if result.gate:
        print(result.gate)
    return 1 if result.gate and study.strict else 0


def ranked_words(ranked: dict) -> str:
    """The error a model was ranked by, in words: 'error 26.15% (brief)' or its re-trained mean with its spread."""
    if ranked["by"] == "brief":
        return f"error {ranked['error']:.2f}% (brief budget; ranked by it)"
    return (
        f"re-trained error {ranked['error']:.2f}% ({ranked['how']}, mean of {ranked['seeds']} seeds, spread "
        f"{ranked['spread']:.2f}; brief {ranked['brief_error']:.2f}%)"
    )


AFTER_SEQUENTIAL = (
    "fixed-n verdict, NOT valid after sequential stopping (its p-values ignore the looks; the sequential outcome "
    "above is the answer):"
)


def _until_separated(study: Study, args: argparse.Namespace) -> SequentialResult:
    """Grow the study look by look until the named pairs separate (analysis.sequential)."""
    from analysis.sequential import parse_pairs, run_until_separated

    pairs = parse_pairs(args.until_separated, study.spaces)
    max_n = int(parse_number("--max-n", args.max_n))
    return run_until_separated(study, pairs, args.alpha, max_n, progress=not args.no_progress)


def _plan(study, rate: str | None) -> int:
    from analysis.study import plan_study
    from anynet.validate import format_count

    plan = plan_study(study, parse_number("--rate", rate) if rate else None)
    guess = plan.estimate
    for config, rows, cost in zip(plan.configs, plan.plans, guess.costs):
        flops = [row.complexity.flops for row in rows]
        print(
            f"  {config.name}: {len(rows)} models, flops {format_count(min(flops))} .. {format_count(max(flops))}, "
            f"{sum(cost.images) / len(rows):,.0f} training images per model on average, "
            f"{format_count(sum(cost.macs))} training multiply-adds"
        )
    if guess.rerun_costs:
        reruns = sum(len(c.images) for c in guess.rerun_costs)
        macs = sum(c.total_macs for c in guess.rerun_costs)
        reference = ", under the reference recipe" if study.fidelity_recipe else ""
        retrain = (
            f"; the top {study.retrain_top} per space re-trained {study.retrain_seeds} times"
            if study.retrain_top
            else ""
        )
        print(
            f"  fidelity check and re-trained selection: {reruns} re-runs ({study.fidelity} models per space, at the "
            f"same budget and {'twice ' if study.fidelity_reseed_long else ''}at {study.fidelity_factor:g}x it"
            f"{reference}{retrain}), {format_count(macs)} multiply-adds"
        )
    total = sum(c.total_macs for c in guess.costs + guess.rerun_costs)
    print(f"  in all {format_count(total)} multiply-adds (training and evaluation) {guess.describe()}")
    return 0
