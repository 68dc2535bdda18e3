"""`anynet fit`: the quantized linear rule fitted to a sweep's best models (w0, wa, wm and e_fit)."""

from __future__ import annotations

import argparse

HELP = "fit the RegNet rule (w0, wa, wm) to the per-block widths of a sweep's best models, with e_fit"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a sweep folder")
    parser.add_argument("--top", type=int, default=10, help="how many of the best models (default 10)")


def run(args: argparse.Namespace) -> int:
    from analysis.export import top_models
    from analysis.fit import with_fits

    fits = with_fits(top_models(args.dir, args.top))
    table = fits.assign(flops_M=fits.flops / 1e6, widths=[f"{'-'.join(map(str, s.widths))}" for s in fits.spec])
    table = table[["id", "error", "flops_M", "d", "fit_w0", "fit_wa", "fit_wm", "e_fit", "e_cont", "widths"]]
    print(
        table.rename(columns=lambda c: c.removeprefix("fit_")).to_string(index=False, float_format=lambda v: f"{v:.3f}")
    )
    return 0
