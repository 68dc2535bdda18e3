"""`anynet info`: the stages and exact complexity of a zoo model or a spec file."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from anynet.counting import complexity, complexity_breakdown
from anynet.files import resolve_spec
from anynet.spec import AnyNetSpec
from anynet.validate import format_count

if TYPE_CHECKING:
    import pandas as pd

HELP = "show the stages and exact complexity (flops, params, acts) of a zoo model or spec file"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="NAME_OR_FILE", help="zoo name (e.g. RegNetX-400MF) or .yaml/.json spec")
    parser.add_argument("--resolution", type=int, help="input resolution in pixels (overrides the spec)")
    parser.add_argument("--classes", type=int, help="number of classes (overrides the spec)")
    parser.add_argument("--in-channels", type=int, help="input channels, e.g. 1 for Fashion-MNIST")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--fvcore", action="store_true", help="also count by tracing the built model with fvcore")


def stage_table(spec: AnyNetSpec) -> pd.DataFrame:
    """One row per part (stem, stages, head) with its shape and its own complexity."""
    import pandas as pd

    rows = []
    for i, (name, cx, (h, w)) in enumerate(complexity_breakdown(spec)):
        stage = 0 < i <= spec.num_stages
        inner = ("exp_r", "kernel") if spec.exp_rs is not None else ("bot_mul", "group_w", "groups")
        row = {"part": name, "depth": "-", "width": "-", "stride": "-", **dict.fromkeys(inner, "-")}
        if name == "stem":
            row.update(width=spec.stem_w)
        if stage:
            j = i - 1
            row.update(depth=spec.depths[j], width=spec.widths[j], stride=spec.strides[j])
            if spec.bot_muls is not None:
                row.update(bot_mul=f"{spec.bot_muls[j]:g}", group_w=spec.group_ws[j], groups=spec.groups[j])
            if spec.exp_rs is not None:
                row.update(exp_r=f"{spec.exp_rs[j]:g}", kernel=spec.kernels[j])
        row.update(output=f"{h}x{w}", **{k: format_count(v) for k, v in cx._asdict().items()})
        rows.append(row)
    return pd.DataFrame(rows)


def run(args: argparse.Namespace) -> int:
    names = {"resolution": args.resolution, "num_classes": args.classes, "in_channels": args.in_channels}
    spec = resolve_spec(args.model, {k: v for k, v in names.items() if v is not None})
    total = complexity(spec)
    if args.fvcore:
        from anynet.crosscheck import fvcore_complexity  # torch and fvcore: only when asked
    traced = fvcore_complexity(spec) if args.fvcore else None
    if args.json:
        out = {"model": args.model, **total._asdict(), "bot_muls": None, "group_ws": None, **spec.to_dict()}
        if traced is not None:
            out["fvcore"] = traced._asdict()
        print(json.dumps(out))
        return 0
    se = f" + squeeze-excite (se_r {spec.se_r:g})" if spec.se_r else ""
    se += f", {spec.activation}" if spec.activation != "relu" else ""
    se += f", head conv {spec.head_w}" if spec.head_w else ""
    print(
        f"{args.model}: {spec.block_type}{se}, stem {spec.stem_type} (width {spec.stem_w}), input "
        f"{spec.in_channels}x{spec.resolution}x{spec.resolution}, {spec.num_classes} classes"
    )
    if spec.regnet is not None:
        print("RegNet: " + ", ".join(f"{k} {v:g}" for k, v in spec.regnet.to_dict().items()))
    print()
    print(stage_table(spec).to_string(index=False))
    print()
    print("total: " + ", ".join(f"{k} {format_count(v)} ({v:,})" for k, v in total._asdict().items()))
    if traced is not None:
        verdict = "equal" if traced == total else "DIFFERENT"
        print(f"fvcore: flops {traced.flops:,}, params {traced.params:,}, acts {traced.acts:,} ({verdict})")
    return 0
