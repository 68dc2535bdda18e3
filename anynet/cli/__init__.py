"""The `anynet` command: a thin layer of subcommands over the packages."""

from __future__ import annotations

import argparse
import os
import sys

from anynet.cli import bench, compare, export, fidelity, fit, info, refine, sample, study, sweep, train
from anynet.errors import AnynetError

SUBCOMMANDS = {
    "info": info,
    "bench": bench,
    "sample": sample,
    "train": train,
    "sweep": sweep,
    "compare": compare,
    "fit": fit,
    "export": export,
    "study": study,
    "fidelity": fidelity,
    "refine": refine,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anynet", description="Explore AnyNet/RegNet design spaces.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        module.register(subparsers.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; a user-facing error is one line on stderr and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        return SUBCOMMANDS[args.command].run(args)
    except AnynetError as e:
        print(f"anynet {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (anynet ... | head): stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0
