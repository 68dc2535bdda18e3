"""`anynet export`: a sweep's best models as configs that rebuild them exactly (anynet, pycls, timm or
torchvision), the Python that builds them, a check in the library itself, and trained weights renamed for it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from anynet.errors import AnynetError
from anynet.files import write_text_atomic

HELP = "export a sweep's best models as configs that rebuild them exactly: json, yaml, pycls, timm or torchvision"


def register(parser: argparse.ArgumentParser) -> None:
    from anynet.cli.fidelity import add_retrain_flags

    parser.add_argument(
        "dir", metavar="DIR", nargs="?", help="a sweep folder, or an anynet refine folder (exports its refined space)"
    )
    parser.add_argument("--top", type=int, default=1, help="how many of the best models (default 1)")
    parser.add_argument(
        "--format", default="yaml", help="json, yaml (default; anynet info reads it), pycls, timm, torchvision"
    )
    parser.add_argument(
        "--as-studied",
        action="store_true",
        help="export each studied network itself as explicit per-stage lists, not its RegNet form",
    )
    parser.add_argument(
        "--python",
        action="store_true",
        help="print the Python that builds each model in the format's library, leaving it in `model`",
    )
    parser.add_argument(
        "--approximate",
        action="store_true",
        help="also export what the library can build only approximately, saying what differs",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="build each export in its library and compare params, output shape and flops with anynet's count",
    )
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="instead: rename a trained anynet state dict (or pycls checkpoint) for --format timm, torchvision or "
        "pycls, written to --out",
    )
    parser.add_argument("--out", help="output file (default: print)")
    add_retrain_flags(parser, None)
    parser.add_argument("--address", help="with --retrain-top: an existing Ray cluster (default: a local Ray)")
    parser.add_argument("--no-progress", action="store_true", help="with --retrain-top: no progress bars")


def run(args: argparse.Namespace) -> int:
    if args.weights:
        return _weights(args)
    if args.dir is None:
        raise AnynetError("DIR: a sweep folder is required (or --weights FILE to rename trained weights)")
    if (Path(args.dir) / "refine-settings.yaml").is_file():
        return _refined(args)
    from analysis.export import check_exports, config_form, export

    if args.retrain_top is not None:
        _retrain(args)
    configs, text = export(
        args.dir, args.top, args.format, as_studied=args.as_studied, python=args.python, approximate=args.approximate
    )
    for c in configs:
        form = config_form(c, args.format)
        if not form.exact:
            print(f"note: {c['name']}: NOT exact in {form.library}: {form.differs}", file=sys.stderr)
    if args.out:
        write_text_atomic(Path(args.out), text)
        for c in configs:
            print(summary(c))
        print(f"wrote {len(configs)} config(s) to {args.out}")
    elif not args.check:
        print(text, end="")
    if not args.check:
        return 0
    checks = check_exports(configs, args.format)
    for c, result in zip(configs, checks):
        print(f"{c['name']}: {result.line()}")
    return 0 if all(result.exact for result in checks) else 1


def _refined(args: argparse.Namespace) -> int:
    """A refinement folder's refined space as a space file (yaml or json) that get_space and anynet sample read,
    written to --out or printed; with --python, the Python that draws models from it in the band it was refined
    in (after writing the file to --out, or reading the folder's refined.yaml)."""
    import json

    import yaml

    from analysis.refine import sample_code
    from analysis.refine_study import refined_space

    if args.format not in ("yaml", "json"):
        raise AnynetError(
            f"--format: a refinement folder exports its space as yaml or json, got {args.format!r}; for models in "
            f"{args.format}, export one of its sweep folders ({Path(args.dir) / 'sweeps'}/<space>)"
        )
    space, flops = refined_space(args.dir)
    data = space.to_dict()
    text = yaml.safe_dump(data, sort_keys=False) if args.format == "yaml" else json.dumps(data, indent=2) + "\n"
    path = Path(args.out) if args.out else Path(args.dir) / "refined.yaml"
    if args.out:
        write_text_atomic(path, text)
        print(f"wrote the refined space {space.name} to {path}")
    if args.python:
        print(sample_code(str(path), flops))
    elif not args.out:
        print(text, end="")
    return 0


def _retrain(args: argparse.Namespace) -> None:
    """Re-train the sweep's best models by brief error (--retrain-top), so that the export ranks by them."""
    from anynet.cli.fidelity import retrain_from_args
    from analysis.study import DEFAULT_FACTOR, Study, check_reruns
    from sweeps import SweepFolder, run_retrain

    ok = sum(r.status == "ok" for r in SweepFolder(args.dir).latest().values())
    how = retrain_from_args(args, ok)
    check_reruns(Study(fidelity=0, fidelity_recipe=None, **how))  # the flags' errors, named as on `anynet study`
    if how["retrain_top"] == 0:
        return
    factor = how["retrain_factor"] or (None if how["retrain_recipe"] else DEFAULT_FACTOR)
    for s in run_retrain(
        [args.dir],
        min(how["retrain_top"], ok),
        how["retrain_seeds"],
        factor,
        how["retrain_recipe"],
        address=args.address,
        progress=not args.no_progress,
    ):
        if s.remaining or s.failed:
            print(f"note: {s.name}: {s.failed} re-run(s) failed, {s.remaining} not finished", file=sys.stderr)


def summary(c: dict[str, Any]) -> str:
    """One line per exported config: which network, and its flops against the studied model's; where it was ranked
    by a re-trained error, that error."""
    ranked = c.get("ranked_by") or {"by": "brief"}
    if ranked["by"] == "retrained":
        return f"{_network(c)}; ranked by {ranked['error']:.2f}% re-trained ({ranked['how']}, {ranked['seeds']} seeds)"
    return _network(c)


def _network(c: dict[str, Any]) -> str:
    stages = f"{len(c['stage_depths'])} stages, strides {'-'.join(map(str, c['strides']))}"
    if c["source"] == "studied":
        return f"{c['name']}: as studied, {stages}" + (f"; {c['note']}" if c["note"] else "")
    r = c["regnet"]
    fit = f", e_fit {c['e_fit']:.4f}" if c["e_fit"] is not None else ""
    cx, measured = c["regnet_complexity"]["flops"], c["measured"]["flops"]
    return (
        f"{c['name']}: {c['source']} RegNet d={r['depth']} w0={r['w0']} wa={r['wa']} wm={r['wm']}, {stages}{fit}; "
        f"flops {cx / 1e6:.2f}M vs the model's {measured / 1e6:.2f}M ({cx / measured - 1:+.1%})"
    )


def _weights(args: argparse.Namespace) -> int:
    from anynet.convert import convert_weights

    if not args.out:
        raise AnynetError("--out: required with --weights (the file the renamed state dict is written to)")
    count = convert_weights(args.weights, args.format, args.out)
    print(f"wrote {count} tensors named for {args.format} to {args.out}")
    return 0
