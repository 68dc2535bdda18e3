"""The group/bottleneck compatibility rule (RegNet paper, appendix D), as pycls applies it."""

from __future__ import annotations

import math
from collections.abc import Sequence


def adjust_block_compatibility(
    ws: Sequence[int], bs: Sequence[float], gs: Sequence[int]
) -> tuple[list[int], list[float], list[int]]:
    """Make widths ws, bottleneck multipliers bs and group widths gs compatible.

    The group width g is clipped to the inner width v = w * b, then v is rounded (half to even) to a
    multiple of g (of lcm(g, b) when b > 1) and w = v / b. Compatible inputs come back unchanged.
    """
    if not len(ws) == len(bs) == len(gs):
        raise ValueError("ws, bs and gs must have the same length")
    vs = [int(max(1, w * b)) for w, b in zip(ws, bs)]
    gs = [int(min(g, v)) for g, v in zip(gs, vs)]
    ms = [math.lcm(g, int(b)) if b > 1 else g for g, b in zip(gs, bs)]
    vs = [max(m, int(round(v / m) * m)) for v, m in zip(vs, ms)]
    ws = [int(v / b) for v, b in zip(vs, bs)]
    return ws, list(bs), gs
