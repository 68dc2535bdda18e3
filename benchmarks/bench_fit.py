"""Time to fit the quantized linear rule (e_fit) to 64 AnyNetX_E models of 360-400 MF: all models together
(analysis.fit.fit_rules, models of one depth scored and refined as one array) against the same search run one model
at a time (fit_rule per model, the way a per-row loop over a sweep would do it). Both give identical fits (checked).

Run: python benchmarks/bench_fit.py [--n 64]
"""

from __future__ import annotations

import argparse
import time

from analysis.fit import fit_rule, fit_rules
from sampler import sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    args = parser.parse_args()
    widths = [spec.block_widths for spec in sample("AnyNetX_E", args.n, seed=0, flops=(360e6, 400e6)).specs]
    print(f"{args.n} AnyNetX_E models, 360-400 MF, depths {min(map(len, widths))}-{max(map(len, widths))} blocks")
    start = time.perf_counter()
    together = fit_rules(widths)
    fast = time.perf_counter() - start
    start = time.perf_counter()
    alone = [fit_rule(w) for w in widths]
    slow = time.perf_counter() - start
    assert together == alone, "fitting together changed a fit"
    print(f"together: {fast:.2f} s ({fast / args.n * 1e3:.0f} ms per model); one at a time: {slow:.2f} s")
    print(
        f"speed-up {slow / fast:.2f}x; identical fits; "
        f"median e_fit {sorted(f.e_fit for f in together)[args.n // 2]:.3f}"
    )


if __name__ == "__main__":
    main()
