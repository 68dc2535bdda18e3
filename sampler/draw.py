"""Draw a batch of candidate specs from a design space, as numpy columns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from anynet.group_rule import adjust_columns
from anynet.counting import Complexity
from anynet.regnet import RegNetParams, regnet_columns
from anynet.spec import BOTTLENECKS, MBCONV, AnyNetSpec
from anynet.spec_batch import SpecBatch, batch_complexity
from sampler.space import HYPER_PARAMS, MODEL_PARAMS, DesignSpace

# A SpecBatch's per-stage columns.
COLUMNS = ("depths", "widths", "bot_muls", "group_ws", "exp_rs", "kernels")


@dataclass(frozen=True)
class Candidates:
    """The draws of one batch that are valid (RegNet draws that give the space's stage count), compatibility
    rule applied, in draw order. `model` holds the values drawn once per model (se_r, lr, weight_decay) where the
    space draws them; the batch's own se_r then stands for none of them."""

    batch: SpecBatch
    regnet: dict[str, np.ndarray] | None  # d, w0, wa, wm, g, b per candidate, for regnet spaces
    q: int = 8  # the space's RegNet quantum, carried into each RegNet's parameters
    model: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.batch)

    def rows(self, index: np.ndarray) -> list[tuple[tuple, ...]]:
        """What makes two candidates the same model: the per-stage values (SpecBatch.stage_rows: depths, widths,
        bot_muls, group_ws, exp_rs, kernels) and then, where the space draws any, the values drawn per model."""
        rows = self.batch.stage_rows(index)
        if not self.model:
            return rows
        per_model = np.stack([v[index] for v in self.model.values()], axis=1).tolist()
        return [row + (tuple(values),) for row, values in zip(rows, per_model)]

    def spec(self, j: int, row: tuple[tuple, ...]) -> AnyNetSpec:
        """Candidate j (whose values are `row`) as a validated spec; a RegNet's parameters travel with it."""
        regnet = None
        if self.regnet is not None:
            r = {k: v[j].item() for k, v in self.regnet.items()}
            regnet = RegNetParams(
                depth=int(r["d"]),
                w0=int(r["w0"]),
                wa=r["wa"],
                wm=r["wm"],
                group_w=int(r["g"]),
                bot_mul=1 / r["b"],
                q=self.q,
            )
        batch = self.batch
        if self.model:
            row = row[:-1]
            if "se_r" in self.model:
                batch = replace(batch, se_r=float(self.model["se_r"][j]))
        return batch.spec(row, regnet)

    def recipe(self, j: int) -> dict[str, float]:
        """The recipe fields drawn for candidate j (lr, weight_decay), empty where the space draws none."""
        return {k: float(self.model[k][j]) for k in HYPER_PARAMS if k in self.model}

    def complexity(self) -> Complexity:
        """flops, params and acts of every candidate (int64 columns); by se_r value where it is drawn per model."""
        if "se_r" not in self.model:
            return batch_complexity(self.batch)
        se_rs = self.model["se_r"]
        out = [np.empty(len(se_rs), dtype=np.int64) for _ in range(3)]
        for value in np.unique(se_rs):
            index = np.flatnonzero(se_rs == value)
            part = {c: tuple(col[index] for col in getattr(self.batch, c) or ()) or None for c in COLUMNS}
            cx = batch_complexity(replace(self.batch, se_r=float(value), **part))
            for column, counts in zip(out, cx):
                column[index] = counts
        return Complexity(*out)


def draw_candidates(space: DesignSpace, rng: np.random.Generator, size: int) -> Candidates:
    """Draw `size` candidates (parameters in a fixed order, so a seed fixes the stream) and keep the valid ones."""
    if space.kind == "regnet":
        return _draw_regnet(space, rng, size)
    return _draw_anynet(space, rng, size)


def _draw_anynet(space: DesignSpace, rng: np.random.Generator, size: int) -> Candidates:
    """Per-stage parameters under non_decreasing come from their ordered conditional law directly (exact, no
    rejection); the parameters are independent, so this is C's distribution given all the orderings."""
    s = space.stages
    values: dict[str, np.ndarray] = {}
    model: dict[str, np.ndarray] = {}
    for name, param in space.params.items():
        if name in MODEL_PARAMS:
            model[name] = param.dist.draw(rng, size)
        elif param.shared:
            values[name] = np.repeat(param.dist.draw(rng, size)[:, None], s, axis=1)
        elif name in space.non_decreasing:
            values[name] = param.dist.draw_ordered(rng, size, s)
        else:
            values[name] = param.dist.draw(rng, (size, s))
    ds, ws = values["d"].astype(np.int64), values["w"].astype(np.int64)
    bms = gs = None
    if space.block_type in BOTTLENECKS:
        bms = 1.0 / values["b"]
        ws, gs = adjust_columns(ws, bms, values["g"].astype(np.int64))
    mb = {}
    if space.block_type == MBCONV:
        mb = {"exp_rs": _cols(values["e"].astype(np.float64)), "kernels": _cols(values["k"].astype(np.int64))}
    return Candidates(_batch(space, ds, ws, bms, gs, **mb), None, space.q, model)


def _draw_regnet(space: DesignSpace, rng: np.random.Generator, size: int) -> Candidates:
    r = {name: space.params[name].dist.draw(rng, size) for name in ("d", "w0", "wa", "wm", "g", "b")}
    model = {name: space.params[name].dist.draw(rng, size) for name in MODEL_PARAMS if name in space.params}
    valid, ws, ds = regnet_columns(r["d"].astype(np.int64), r["w0"], r["wa"], r["wm"], space.stages, space.q)
    r = {k: v[valid] for k, v in r.items()}
    model = {k: v[valid] for k, v in model.items()}
    bms = np.repeat((1.0 / r["b"])[:, None], space.stages, axis=1)
    gs = np.repeat(r["g"].astype(np.int64)[:, None], space.stages, axis=1)
    ws, gs = adjust_columns(ws, bms, gs)
    return Candidates(_batch(space, ds, ws, bms, gs), r, space.q, model)


def _cols(x: np.ndarray | None) -> tuple[np.ndarray, ...] | None:
    return None if x is None else tuple(x[:, i] for i in range(x.shape[1]))


def _batch(space: DesignSpace, ds, ws, bms, gs, **mb) -> SpecBatch:
    return SpecBatch(
        depths=_cols(ds),
        widths=_cols(ws),
        strides=space.strides,
        bot_muls=_cols(bms),
        group_ws=_cols(gs),
        stem_type=space.stem_type,
        stem_w=space.stem_w,
        block_type=space.block_type,
        se_r=space.se_r,
        num_classes=space.num_classes,
        in_channels=space.in_channels,
        resolution=space.resolution,
        head_w=space.head_w,
        activation=space.activation,
        **mb,
    )
