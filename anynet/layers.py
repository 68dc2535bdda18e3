"""Layer builders with pycls's conventions (their counts: anynet.counting)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from anynet import fused


def conv2d(w_in: int, w_out: int, k: int, *, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    """A k x k conv with 'same' padding (k odd)."""
    return nn.Conv2d(w_in, w_out, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=bias)


class BatchNorm2d(nn.BatchNorm2d):
    """BatchNorm, then an optional residual add, then ReLU if relu=True; in CPU training all three run as one
    fused kernel (anynet.fused)."""

    def __init__(self, w_in: int, relu: bool = False) -> None:
        super().__init__(w_in, eps=1e-5, momentum=0.1)
        self.relu = relu

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        if fused.can_fuse(self, x):
            return fused.batch_norm_relu(self, x, residual, self.relu)
        y = super().forward(x)
        if residual is not None:
            y = y.add_(residual)
        return torch.relu_(y) if self.relu else y


def norm2d(w_in: int, relu: bool = False) -> BatchNorm2d:
    """BatchNorm (pycls: eps 1e-5, momentum 0.1), with the ReLU that follows it (after any residual add) when
    relu=True."""
    return BatchNorm2d(w_in, relu)


def pool2d(k: int, *, stride: int) -> nn.MaxPool2d:
    return nn.MaxPool2d(k, stride=stride, padding=(k - 1) // 2)


def gap2d() -> nn.AdaptiveAvgPool2d:
    return nn.AdaptiveAvgPool2d((1, 1))


def linear(w_in: int, w_out: int, *, bias: bool = False) -> nn.Linear:
    return nn.Linear(w_in, w_out, bias=bias)


ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "gelu": nn.GELU}


def activation(name: str = "relu", *, inplace: bool = True) -> nn.Module:
    """The activation module of that name (anynet.spec.ACTIVATIONS), in place where torch allows it (not after a
    BatchNorm that added a residual: its fused kernel keeps that output for the backward pass)."""
    return nn.GELU() if name == "gelu" else ACTIVATIONS[name](inplace=inplace)


def norm_act(w_in: int, act: str = "relu", *, inplace: bool = True) -> tuple[BatchNorm2d, nn.Module]:
    """BatchNorm and the activation after it (and after any residual add): ReLU is the BatchNorm's own
    (norm2d(w, relu=True), fused in CPU training) and the module an Identity; any other activation is its own
    module after a BatchNorm without ReLU (still fused, with the add). Their counts are the BatchNorm's."""
    if act == "relu":
        return norm2d(w_in, relu=True), nn.Identity()
    return norm2d(w_in), activation(act, inplace=inplace)


def init_weights(m: nn.Module) -> None:
    """pycls's ResNet-style initialization (apply with model.apply)."""
    if isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
        m.weight.data.normal_(mean=0.0, std=float(np.sqrt(2.0 / fan_out)))
    elif isinstance(m, nn.BatchNorm2d):
        m.weight.data.fill_(1.0)
        m.bias.data.zero_()
    elif isinstance(m, nn.Linear):
        m.weight.data.normal_(mean=0.0, std=0.01)
        m.bias.data.zero_()
