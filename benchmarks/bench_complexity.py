"""Analytic complexity vs fvcore tracing (build the model + FlopCountAnalysis) on the same 20 specs.

Run: python benchmarks/bench_complexity.py [--resolution 224] [--repeats 200]
Prints per-model times and the ratio fvcore / analytic; exits non-zero if any flop count differs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd
import torch

from anynet import AnyNet, complexity, zoo_names, zoo_spec
from anynet.crosscheck import fvcore_flops

SIZES = ["200MF", "400MF", "600MF", "800MF", "1.6GF", "3.2GF", "4.0GF", "6.4GF", "8.0GF", "12GF"]
MODELS = [f"RegNet{f}-{s}" for f in "XY" for s in SIZES]


def time_analytic(spec, repeats: int) -> tuple[float, int]:
    """Median seconds per call of the analytic count, over `repeats` calls."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        flops = complexity(spec).flops
        times.append(time.perf_counter() - t)
    return statistics.median(times), flops


def time_fvcore(spec) -> tuple[float, int]:
    """Seconds to build the model and trace it with fvcore for its flops."""
    t = time.perf_counter()
    flops = fvcore_flops(AnyNet(spec))
    return time.perf_counter() - t, flops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    assert set(MODELS) <= set(zoo_names())
    torch.set_num_threads(torch.get_num_threads())
    rows = []
    for name in MODELS:
        spec = zoo_spec(name, resolution=args.resolution)
        analytic_s, flops = time_analytic(spec, args.repeats)
        fvcore_s, traced = time_fvcore(spec)
        rows.append(
            {
                "model": name,
                "flops": flops,
                "equal": flops == traced,
                "analytic_us": analytic_s * 1e6,
                "fvcore_ms": fvcore_s * 1e3,
                "ratio": fvcore_s / analytic_s,
            }
        )
    table = pd.DataFrame(rows)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.resolution} px, batch 1")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    total_a, total_f = table.analytic_us.sum() / 1e6, table.fvcore_ms.sum() / 1e3
    print(
        f"\n20 specs: analytic {total_a * 1e3:.2f} ms in all, fvcore {total_f:.2f} s in all; "
        f"fvcore / analytic: {total_f / total_a:,.0f}x overall, {table.ratio.median():,.0f}x median per model"
    )
    if not table.equal.all():
        print("FLOP COUNTS DIFFER for: " + ", ".join(table.model[~table.equal]))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
