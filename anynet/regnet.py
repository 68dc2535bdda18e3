"""The quantized linear rule of RegNet: (d, w0, wa, wm) -> per-block and per-stage widths."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from anynet.errors import SpecError
from anynet.validate import check_int, check_real


@dataclass(frozen=True)
class RegNetWidths:
    """Everything the rule generates for one parameter set."""

    ws_cont: tuple[float, ...]  # u_j = w0 + wa * j, the continuous per-block widths
    ss: tuple[int, ...]  # s_j, the per-block stage index
    ws_all: tuple[int, ...]  # w_j, the quantized per-block widths
    widths: tuple[int, ...]  # per stage (runs of equal w_j)
    depths: tuple[int, ...]  # per stage


def rule_stages(d: int, w0, wa, wm) -> tuple[np.ndarray, np.ndarray]:
    """The first half of the rule for many parameter sets: (w0, wa, wm) broadcast together, each result of shape
    (..., d): the continuous widths u_j = w0 + wa * j and the stage indices s_j = round(log(u_j / w0) / log(wm))."""
    w0, wa, wm = (np.asarray(v, dtype=float)[..., None] for v in (w0, wa, wm))
    ws_cont = np.arange(d) * wa + w0
    return ws_cont, np.round(np.log(ws_cont / w0) / np.log(wm))


def stage_widths(w0, wm, ss, q: int = 8) -> np.ndarray:
    """The second half: the quantized width of stage index s, round(w0 * wm**s / q) * q (floats holding integers)."""
    return np.round(w0 * np.power(wm, ss) / q) * q


def rule_widths(d: int, w0, wa, wm, q: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole rule for many parameter sets at once: (w0, wa, wm) broadcast together, each result of shape
    (..., d): the continuous widths u_j, the stage indices s_j and the quantized widths w_j (floats holding
    integers)."""
    ws_cont, ss = rule_stages(d, w0, wa, wm)
    w0, wm = (np.asarray(v, dtype=float)[..., None] for v in (w0, wm))
    return ws_cont, ss, stage_widths(w0, wm, ss, q)


def quantized_linear(d: int, w0: float, wa: float, wm: float, q: int = 8) -> RegNetWidths:
    """Apply the rule with numpy's round-half-to-even, exactly as pycls does; no validity check."""
    ws_cont, ss, ws_all = (a[0] for a in rule_widths(d, [w0], [wa], [wm], q))
    ws_all = ws_all.astype(int)
    widths, depths = np.unique(ws_all, return_counts=True)
    return RegNetWidths(
        ws_cont=tuple(ws_cont.tolist()),
        ss=tuple(int(s) for s in ss),
        ws_all=tuple(ws_all.tolist()),
        widths=tuple(widths.tolist()),
        depths=tuple(depths.tolist()),
    )


@dataclass(frozen=True)
class RegNetParams:
    """A RegNet: depth d, initial width w0, slope wa, width multiplier wm, group width, bottleneck multiplier.

    Valid only if wa >= 0, w0 > 0, wm > 1, w0 % q == 0 and the quantization skips no stage index.
    """

    depth: int
    w0: int
    wa: float
    wm: float
    group_w: int
    bot_mul: float = 1.0
    q: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", check_int("regnet.depth", self.depth, minimum=1))
        object.__setattr__(self, "q", check_int("regnet.q", self.q, minimum=1))
        w0 = check_int("regnet.w0", self.w0, minimum=1)
        if w0 % self.q:
            raise SpecError(f"regnet.w0: must be a multiple of q={self.q}, got {w0}")
        object.__setattr__(self, "w0", w0)
        object.__setattr__(self, "wa", check_real("regnet.wa", self.wa, low=0.0))
        object.__setattr__(self, "wm", check_real("regnet.wm", self.wm, low=1.0, strict=True))
        object.__setattr__(self, "group_w", check_int("regnet.group_w", self.group_w, minimum=1))
        object.__setattr__(self, "bot_mul", check_real("regnet.bot_mul", self.bot_mul, low=0.0, strict=True))
        rule = self.rule
        if len(rule.widths) != max(rule.ss) + 1:
            raise SpecError(
                f"regnet: depth={self.depth}, w0={self.w0}, wa={self.wa}, wm={self.wm} is invalid: its "
                f"quantization skips a stage index (stage indices {sorted(set(rule.ss))}, "
                f"{len(rule.widths)} distinct widths {list(rule.widths)})"
            )

    @cached_property
    def rule(self) -> RegNetWidths:
        """The per-block and per-stage widths this parameter set generates."""
        return quantized_linear(self.depth, self.w0, self.wa, self.wm, self.q)

    def to_dict(self) -> dict:
        """Plain-dict form, pycls REGNET key names in lower case."""
        return asdict(self)


def regnet_columns(
    d: np.ndarray, w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, num_stages: int, q: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rule for N parameter sets at once: (valid, stage widths [V, S], stage depths [V, S]).

    valid marks the sets that are valid RegNets (no skipped stage index) with exactly num_stages stages;
    the widths and depths are those of the V valid rows. Same arithmetic as quantized_linear, on an
    [N, max d] grid masked beyond each row's depth.
    """
    live = np.arange(int(d.max()))[None, :] < d[:, None]
    _, ss, ws_all = rule_widths(int(d.max()), w0, wa, wm, q)
    # ws_all is non-decreasing along j, so distinct widths = 1 + the number of changes
    changes = (ws_all[:, 1:] != ws_all[:, :-1]) & live[:, 1:]
    distinct = 1 + changes.sum(axis=1)
    top = np.where(live, ss, -1).max(axis=1)
    valid = (distinct == top + 1) & (distinct == num_stages)
    ss, live = ss[valid], live[valid]
    depths = np.stack([((ss == k) & live).sum(axis=1) for k in range(num_stages)], axis=1)
    stages = np.arange(num_stages)[None, :]
    widths = np.round(w0[valid, None] * np.power(wm[valid, None], stages) / q).astype(np.int64) * q
    return valid, widths, depths
