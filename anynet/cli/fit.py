"""`anynet fit`: the quantized linear rule fitted to a sweep's best models (w0, wa, wm and e_fit)."""

from __future__ import annotations

import argparse

HELP = "fit the RegNet rule (w0, wa, wm) to the per-block widths of a sweep's best models, with e_fit"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a sweep folder")
    parser.add_argument("--top", type=int, default=10, help="how many of the best models (default 10)")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from analysis.export import top_models
    from analysis.fit import block_widths, fit_rule

    rows = []
    for _, row in top_models(args.dir, args.top).iterrows():
        fit = fit_rule(block_widths(row.spec))
        rows.append({"id": row.id, "error": row.error, "flops_M": row.flops / 1e6, "d": sum(row.spec["depths"]),
                     "w0": fit.w0, "wa": fit.wa, "wm": fit.wm, "e_fit": fit.e_fit, "e_cont": fit.e_cont,
                     "widths": "-".join(map(str, row.spec["widths"]))})  # fmt: skip
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0
