"""Layer builders and their complexity counts, side by side, with pycls's conventions.

One multiply-add is one flop. Conv and linear count flops, params and their output size (acts); a bias adds
w_out to flops and params. BatchNorm counts 2 params per channel. Max-pool counts acts only. Global average
pooling counts nothing. A stride-s conv or pool with odd kernel k and padding (k-1)//2 outputs (h-1)//s+1.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from anynet import fused


class Cx(NamedTuple):
    """Running complexity: the feature map's height and width, and the totals so far.

    The counts may be Python ints (one spec) or int64 numpy columns (a batch of specs, anynet.spec_batch):
    the functions below use only arithmetic that means the same for both.
    """

    h: int
    w: int
    flops: int = 0
    params: int = 0
    acts: int = 0


def round_int(x: float | np.ndarray) -> int | np.ndarray:
    """Round half to even to an integer (Python's round, numpy's rint), elementwise for arrays."""
    return np.rint(x).astype(np.int64) if isinstance(x, np.ndarray) else int(round(x))


def trunc_int(x: float | np.ndarray) -> int | np.ndarray:
    """Truncate toward zero to an integer (Python's int, as pycls's EffNet widths), elementwise for arrays."""
    return np.trunc(x).astype(np.int64) if isinstance(x, np.ndarray) else int(x)


def conv2d(w_in: int, w_out: int, k: int, *, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    """A k x k conv with 'same' padding (k odd)."""
    return nn.Conv2d(w_in, w_out, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=bias)


def conv2d_cx(cx: Cx, w_in: int, w_out: int, k: int, *, stride: int = 1, groups: int = 1, bias: bool = False) -> Cx:
    h, w = (cx.h - 1) // stride + 1, (cx.w - 1) // stride + 1
    # scalar factors first and no zero bias added: the same integers, fewer passes over a batch's columns
    flops, params = k * k * h * w * w_in * w_out // groups, k * k * w_in * w_out // groups
    if bias:
        flops, params = flops + w_out, params + w_out
    return Cx(h, w, cx.flops + flops, cx.params + params, cx.acts + h * w * w_out)


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


def norm2d_cx(cx: Cx, w_in: int) -> Cx:
    return Cx(cx.h, cx.w, cx.flops, cx.params + 2 * w_in, cx.acts)


def pool2d(k: int, *, stride: int) -> nn.MaxPool2d:
    return nn.MaxPool2d(k, stride=stride, padding=(k - 1) // 2)


def pool2d_cx(cx: Cx, w_in: int, k: int, *, stride: int) -> Cx:
    h, w = (cx.h - 1) // stride + 1, (cx.w - 1) // stride + 1
    return Cx(h, w, cx.flops, cx.params, cx.acts + w_in * h * w)


def gap2d() -> nn.AdaptiveAvgPool2d:
    return nn.AdaptiveAvgPool2d((1, 1))


def gap2d_cx(cx: Cx) -> Cx:
    return Cx(1, 1, cx.flops, cx.params, cx.acts)


def linear(w_in: int, w_out: int, *, bias: bool = False) -> nn.Linear:
    return nn.Linear(w_in, w_out, bias=bias)


def linear_cx(cx: Cx, w_in: int, w_out: int, *, bias: bool = False) -> Cx:
    b = w_out if bias else 0
    return Cx(cx.h, cx.w, cx.flops + w_in * w_out + b, cx.params + w_in * w_out + b, cx.acts + w_out)


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
