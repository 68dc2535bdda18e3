"""Fitting the quantized linear rule to a model's per-block widths (the RegNet paper's e_fit, section 3.3).

For widths w_j (j < d), find (w0, wa, wm) minimizing e_fit = mean_j |log(w_hat_j / w_j)|, w_hat the quantized rule
(anynet.regnet.rule_widths, q = 8). The search: a grid of w0 over the multiples of 8 up to the largest width,
wa over 60 log-spaced values in [0.5, 512] (and 0), wm over 1.5..3.0 in steps of 0.05; then a local grid around
each of the 10 best points (w0 +- 16, wa x 0.8..1.25, wm +- 0.05, 21 values each for wa and wm), recentred on
each improvement and narrowed by half when none, up to 8 rounds. Only parameter sets whose quantization skips no stage index are
candidates. Also reported: the continuous line's fit, mean |log(u_j/w_j)|.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from anynet.regnet import rule_widths

Q = 8
WA_GRID = np.concatenate([[0.0], np.geomspace(0.5, 512, 60)])
WM_GRID = np.round(np.arange(1.5, 3.0001, 0.05), 2)
STARTS = 10  # the best grid points each refined locally (the error surface is piecewise constant)


@dataclass(frozen=True)
class RuleFit:
    w0: int
    wa: float
    wm: float
    e_fit: float  # mean |log(w_hat / w)| of the quantized rule
    e_cont: float  # mean |log(u / w)| of the continuous line at the same (w0, wa)


def _best(ws: np.ndarray, w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, k: int = 1) -> list[tuple]:
    """The k best valid candidates of the (flattened, broadcast) parameter arrays: (w0, wa, wm, e_fit, e_cont)."""
    w0, wa, wm = (a.ravel() for a in np.broadcast_arrays(w0, wa, wm))
    cont, ss, quant = rule_widths(len(ws), w0, wa, wm, Q)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(np.log(quant / ws)).mean(axis=1)
    top = ss.max(axis=1)
    present = np.zeros((len(w0), int(top.max()) + 1), dtype=bool)
    present[np.repeat(np.arange(len(w0)), len(ws)), ss.ravel().astype(int)] = True
    valid = present.sum(axis=1) == top + 1  # no stage index skipped
    err = np.where(valid & np.isfinite(err), err, np.inf)
    best = np.argsort(err, kind="stable")[:k]
    return [(int(w0[i]), float(wa[i]), float(wm[i]), float(err[i]), float(np.abs(np.log(cont[i] / ws)).mean()))
            for i in best]  # fmt: skip


def fit_rule(widths: list[int] | np.ndarray) -> RuleFit:
    """The quantized linear rule that best explains one model's per-block widths."""
    ws = np.asarray(widths, dtype=float)
    w0_grid = np.arange(Q, max(Q, Q * np.ceil(ws.max() / Q)) + 1, Q)
    starts = _best(ws, w0_grid[:, None, None], WA_GRID[None, :, None], WM_GRID[None, None, :], k=STARTS)
    return RuleFit(*min((_refine(ws, start) for start in starts), key=lambda fit: fit[3]))


def _refine(ws: np.ndarray, best: tuple) -> tuple:
    ratio, delta = 1.25, 0.05
    for _ in range(8):
        w0, wa, wm, e_fit, _ = best
        if e_fit == 0:
            break
        w0_local = np.clip(w0 + Q * np.arange(-2, 3), Q, None)
        wa_local = np.concatenate([[0.0], wa * np.geomspace(1 / ratio, ratio, 21)]) if wa else np.geomspace(0.05, 1, 21)
        wm_local = np.clip(wm + np.linspace(-delta, delta, 21), 1.01, None)
        local = _best(ws, w0_local[:, None, None], wa_local[None, :, None], wm_local[None, None, :])[0]
        if local[3] < e_fit:
            best = local
        else:
            ratio, delta = np.sqrt(ratio), delta / 2
    return best


def with_fits(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with e_fit, e_cont, fit_w0, fit_wa, fit_wm columns: the rule fitted to each model's block widths."""
    fits = [asdict(fit_rule(block_widths(spec))) for spec in frame.spec]
    columns = pd.DataFrame(fits, index=frame.index).rename(columns={"w0": "fit_w0", "wa": "fit_wa", "wm": "fit_wm"})
    return frame.join(columns)


def block_widths(spec: dict) -> list[int]:
    """The width of every block, in order (stage i's width repeated d_i times)."""
    return [w for d, w in zip(spec["depths"], spec["widths"]) for _ in range(d)]
