"""The group/bottleneck compatibility rule (RegNet paper, appendix D), as pycls applies it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def adjust_columns(ws: np.ndarray, bs: np.ndarray, gs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rule elementwise on integer widths ws, bottleneck multipliers bs (floats) and group widths gs.

    The group width g is clipped to the inner width v = w * b, v is rounded (half to even) to a multiple of g
    (of lcm(g, b) when b > 1) and w = v / b. Returns the adjusted (ws, gs); compatible values come back unchanged.
    """
    vs = np.maximum(1, ws * bs).astype(np.int64)
    gs = np.minimum(gs, vs).astype(np.int64)
    inverted = bs > 1
    ms = np.where(inverted, np.lcm(gs, np.maximum(bs, 1).astype(np.int64)), gs) if inverted.any() else gs
    vs = np.maximum(ms, (np.rint(vs / ms) * ms).astype(np.int64))
    return (vs / bs).astype(np.int64), gs


def adjust_block_compatibility(
    ws: Sequence[int], bs: Sequence[float], gs: Sequence[int]
) -> tuple[list[int], list[float], list[int]]:
    """Make per-stage widths ws, bottleneck multipliers bs and group widths gs compatible: pycls's function,
    in plain Python for one spec (adjust_columns is the same rule on numpy columns; tests hold them equal)."""
    if not len(ws) == len(bs) == len(gs):
        raise ValueError("ws, bs and gs must have the same length")
    vs = [int(max(1, w * b)) for w, b in zip(ws, bs)]
    gs = [int(min(g, v)) for g, v in zip(gs, vs)]
    ms = [math.lcm(g, int(b)) if b > 1 else g for g, b in zip(gs, bs)]
    vs = [max(m, int(round(v / m) * m)) for v, m in zip(vs, ms)]
    return [int(v / b) for v, b in zip(vs, bs)], list(bs), gs
