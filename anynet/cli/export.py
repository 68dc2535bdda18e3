"""`anynet export`: a sweep's best models as concrete RegNet configs (anynet, pycls, timm or torchvision)."""

from __future__ import annotations

import argparse
from pathlib import Path

from anynet.files import write_text_atomic

HELP = "export a sweep's best models as RegNet configs: json, yaml, pycls, timm or torchvision"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a sweep folder")
    parser.add_argument("--top", type=int, default=1, help="how many of the best models (default 1)")
    parser.add_argument("--format", default="yaml", help="json, yaml (default; anynet info reads it), pycls, timm, "
                        "torchvision")  # fmt: skip
    parser.add_argument("--out", help="output file (default: print)")


def run(args: argparse.Namespace) -> int:
    from analysis.export import export

    configs, text = export(args.dir, args.top, args.format)
    if args.out:
        write_text_atomic(Path(args.out), text)
        for c in configs:
            fit = f", e_fit {c['e_fit']:.4f}" if c["e_fit"] is not None else ""
            cx, measured = c["regnet_complexity"]["flops"], c["measured"]["flops"]
            print(f"{c['name']}: {c['source']} RegNet d={c['regnet']['depth']} w0={c['regnet']['w0']} "
                  f"wa={c['regnet']['wa']} wm={c['regnet']['wm']}{fit}; flops {cx / 1e6:.2f}M vs the model's "
                  f"{measured / 1e6:.2f}M ({cx / measured - 1:+.1%})")  # fmt: skip
        print(f"wrote {len(configs)} config(s) to {args.out}")
    else:
        print(text, end="")
    return 0
