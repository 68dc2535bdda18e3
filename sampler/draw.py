"""Draw a batch of candidate specs from a design space, as numpy columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anynet.spec_batch import SpecBatch
from anynet.group_rule import adjust_columns
from anynet.regnet import RegNetParams, regnet_columns
from anynet.spec import AnyNetSpec, BOTTLENECK
from sampler.space import DesignSpace


@dataclass(frozen=True)
class Candidates:
    """The draws of one batch that are valid (RegNet draws that give the space's stage count), compatibility
    rule applied, in draw order."""

    batch: SpecBatch
    regnet: dict[str, np.ndarray] | None  # d, w0, wa, wm, g, b per candidate, for regnet spaces

    def rows(self, index: np.ndarray) -> list[tuple[tuple, ...]]:
        """The per-stage values (depths, widths, bot_muls, group_ws) of the given candidates: what makes two
        candidates the same network."""
        return self.batch.stage_rows(index)

    def spec(self, j: int, row: tuple[tuple, ...]) -> AnyNetSpec:
        """Candidate j (whose stage values are `row`) as a validated spec; a RegNet's parameters travel with it."""
        regnet = None
        if self.regnet is not None:
            r = {k: v[j].item() for k, v in self.regnet.items()}
            regnet = RegNetParams(
                depth=int(r["d"]), w0=int(r["w0"]), wa=r["wa"], wm=r["wm"], group_w=int(r["g"]), bot_mul=1 / r["b"]
            )
        return self.batch.spec(row, regnet)


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
    for name, param in space.params.items():
        if param.shared:
            values[name] = np.repeat(param.dist.draw(rng, size)[:, None], s, axis=1)
        elif name in space.non_decreasing:
            values[name] = param.dist.draw_ordered(rng, size, s)
        else:
            values[name] = param.dist.draw(rng, (size, s))
    ds, ws = values["d"].astype(np.int64), values["w"].astype(np.int64)
    bms = gs = None
    if space.block_type == BOTTLENECK:
        bms = 1.0 / values["b"]
        ws, gs = adjust_columns(ws, bms, values["g"].astype(np.int64))
    return Candidates(_batch(space, ds, ws, bms, gs), None)


def _draw_regnet(space: DesignSpace, rng: np.random.Generator, size: int) -> Candidates:
    r = {name: space.params[name].dist.draw(rng, size) for name in ("d", "w0", "wa", "wm", "g", "b")}
    valid, ws, ds = regnet_columns(r["d"].astype(np.int64), r["w0"], r["wa"], r["wm"], space.stages, space.q)
    r = {k: v[valid] for k, v in r.items()}
    bms = np.repeat((1.0 / r["b"])[:, None], space.stages, axis=1)
    gs = np.repeat(r["g"].astype(np.int64)[:, None], space.stages, axis=1)
    ws, gs = adjust_columns(ws, bms, gs)
    return Candidates(_batch(space, ds, ws, bms, gs), r)


def _batch(space: DesignSpace, ds, ws, bms, gs) -> SpecBatch:
    def cols(x: np.ndarray | None) -> tuple[np.ndarray, ...] | None:
        return None if x is None else tuple(x[:, i] for i in range(x.shape[1]))

    return SpecBatch(
        depths=cols(ds),
        widths=cols(ws),
        strides=space.strides,
        bot_muls=cols(bms),
        group_ws=cols(gs),
        stem_type=space.stem_type,
        stem_w=space.stem_w,
        block_type=space.block_type,
        se_r=space.se_r,
        num_classes=space.num_classes,
        in_channels=space.in_channels,
        resolution=space.resolution,
    )
