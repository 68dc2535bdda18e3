"""Fitting the quantized linear rule to models' per-block widths (the RegNet paper's e_fit, section 3.3).

For widths w_j (j < d), find (w0, wa, wm) minimizing e_fit = mean_j |log(w_hat_j / w_j)|, w_hat the quantized rule
(anynet.regnet, with a given quantum q, 8 by default). The search: a grid of w0 over the multiples of q up to
the model's largest width, wa over
60 log-spaced values in [0.5, 512] (and 0), wm over 1.5..3.0 in steps of 0.05; then a local grid around each of
the 10 best points (w0 +- 2q, wa x 0.8..1.25 and 0, wm +- 0.05, 21 values each for wa and wm), recentred on each
improvement and narrowed by half when none, 8 rounds. Only parameter sets whose quantization skips no stage index
within the model's depth are candidates. Also reported: the continuous line's fit, mean |log(u_j/w_j)|.

Given a number of stages k (fit_rules(..., stages=)), only valid RegNets with exactly k stages at the model's depth
are candidates: no stage index skipped, no two stage indices quantized to one width (pycls's num_stages ==
max_stage), and k distinct widths. An export fitted this way keeps the studied model's stages (and its strides).

Vectorized over models: the grid's stage indices are computed once at the largest depth (a shorter model reads the
prefix), models of one depth are scored together, and their (model, start) pairs are refined together. A grid's
log widths come from a table of its (w0, wm, s) values, so no logarithm is taken per block and candidate.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from anynet.regnet import rule_stages, stage_widths

Q = 8  # the default quantum: pycls's rule, and every space's unless it sets q
WA_GRID = np.concatenate([[0.0], np.geomspace(0.5, 512, 60)])
WM_GRID = np.round(np.arange(1.5, 3.0001, 0.05), 2)
STARTS = 10  # the best grid points each refined locally (the error surface is piecewise constant)
ROUNDS = 8
BLOCK = 2**20  # elements per scored block (8 MB of float64): keeps temporaries in cache-sized pieces


@dataclass(frozen=True)
class RuleFit:
    w0: int
    wa: float
    wm: float
    e_fit: float  # mean |log(w_hat / w)| of the quantized rule; inf where no candidate rule was valid
    e_cont: float  # mean |log(u / w)| of the continuous line at the same (w0, wa)


class _Grid:
    """The rule over a product grid w0 (..., I, 1, 1) x wa (..., 1, A, 1) x wm (..., 1, 1, M), for blocks j < depth:
    log quantized widths (..., I*A*M, depth), stage indices, the first block whose stage index skips one and the
    first block that skips one or whose new stage index quantizes to the previous width (depth if none)."""

    def __init__(self, depth: int, w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, q: int = Q):
        shape = np.broadcast_shapes(w0.shape, wa.shape, wm.shape)
        _, ss = rule_stages(depth, w0, wa, wm)  # unbroadcast: the log runs on (..., I, A, 1, depth) only
        w0, wa, wm = (np.broadcast_to(a, shape) for a in (w0, wa, wm))
        self.params = tuple(a.reshape(*shape[:-3], -1) for a in (w0, wa, wm))
        ss = ss.astype(np.intp)
        table = np.log(stage_widths(w0[..., :1, :, None], wm[..., :1, :, None], np.arange(ss.max() + 1), q))
        self.log_q = np.take_along_axis(table, ss, axis=-1).reshape(*shape[:-3], -1, depth)
        steps = np.diff(ss, axis=-1)
        self.first_skip = _first(steps > 1, depth).reshape(*shape[:-3], -1)
        merges = (steps == 1) & (np.diff(self.log_q.reshape(*ss.shape), axis=-1) == 0)
        self.first_bad = np.minimum(self.first_skip, _first(merges, depth).reshape(*shape[:-3], -1))
        self.ss = ss.astype(np.int16).reshape(*shape[:-3], -1, depth)

    def valid(self, d: int, k: int | None) -> np.ndarray:
        """Which candidates are valid for a model of d blocks: no skipped stage index within them, and when k is
        given, a valid RegNet (no merged stages either) with exactly k stages."""
        if k is None:
            return self.first_skip >= d
        return (self.first_bad >= d) & (self.ss[..., d - 1] == k - 1)


def _first(mask: np.ndarray, depth: int) -> np.ndarray:
    """The block after the first True step along the last axis (depth where none, as for a single block)."""
    if mask.shape[-1] == 0:
        return np.full(mask.shape[:-1], depth)
    return np.where(mask.any(-1), mask.argmax(-1) + 1, depth)


def _errors(log_q: np.ndarray, valid: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    """e_fit of candidates log_q (..., C, d) against models' log widths (..., d): (..., C), inf where invalid."""
    err = np.abs(log_q - log_w[..., None, :]).mean(axis=-1)
    return np.where(valid, err, np.inf)


def _smallest(row: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest values, ties to the lower index (a stable sort's first k, without the sort)."""
    cut = np.partition(row, k - 1)[k - 1]
    idx = np.flatnonzero(row <= cut)
    return idx[np.lexsort((idx, row[idx]))][:k]


def _starts(grid: _Grid, log_w: np.ndarray, top: np.ndarray, k: int | None, q: int) -> np.ndarray:
    """The STARTS best grid indices per model (m, STARTS); a model's w0 range ends at its own largest width."""
    d = log_w.shape[1]
    log_q = np.ascontiguousarray(grid.log_q[:, :d])
    valid = grid.valid(d, k)
    step = max(1, BLOCK // (len(log_w) * d))
    err = np.concatenate(
        [_errors(log_q[lo : lo + step], valid[lo : lo + step], log_w) for lo in range(0, len(log_q), step)], axis=1
    )
    err[grid.params[0][None, :] > q * np.ceil(top[:, None] / q)] = np.inf
    return np.stack([_smallest(row, STARTS) for row in err])


def _local(w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, ratio: np.ndarray, delta: np.ndarray, q: int):
    """Each point's local grid as (P, I, 1, 1), (P, 1, A, 1), (P, 1, 1, M) arrays."""
    w0_local = np.clip(w0[:, None] + q * np.arange(-2, 3), q, None)
    spread = np.where(
        wa[:, None] > 0, wa[:, None] * np.geomspace(1 / ratio, ratio, 21, axis=1), np.geomspace(0.05, 1, 21)
    )
    wa_local = np.concatenate([np.zeros((len(wa), 1)), spread], axis=1)
    wm_local = np.clip(wm[:, None] + delta[:, None] * np.linspace(-1, 1, 21), 1.01, None)
    return w0_local[:, :, None, None], wa_local[:, None, :, None], wm_local[:, None, None, :]


def _refine(log_w: np.ndarray, k: int | None, w0, wa, wm, err, q: int) -> tuple[np.ndarray, ...]:
    """ROUNDS of local search for (model, start) pairs at once (flat arrays, P = models x STARTS), k stages if given."""
    owner = np.repeat(np.arange(len(log_w)), STARTS)
    ratio, delta = np.full(len(w0), 1.25), np.full(len(w0), 0.05)
    step = max(1, BLOCK // (5 * 22 * 21 * log_w.shape[1]))
    for _ in range(ROUNDS):
        for lo in range(0, len(w0), step):
            part = slice(lo, lo + step)
            grid = _Grid(log_w.shape[1], *_local(w0[part], wa[part], wm[part], ratio[part], delta[part], q), q)
            local = _errors(grid.log_q, grid.valid(log_w.shape[1], k), log_w[owner[part]])
            i = local.argmin(axis=1)
            found = np.take_along_axis(local, i[:, None], axis=1)[:, 0]
            better = found < err[part]
            for mine, params in zip((w0, wa, wm), grid.params):
                mine[part] = np.where(better, np.take_along_axis(params, i[:, None], axis=1)[:, 0], mine[part])
            err[part] = np.where(better, found, err[part])
            ratio[part] = np.where(better, ratio[part], np.sqrt(ratio[part]))
            delta[part] = np.where(better, delta[part], delta[part] / 2)
    return w0, wa, wm, err


def fit_rules(widths: Sequence[Sequence[int]], stages: Sequence[int | None] | None = None, q: int = Q) -> list[RuleFit]:
    """The quantized linear rule (widths quantized to multiples of q) that best explains each model's per-block
    widths (models fitted together); where stages gives a model's number of stages, among the valid RegNets with
    that many stages only."""
    if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q < 1:
        raise ValueError(f"fit_rules: q must be an integer >= 1, got {q!r}")
    q = int(q)
    ws = [np.asarray(w, dtype=float) for w in widths]
    if not ws or min(len(w) for w in ws) < 1:
        raise ValueError("fit_rules needs at least one model, each with at least one block")
    ks = list(stages) if stages is not None else [None] * len(ws)
    if len(ks) != len(ws) or any(k is not None and not 1 <= k <= len(w) for k, w in zip(ks, ws)):
        raise ValueError("fit_rules: stages needs one count per model, each between 1 and the model's blocks")
    top = max(w.max() for w in ws)
    w0_grid = np.arange(q, q * np.ceil(top / q) + 1, q)
    grid = _Grid(max(map(len, ws)), w0_grid[:, None, None], WA_GRID[None, :, None], WM_GRID[None, None, :], q)
    fits: list[RuleFit | None] = [None] * len(ws)
    for d, k in sorted({(len(w), k) for w, k in zip(ws, ks)}, key=lambda dk: (dk[0], dk[1] or 0)):
        members = [i for i, (w, k_i) in enumerate(zip(ws, ks)) if len(w) == d and k_i == k]
        log_w = np.log(np.stack([ws[i] for i in members]))
        starts = _starts(grid, log_w, np.array([ws[i].max() for i in members]), k, q).ravel()
        w0, wa, wm = (p[starts].astype(float) for p in grid.params)
        owners = log_w[np.repeat(np.arange(len(members)), STARTS)]
        err = _errors(grid.log_q[starts, None, :d], grid.valid(d, k)[starts, None], owners)[:, 0]
        w0, wa, wm, err = _refine(log_w, k, w0, wa, wm, err, q)
        best = np.argmin(err.reshape(-1, STARTS), axis=1) + STARTS * np.arange(len(members))
        e_cont = np.abs(np.log(np.arange(d) * wa[best, None] + w0[best, None]) - log_w).mean(axis=1)
        for k, i in enumerate(members):
            j = best[k]
            fits[i] = RuleFit(int(w0[j]), float(wa[j]), float(wm[j]), float(err[j]), float(e_cont[k]))
    return fits


def fit_rule(widths: Sequence[int], stages: int | None = None, q: int = Q) -> RuleFit:
    """The quantized linear rule that best explains one model's per-block widths (with that many stages, if given)."""
    return fit_rules([widths], [stages], q)[0]


def with_fits(frame: pd.DataFrame, q: int = Q, rows: Sequence[int] | None = None) -> pd.DataFrame:
    """The frame with e_fit, e_cont, fit_w0, fit_wa, fit_wm columns: the rule fitted to each model's block widths,
    quantized with the model's own q where it is a sampled RegNet (spec.regnet.q), else with its row's q (the
    column analysis.export.top_models adds: its sweep's), else with q. `rows`: the positions of the models to fit
    (the others' columns are NaN); all of them by default."""
    chosen = range(len(frame)) if rows is None else sorted(set(int(i) for i in rows))
    specs = frame.spec.to_numpy()
    q_of = frame["q"].to_numpy() if "q" in frame else np.full(len(frame), q)
    qs = {i: specs[i].regnet.q if specs[i].regnet is not None else int(q_of[i]) for i in chosen}
    fits = np.full((len(frame), 5), np.nan)
    for q_i in sorted(set(qs.values())):
        members = [i for i, q_j in qs.items() if q_j == q_i]
        found = fit_rules([specs[i].block_widths for i in members], q=q_i)
        fits[members] = [astuple(fit) for fit in found]
    columns = pd.DataFrame(fits, index=frame.index, columns=["fit_w0", "fit_wa", "fit_wm", "e_fit", "e_cont"])
    return frame.join(columns.astype({"fit_w0": "Int64"}))
