"""AnyNet: the PyTorch model a spec describes, and its exact analytic complexity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import nn

from anynet.blocks import BLOCKS, STEMS, AnyHead, AnyStage
from anynet.layers import Cx, init_weights
from anynet.spec import BOTTLENECKS, MBCONV, AnyNetSpec

if TYPE_CHECKING:
    from anynet.spec_batch import SpecBatch


class Complexity(NamedTuple):
    """flops (multiply-adds), params and acts (activations), counted as pycls counts them."""

    flops: int
    params: int
    acts: int


class _Part(NamedTuple):
    name: str
    module: type[nn.Module]
    args: tuple
    kwargs: dict[str, Any]


def _parts(spec: AnyNetSpec | SpecBatch) -> list[_Part]:
    """The model's top-level parts in order; the builder and the count (of a spec or a batch) walk this list."""
    act = {"activation": spec.activation}
    parts = [_Part("stem", STEMS[spec.stem_type], (spec.in_channels, spec.stem_w), act)]
    w_in, block = spec.stem_w, BLOCKS[spec.block_type]
    for i, (d, w, s) in enumerate(zip(spec.depths, spec.widths, spec.strides)):
        kwargs = dict(act)
        if spec.block_type in BOTTLENECKS:
            kwargs.update(bot_mul=spec.bot_muls[i], group_w=spec.group_ws[i], se_r=spec.se_r)
        elif spec.block_type == MBCONV:
            kwargs.update(exp_r=spec.exp_rs[i], kernel=spec.kernels[i], se_r=spec.se_r)
        parts.append(_Part(f"s{i + 1}", AnyStage, (w_in, w, s, d, block), kwargs))
        w_in = w
    parts.append(_Part("head", AnyHead, (w_in, spec.num_classes), {"head_w": spec.head_w, **act}))
    return parts


class AnyNet(nn.Module):
    """stem -> stages s1..sN -> head, built from an AnyNetSpec, initialized as pycls does."""

    def __init__(self, spec: AnyNetSpec) -> None:
        super().__init__()
        self.spec = spec
        for part in _parts(spec):
            self.add_module(part.name, part.module(*part.args, **part.kwargs))
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.children():
            x = module(x)
        return x


def complexity_breakdown(spec: AnyNetSpec) -> list[tuple[str, Complexity, tuple[int, int]]]:
    """Per part (stem, s1.., head): its own flops/params/acts and its output feature-map size."""
    cx, out = Cx(spec.resolution, spec.resolution), []
    for part in _parts(spec):
        after = part.module.complexity(cx, *part.args, **part.kwargs)
        out.append((part.name, Complexity(*(a - b for a, b in zip(after[2:], cx[2:]))), (after.h, after.w)))
        cx = after
    return out


def complexity(spec: AnyNetSpec | SpecBatch) -> Complexity:
    """Exact flops, params and acts of the spec's model, without building it (int64 columns for a batch)."""
    cx = Cx(spec.resolution, spec.resolution)
    for part in _parts(spec):
        cx = part.module.complexity(cx, *part.args, **part.kwargs)
    return Complexity(cx.flops, cx.params, cx.acts)
