"""SpecBatch: many candidate specs that share every field but the per-stage values, as numpy columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anynet.counting import Complexity, complexity
from anynet.regnet import RegNetParams
from anynet.spec import AnyNetSpec


@dataclass(frozen=True)
class SpecBatch:
    """N specs: one int/float column of length N per stage for depths, widths, bot_muls and group_ws (bottleneck
    blocks), exp_rs and kernels (mb_conv); the other fields are shared.

    `complexity(batch)` counts all N at once with the same per-module functions as `complexity(spec)`.
    """

    depths: tuple[np.ndarray, ...]
    widths: tuple[np.ndarray, ...]
    strides: tuple[int, ...]
    bot_muls: tuple[np.ndarray, ...] | None = None
    group_ws: tuple[np.ndarray, ...] | None = None
    stem_type: str = "simple_stem_in"
    stem_w: int = 32
    block_type: str = "res_bottleneck_block"
    se_r: float = 0.0
    num_classes: int = 1000
    in_channels: int = 3
    resolution: int = 224
    exp_rs: tuple[np.ndarray, ...] | None = None
    kernels: tuple[np.ndarray, ...] | None = None
    head_w: int = 0
    activation: str = "relu"

    def __len__(self) -> int:
        return len(self.depths[0])

    def stage_rows(self, index: np.ndarray) -> list[tuple[tuple, ...]]:
        """Per row in index: (depths, widths, bot_muls, group_ws, exp_rs, kernels) as tuples of plain Python
        numbers (() for a column the batch does not have)."""
        cols = [
            np.stack([col[index] for col in c], axis=1).tolist() if c else [()] * len(index)
            for c in (self.depths, self.widths, self.bot_muls, self.group_ws, self.exp_rs, self.kernels)
        ]
        return [tuple(map(tuple, r)) for r in zip(*cols)]

    def spec(self, row: tuple[tuple, ...], regnet: RegNetParams | None = None) -> AnyNetSpec:
        """A row (from stage_rows) as a validated AnyNetSpec with this batch's shared fields."""
        depths, widths, bot_muls, group_ws, exp_rs, kernels = row
        return AnyNetSpec(
            stem_type=self.stem_type,
            stem_w=self.stem_w,
            block_type=self.block_type,
            depths=depths,
            widths=widths,
            strides=self.strides,
            bot_muls=bot_muls or None,
            group_ws=group_ws or None,
            se_r=self.se_r,
            exp_rs=exp_rs or None,
            kernels=kernels or None,
            head_w=self.head_w,
            activation=self.activation,
            num_classes=self.num_classes,
            in_channels=self.in_channels,
            resolution=self.resolution,
            regnet=regnet,
        )


def batch_complexity(batch: SpecBatch) -> Complexity:
    """flops, params and acts of every spec in the batch, as int64 columns equal to the scalar counts."""
    n = len(batch)
    return Complexity(*(np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)) for v in complexity(batch)))
