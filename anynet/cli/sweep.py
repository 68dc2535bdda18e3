"""`anynet sweep run|status|plan`: sample a design space, train every model on Ray Tune, durably, resumably."""

from __future__ import annotations

import argparse
import time

from anynet.validate import format_count, format_duration, parse_number

HELP = "run a sweep (sample n models of a design space and train each briefly on Ray Tune), or report on one"


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="plan, then train every model without a final record (resumes, grows)")
    run.add_argument("file", metavar="FILE", help="sweep YAML file, or a ready-made sweep's name (see plan --list)")
    run.add_argument("--n", help="grow the sweep to this many models (the first ones stay)")
    run.add_argument(
        "--address", help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: the file's, else a local Ray)"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    status = actions.add_parser("status", help="counts, best error so far, throughput and failures of a sweep folder")
    status.add_argument("dir", metavar="DIR", help="the sweep's folder (its out_dir)")
    plan = actions.add_parser("plan", help="sample the plan without training: complexity range, cost, time estimate")
    plan.add_argument("file", metavar="FILE", nargs="?", help="sweep YAML file or a ready-made sweep's name")
    plan.add_argument("--list", action="store_true", help="list the ready-made sweep files and exit")
    plan.add_argument("--n", help="plan this many models instead of the file's n")
    plan.add_argument(
        "--rate",
        metavar="MACS_PER_S",
        help="training multiply-adds per second of one trial (default: measured on the plan's median "
        "model, a few seconds)",
    )


def run(args: argparse.Namespace) -> int:
    return {"run": _run, "status": _status, "plan": _plan}[args.action](args)


def _run(args: argparse.Namespace) -> int:
    from sweeps import load_sweep
    from sweeps import run_sweep

    config = load_sweep(args.file)
    n = int(parse_number("--n", args.n)) if args.n else None
    print(
        f"sweep {config.name}: {config.space.name}, {max(n or 0, config.n)} models, {config.dataset}, "
        f"folder {config.out_dir}"
    )
    started = time.perf_counter()
    status = run_sweep(config, n=n, address=args.address, progress=not args.no_progress)
    print(f"{_counts(status)}; this run {time.perf_counter() - started:,.0f} s")
    _print_best_and_failures(status)
    if status.remaining:
        print(f"{status.remaining} models not finished: run the same command again to resume")
    return 0


def _status(args: argparse.Namespace) -> int:
    from sweeps import sweep_status

    status = sweep_status(args.dir)
    print(f"sweep {status.name}: {_counts(status)}")
    if status.models_per_hour:
        eta = status.remaining / status.models_per_hour * 3600 if status.remaining else 0
        print(
            f"throughput {status.models_per_hour:,.1f} models/h, {status.mean_wall_s:,.1f} s per model"
            + (f", about {format_duration(eta)} left" if eta else "")
        )
    _print_best_and_failures(status)
    return 0


def _counts(status) -> str:
    return (
        f"{status.ok + status.failed} of {status.planned} done (ok {status.ok}, failed {status.failed}), "
        f"{status.remaining} remaining"
    )


def _print_best_and_failures(status) -> None:
    if status.best_id is not None:
        print(
            f"best so far: model {status.best_id}, error {status.best_error:.2f}%, "
            f"{format_count(status.best_flops)} flops"
        )
    for message, ids in status.failures.items():
        shown = ", ".join(map(str, ids[:10])) + (", ..." if len(ids) > 10 else "")
        print(f"failed ({len(ids)}): {message} [models {shown}]")


def _plan(args: argparse.Namespace) -> int:
    from sweeps import SweepError, config_names, load_sweep
    from sweeps import plan_sweep

    if args.list:
        for name in config_names():
            config = load_sweep(name)
            print(f"{name}: {config.space.name}, n={config.n}, {config.dataset}")
        return 0
    if not args.file:
        raise SweepError("FILE: required (anynet sweep plan --list shows the ready-made sweeps)")
    config = load_sweep(args.file)
    if args.n:
        config = config.with_n(int(parse_number("--n", args.n)))
    planned = plan_sweep(config, parse_number("--rate", args.rate) if args.rate else None)
    plan, guess = planned.plan, planned.estimate
    cost = guess.costs[0]
    print(
        f"sweep {config.name}: {len(plan)} models of {config.space.name} on {config.dataset} "
        f"({planned.train_size:,} training images)"
    )
    for metric in ("flops", "params", "acts"):
        values = [getattr(row.complexity, metric) for row in plan]
        print(f"  {metric:6s} {format_count(min(values))} .. {format_count(max(values))}")
    print(
        f"  training: {format_count(sum(cost.images))} images, {format_count(sum(cost.macs))} multiply-adds; "
        f"evaluation {format_count(sum(cost.eval_macs))}"
    )
    print(f"  {guess.describe()}")
    return 0
