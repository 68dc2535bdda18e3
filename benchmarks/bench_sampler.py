"""Time to draw 500 AnyNetX_A and 500 AnyNetX_E specs in 360-400 MF (224 px, 4 stages): the vectorized
sampler against a baseline that draws one candidate at a time in pure Python and counts it with the scalar
function (pycls's way: its scalar samplers, then the analytic complexity of each candidate).

Run: python benchmarks/bench_sampler.py [--n 500]
The vectorized time is the median of 5 runs, the baseline's a single run (it takes seconds). The baseline rejects
on the orderings before counting each candidate, so it is no strawman.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from anynet import AnyNetSpec, adjust_block_compatibility, complexity
from sampler import get_space, sample
from sampler.space import DesignSpace

BAND = (360e6, 400e6)


def draw_scalar(r: random.Random, kind: str, low: float, high: float, q: float) -> float:
    """pycls/sweep/random.py's samplers for the kinds these spaces use, one value at a time."""
    if kind == "log_uniform":
        return math.ceil(math.exp(r.uniform(math.log(low - min(q, low / 2)), math.log(high))) / q) * q
    if kind == "power2":
        return 2 ** r.randint(int(math.log2(low)), int(math.log2(high)))
    raise ValueError(kind)


def baseline(space: DesignSpace, n: int, seed: int) -> tuple[list[AnyNetSpec], int]:
    """One candidate at a time: draw (ordered parameters first, rejecting early), adjust, build, count, filter."""
    r, s = random.Random(seed), space.stages
    names = [*space.non_decreasing, *(p for p in space.params if p not in space.non_decreasing)]
    specs, seen, draws = [], set(), 0
    while len(specs) < n:
        draws += 1
        values, ok = {}, True
        for name in names:
            p = space.params[name]
            d = p.dist
            if p.shared:
                values[name] = [draw_scalar(r, d.kind, d.low, d.high, d.q)] * s
            else:
                values[name] = [draw_scalar(r, d.kind, d.low, d.high, d.q) for _ in range(s)]
            if name in space.non_decreasing and any(a > b for a, b in zip(values[name], values[name][1:])):
                ok = False
                break
        if not ok:
            continue
        bot_muls = [1 / b for b in values["b"]]
        ws, bs, gs = adjust_block_compatibility([int(w) for w in values["w"]], bot_muls, [int(g) for g in values["g"]])
        spec = AnyNetSpec(
            stem_type=space.stem_type,
            stem_w=space.stem_w,
            depths=[int(d) for d in values["d"]],
            widths=ws,
            strides=space.strides,
            bot_muls=bs,
            group_ws=gs,
            resolution=space.resolution,
        )
        key = (spec.depths, spec.widths, spec.bot_muls, spec.group_ws)
        if key in seen or not BAND[0] <= complexity(spec).flops <= BAND[1]:
            continue
        seen.add(key)
        specs.append(spec)
    return specs, draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sample("AnyNetX_A", 10, seed=99, flops=BAND)  # warm numpy up outside the timings
    print(f"{args.n} specs in flops [{BAND[0] / 1e6:.0f}M, {BAND[1] / 1e6:.0f}M], 224 px, 4 stages, seed {args.seed}")
    print(f"{'space':10s} {'vectorized':>12s} {'draws':>12s} {'baseline':>12s} {'draws':>12s} {'ratio':>8s}")
    for name in ("AnyNetX_A", "AnyNetX_E"):
        space = get_space(name)
        fast_times = []
        for _ in range(5):
            t = time.perf_counter()
            fast = sample(space, args.n, seed=args.seed, flops=BAND)
            fast_times.append(time.perf_counter() - t)
        fast_s = statistics.median(fast_times)
        t = time.perf_counter()
        slow, slow_draws = baseline(space, args.n, args.seed)
        slow_s = time.perf_counter() - t
        assert len(fast) == len(slow) == args.n
        print(f"{name:10s} {fast_s:11.3f}s {fast.draws:12,} {slow_s:11.2f}s {slow_draws:12,} {slow_s / fast_s:7.0f}x")


if __name__ == "__main__":
    main()
