"""BatchNorm folded into the convolution before it, for evaluation: y = conv(x) * s + (beta - mean * s) with
s = gamma / sqrt(var + eps) is the same conv with scaled weights and a bias. The folded model skips every
BatchNorm pass (the add and ReLU that follow one stay, as do the activation modules after one), so inference
reads each activation once less."""

from __future__ import annotations

import copy

import torch
from torch import nn

from anynet.layers import BatchNorm2d

# (conv, BatchNorm) attribute pairs of the stems, transforms, projection shortcuts, MBConv blocks and the head conv
# in anynet.blocks
PAIRS = (
    ("conv", "bn"),
    ("proj", "bn"),
    ("a", "a_bn"),
    ("b", "b_bn"),
    ("c", "c_bn"),
    ("exp", "exp_bn"),
    ("dwise", "dwise_bn"),
    ("lin_proj", "lin_proj_bn"),
    ("conv", "conv_bn"),
)


class AddReLU(nn.Module):
    """What remains of a folded BatchNorm: the residual add and the ReLU (in place, as in BatchNorm2d)."""

    def __init__(self, relu: bool) -> None:
        super().__init__()
        self.relu = relu

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        if residual is not None:
            x = x.add_(residual)
        return torch.relu_(x) if self.relu else x


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of `model` in which every BatchNorm that follows a convolution is folded into it; the
    model itself is left as it was. Outputs equal the eval-mode model's up to float rounding."""
    folded = copy.deepcopy(model).eval()
    for module in list(folded.modules()):
        for conv_name, bn_name in PAIRS:
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, BatchNorm2d):
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                shift = bn.bias - bn.running_mean * scale
                if conv.bias is not None:
                    shift = shift + conv.bias * scale
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
                conv.bias = nn.Parameter(shift, requires_grad=False)
                setattr(module, bn_name, AddReLU(bn.relu))
    return folded
