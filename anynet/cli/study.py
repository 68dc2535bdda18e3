"""`anynet study`: one sweep per design space, one shared recipe and band, then the report and RegNet configs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from anynet.validate import parse_number

HELP = "a design-space study: one sweep per space (shared recipe, band, dataset), then the compare report with " \
       "RegNet fits and the best models exported as RegNet configs; run it again to resume"  # fmt: skip


def register(parser: argparse.ArgumentParser) -> None:
    from analysis.study import ALIASES, DEFAULT_FLOPS, DEFAULT_N, DEFAULT_SPACES

    parser.add_argument("--spaces", default=",".join(DEFAULT_SPACES),
                        help=f"comma-separated: {', '.join(ALIASES)} (the paper's spaces at small-image scale), or "
                             f"space names/YAML files (default {','.join(DEFAULT_SPACES)})")  # fmt: skip
    parser.add_argument("--n", default=str(DEFAULT_N), help=f"models per space (default {DEFAULT_N}; a larger n on "
                        "an existing study grows every sweep)")  # fmt: skip
    parser.add_argument("--flops", default=DEFAULT_FLOPS, help=f"complexity band LO:HI (default {DEFAULT_FLOPS})")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--budget", help="training multiply-adds per model, e.g. 100G (the default)")
    budget.add_argument("--epochs", help="epochs per model (fractions allowed) instead of a compute budget")
    budget.add_argument("--images", help="training images per model instead of a compute budget")
    parser.add_argument("--batch-size", type=int, help="training batch size (default 128; lr scales with it)")
    parser.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist (default), mnist, cifar10, cifar100, "
                        "imagenet or synthetic")  # fmt: skip
    parser.add_argument("--data-dir", help="where the dataset's files are (default: the standard search)")
    parser.add_argument("--val-split", type=float, help="select on a validation split of this fraction of the "
                        "training set (default: test error, as the paper's CIFAR studies)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="sampling and training seed (default 0)")
    parser.add_argument("--cpus", type=float, default=1, help="CPUs per trial (its torch threads; default 1)")
    parser.add_argument("--gpus", type=float, default=0, help="GPUs per trial; a fraction shares one (e.g. 0.25)")
    parser.add_argument("--max-concurrent", type=int, help="at most this many trials at once")
    parser.add_argument("--address", help="an existing Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: a "
                        "local Ray)")  # fmt: skip
    parser.add_argument("--out", default="runs/study", help="the study folder (default runs/study)")
    parser.add_argument("--top", type=int, default=3, help="models exported per space (default 3)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--plan", action="store_true", help="only sample the spaces and estimate the time (trains "
                        "nothing, writes nothing)")  # fmt: skip
    parser.add_argument("--rate", metavar="MACS_PER_S", help="with --plan: training multiply-adds/s of one trial "
                        "(default: measured on the plans' median model, a few seconds)")  # fmt: skip


def study_from_args(args: argparse.Namespace):
    """The Study the flags describe (values are validated where each sweep file is)."""
    from analysis.study import DEFAULT_RECIPE, Study

    recipe = dict(DEFAULT_RECIPE)
    for flag, key in (("budget", "budget_macs"), ("epochs", "epochs"), ("images", "images")):
        if getattr(args, flag) is not None:
            recipe = {key: getattr(args, flag)}
    if args.batch_size is not None:
        recipe["batch_size"] = args.batch_size
    return Study(
        spaces=tuple(s.strip() for s in args.spaces.split(",") if s.strip()), n=int(parse_number("--n", args.n)),
        flops=args.flops or None, recipe=recipe, dataset=args.dataset, data_dir=args.data_dir,
        val_split=args.val_split, seed=args.seed, resources={"cpus": args.cpus, "gpus": args.gpus},
        max_concurrent=args.max_concurrent, address=args.address, out=Path(args.out), top=args.top,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from analysis.study import run_study

    study = study_from_args(args)
    budget = ", ".join(f"{k} {v}" for k, v in study.recipe.items())
    print(f"study: {', '.join(study.spaces)}; {study.n} models each, flops {study.flops}, {budget}, "
          f"{study.dataset}; folder {study.out}")  # fmt: skip
    if args.plan:
        return _plan(study, args.rate)
    started = time.perf_counter()
    result = run_study(study, progress=not args.no_progress)
    print(f"trained and reported in {time.perf_counter() - started:,.0f} s")
    for s in result.statuses:
        best = f", best {s.best_error:.2f}% (model {s.best_id})" if s.best_error is not None else ""
        print(f"  {s.name}: {s.ok} ok, {s.failed} failed, {s.remaining} not finished{best}")
    if result.report is not None:
        table = result.report.table.set_index("sweep")
        ranked = table.sort_values("mean_error").index
        print("mean error, best first: " + ", ".join(f"{n} {table.mean_error[n]:.2f}%" for n in ranked))
        print(f"report: {result.report.html}")
    for name, path in result.exports.items():
        print(f"RegNet configs of {name}: {path} (and {path.with_suffix('.pycls.yaml').name})")
    if result.best is not None:
        b, r = result.best, result.best["regnet"]
        fit = f", e_fit {b['e_fit']:.3f}" if b["e_fit"] is not None else ""
        print(f"best model: {b['name']}, error {b['measured']['error']:.2f}% -> RegNet d={r['depth']} w0={r['w0']} "
              f"wa={r['wa']} wm={r['wm']} group_w={r['group_w']} bot_mul={r['bot_mul']} ({b['source']}{fit})")  # fmt: skip
    for note in result.notes:
        print(f"note: {note}")
    if any(s.remaining for s in result.statuses):
        print("some models did not finish: run the same command again to resume")
    return 0


def _plan(study, rate: str | None) -> int:
    from analysis.study import plan_study
    from anynet.validate import format_count, format_duration

    plan = plan_study(study, parse_number("--rate", rate) if rate else None)
    guess = plan.estimate
    for config, rows, cost in zip(plan.configs, plan.plans, guess.costs):
        flops = [row["flops"] for row in rows]
        print(f"  {config.name}: {len(rows)} models, flops {format_count(min(flops))} .. {format_count(max(flops))}, "
              f"{sum(cost.images) / len(rows):,.0f} training images per model on average, "
              f"{format_count(sum(cost.macs))} training multiply-adds")  # fmt: skip
    total = sum(c.total_macs for c in guess.costs)
    how = "given" if rate else f"measured, {plan.configs[0].resources.threads} thread(s)"
    print(f"  in all {format_count(total)} multiply-adds (training and evaluation) at {format_count(guess.rate)}/s "
          f"per trial ({how}), {guess.trials} trials at once: about {format_duration(guess.seconds)} of training, "
          "plus Ray's start and any slowdown of trials sharing a machine (two 1-thread trials on 2 cores: 1.3-1.6x)")
    return 0
