"""`anynet sample`: draw distinct specs from a design space inside complexity bands, as JSON lines."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

import yaml

from anynet.errors import SpecError
from anynet.files import write_jsonl
from anynet.validate import parse_band, parse_number

HELP = "draw distinct specs from a design space inside complexity bands (one JSON spec per line)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--space", help="built-in space name (see --list) or a space YAML file")
    parser.add_argument("--list", action="store_true", help="list the built-in spaces and exit")
    parser.add_argument("--n", default="100", help="number of specs (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    for metric in ("flops", "params", "acts"):
        parser.add_argument(f"--{metric}", metavar="LO:HI", help=f"{metric} band, e.g. 360M:400M (a side may be empty)")
    parser.add_argument("--stages", type=int, help="number of stages (overrides the space)")
    parser.add_argument("--resolution", type=int, help="input resolution in pixels (overrides the space)")
    parser.add_argument("--in-channels", type=int, help="input channels (overrides the space)")
    parser.add_argument("--classes", type=int, help="number of classes (overrides the space)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any space field, dotted for parameters: --set params.d.high=8 --set stem_w=24",
    )
    parser.add_argument("--max-draws", default="50M", help="give up after this many candidates (default 50M)")
    parser.add_argument("--out", help="output .jsonl file (default: the JSON lines on stdout)")


def overrides(args: argparse.Namespace) -> dict:
    """Space overrides from the flags."""
    out = {}
    named = {
        "stages": args.stages,
        "resolution": args.resolution,
        "in_channels": args.in_channels,
        "num_classes": args.classes,
    }
    out.update({k: v for k, v in named.items() if v is not None})
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError(f"--set: {item!r} must be KEY=VALUE, e.g. params.d.high=8")
        out[key.strip()] = yaml.safe_load(value)
    return out


def run(args: argparse.Namespace) -> int:
    from sampler import get_space, sample, space_names

    if args.list:
        for name in space_names():
            space = get_space(name)
            print(f"{name}: {space.kind}, {space.stages} stages, {space.resolution} px, {space.stem_type}")
            print(textwrap.fill(space.description, width=100, initial_indent="    ", subsequent_indent="    "))
        return 0
    if not args.space:
        raise SpecError("--space: required (anynet sample --list shows the spaces)")
    space = get_space(args.space)
    changes = overrides(args)
    if changes:
        space = space.with_overrides(changes)
    n = int(parse_number("--n", args.n))
    bands = {m: parse_band(f"--{m}", getattr(args, m)) for m in ("flops", "params", "acts") if getattr(args, m)}
    result = sample(space, n, args.seed, max_draws=int(parse_number("--max-draws", args.max_draws)), **bands)
    if not args.out:
        for record in result.records():
            print(json.dumps(record))
        return 0
    out = Path(args.out)
    write_jsonl(result.records(), out)
    frame = result.frame()
    print(
        f"wrote {len(result)} {space.name} specs to {out}: flops {frame.flops.min() / 1e6:,.2f}M-"
        f"{frame.flops.max() / 1e6:,.2f}M, params {frame.params.min() / 1e6:,.2f}M-{frame.params.max() / 1e6:,.2f}M"
    )
    print(f"{result.draws:,} candidates drawn, acceptance {result.acceptance:.3%}, {result.seconds:.2f} s")
    return 0
