"""The `anynet` command: a thin layer of subcommands over the packages."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Collection

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


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The command's parser, every subcommand's arguments registered, or only those of `commands`: registering
    imports what a subcommand's flags name (its defaults), so `anynet --help` registers none and loads no torch,
    pandas or Ray, and `anynet sample ...` loads what sampling needs."""
    parser = argparse.ArgumentParser(prog="anynet", description="Explore AnyNet/RegNet design spaces.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        if commands is None or name in commands:
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; a user-facing error is one line on stderr and exit status 1."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv and not argv[0].startswith("-") else None  # the top level has only -h
    args = build_parser({command} if command else set()).parse_args(argv)
    try:
        return SUBCOMMANDS[args.command].run(args)
    except AnynetError as e:
        print(f"anynet {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (anynet ... | head): stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0
