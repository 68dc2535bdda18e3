"""Fused BatchNorm [+ residual add] + ReLU for training on the CPU: a small C++ kernel, compiled once per CPU type,
kernel source and torch version.

ATen's CPU batch norm on channels_last tensors runs far below memory speed here (and its backward loses
precision on large batches); with the residual add and the ReLU folded in, this kernel makes two passes forward
and two backward, and recomputes the ReLU mask from its input rather than keeping its output.
It is used for float32 channels_last tensors in training mode on the CPU; everything else, and any machine
where it cannot be compiled (no C++ compiler or ninja), uses ATen. ANYNET_FUSED=0 turns it off.
"""

from __future__ import annotations

import hashlib
import os
import platform
import warnings
from functools import cache
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

SOURCE = Path(__file__).parent / "csrc" / "bn_relu.cpp"


def _build_key() -> str:
    """What the compiled kernel depends on: the CPU's flags (it is compiled with -march=native), the source and
    torch's version; two installs of anynet on one machine then share a build only when it fits both."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = platform.processor() or platform.machine()
    return hashlib.sha1(flags.encode() + SOURCE.read_bytes() + torch.__version__.encode()).hexdigest()[:10]


@cache
def extension() -> ModuleType | None:
    """The compiled kernel, or None where it is off or cannot be built (with one warning)."""
    if os.environ.get("ANYNET_FUSED", "1") == "0":
        return None
    try:
        from torch.utils.cpp_extension import load

        return load(
            name=f"anynet_bn_relu_{_build_key()}",
            sources=[str(SOURCE)],
            verbose=False,
            extra_cflags=["-O3", "-march=native", "-fopenmp"],
            extra_ldflags=["-fopenmp"],
        )
    except Exception as e:  # a missing compiler or ninja shows up as several exception types
        warnings.warn(f"anynet: fused CPU batch norm unavailable, using ATen's ({type(e).__name__}: {e})", stacklevel=2)
        return None


class _BatchNormReLU(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        residual: torch.Tensor | None,
        eps: float,
        relu: bool,
    ):
        y, mean, var, invstd = extension().forward(x, weight, bias, residual, eps, relu)
        # With a residual the ReLU mask needs y; without one it is recomputed from x, so y is not kept.
        ctx.save_for_backward(x, y if residual is not None else None, mean, invstd, weight, bias)
        ctx.relu = relu
        ctx.mark_non_differentiable(mean, var)
        ctx.set_materialize_grads(False)  # mean and var get no gradient: no zero tensors for them on every step
        return y, mean, var

    @staticmethod
    def backward(ctx, dy: torch.Tensor, _dmean: None, _dvar: None):  # reached only through y, so dy is a tensor
        x, y, mean, invstd, weight, bias = ctx.saved_tensors
        dy = dy.contiguous(memory_format=torch.channels_last)
        grads = extension().backward(dy, x, y, mean, invstd, weight, bias, ctx.relu)
        dresidual = grads[3] if y is not None else None
        return grads[0], grads[1], grads[2], dresidual, None, None


def can_fuse(bn: nn.BatchNorm2d, x: torch.Tensor) -> bool:
    """Training on the CPU, float32, channels_last, affine with running statistics, and the kernel is built."""
    return (
        bn.training
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and bn.affine
        and bn.track_running_stats
        and x.is_contiguous(memory_format=torch.channels_last)
        and torch.is_grad_enabled()
        and extension() is not None
    )


def batch_norm_relu(bn: nn.BatchNorm2d, x: torch.Tensor, residual: torch.Tensor | None, relu: bool) -> torch.Tensor:
    """bn(x) [+ residual] [then ReLU] in training mode, updating bn's running statistics as nn.BatchNorm2d does."""
    if residual is not None:
        residual = residual.contiguous(memory_format=torch.channels_last)
    y, mean, var = _BatchNormReLU.apply(x, bn.weight, bn.bias, residual, bn.eps, relu)
    m = x.numel() // x.shape[1]
    with torch.no_grad():
        bn.num_batches_tracked.add_(1)
        momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
        bn.running_mean.lerp_(mean, momentum)
        bn.running_var.lerp_(var * (m / max(m - 1, 1)), momentum)
    return y
