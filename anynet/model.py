"""AnyNet: the PyTorch model a spec describes (its exact analytic complexity: anynet.counting)."""

from __future__ import annotations

import torch
from torch import nn

from anynet.blocks import BLOCKS, STEMS, AnyHead, AnyStage
from anynet.counting import Part, parts
from anynet.layers import init_weights
from anynet.spec import AnyNetSpec


def _module(part: Part) -> nn.Module:
    """The torch module of one of the model's parts (anynet.counting.parts)."""
    if part.kind == "stage":
        w_in, w_out, stride, d, block = part.args
        return AnyStage(w_in, w_out, stride, d, BLOCKS[block], **part.kwargs)
    module = AnyHead if part.kind == "head" else STEMS[part.kind]
    return module(*part.args, **part.kwargs)


class AnyNet(nn.Module):
    """stem -> stages s1..sN -> head, built from an AnyNetSpec, initialized as pycls does."""

    def __init__(self, spec: AnyNetSpec) -> None:
        super().__init__()
        self.spec = spec
        for part in parts(spec):
            self.add_module(part.name, _module(part))
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.children():
            x = module(x)
        return x
