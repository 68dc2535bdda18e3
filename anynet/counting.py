"""The exact analytic complexity of a spec's model, as pycls counts it, without torch: flops (multiply-adds),
params and acts (activations). One function per layer and per module of anynet.blocks, each mirroring that
module's constructor, and the list of a model's parts (`parts`) that the builder (anynet.model) and the count both
walk, so the sampler, the store and the analysis count models without importing torch.

One multiply-add is one flop. Conv and linear count flops, params and their output size (acts); a bias adds
w_out to flops and params. BatchNorm counts 2 params per channel. Max-pool counts acts only. Global average
pooling counts nothing; activations count nothing. A stride-s conv or pool with odd kernel k and padding (k-1)//2
outputs (h-1)//s+1.

The counts may be Python ints (one spec) or int64 numpy columns (a batch of specs, anynet.spec_batch): the
functions use only arithmetic that means the same for both."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from anynet.spec import BOTTLENECKS, MBCONV, AnyNetSpec

if TYPE_CHECKING:
    from anynet.spec_batch import SpecBatch


class Complexity(NamedTuple):
    """flops (multiply-adds), params and acts (activations), counted as pycls counts them."""

    flops: int
    params: int
    acts: int


class Cx(NamedTuple):
    """Running complexity: the feature map's height and width, and the totals so far."""

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


def conv2d(cx: Cx, w_in: int, w_out: int, k: int, *, stride: int = 1, groups: int = 1, bias: bool = False) -> Cx:
    h, w = (cx.h - 1) // stride + 1, (cx.w - 1) // stride + 1
    # scalar factors first and no zero bias added: the same integers, fewer passes over a batch's columns
    flops, params = k * k * h * w * w_in * w_out // groups, k * k * w_in * w_out // groups
    if bias:
        flops, params = flops + w_out, params + w_out
    return Cx(h, w, cx.flops + flops, cx.params + params, cx.acts + h * w * w_out)


def norm2d(cx: Cx, w_in: int) -> Cx:
    return Cx(cx.h, cx.w, cx.flops, cx.params + 2 * w_in, cx.acts)


def pool2d(cx: Cx, w_in: int, k: int, *, stride: int) -> Cx:
    h, w = (cx.h - 1) // stride + 1, (cx.w - 1) // stride + 1
    return Cx(h, w, cx.flops, cx.params, cx.acts + w_in * h * w)


def gap2d(cx: Cx) -> Cx:
    return Cx(1, 1, cx.flops, cx.params, cx.acts)


def linear(cx: Cx, w_in: int, w_out: int, *, bias: bool = False) -> Cx:
    b = w_out if bias else 0
    return Cx(cx.h, cx.w, cx.flops + w_in * w_out + b, cx.params + w_in * w_out + b, cx.acts + w_out)


def simple_stem_in(cx: Cx, w_in: int, w_out: int, activation: str = "relu") -> Cx:
    """3x3 conv stride 2, BN."""
    return norm2d(conv2d(cx, w_in, w_out, 3, stride=2), w_out)


def res_stem_cifar(cx: Cx, w_in: int, w_out: int, activation: str = "relu") -> Cx:
    """3x3 conv stride 1, BN."""
    return norm2d(conv2d(cx, w_in, w_out, 3), w_out)


def res_stem_in(cx: Cx, w_in: int, w_out: int, activation: str = "relu") -> Cx:
    """7x7 conv stride 2, BN, 3x3 max-pool stride 2."""
    return pool2d(norm2d(conv2d(cx, w_in, w_out, 7, stride=2), w_out), w_out, 3, stride=2)


def se(cx: Cx, w_in: int, w_se: int) -> Cx:
    """Squeeze-and-excite: on a global pool, two 1x1 convs with bias; the feature map keeps its size."""
    inner = conv2d(conv2d(gap2d(cx), w_in, w_se, 1, bias=True), w_se, w_in, 1, bias=True)
    return Cx(cx.h, cx.w, inner.flops, inner.params, inner.acts)


def basic_transform(cx: Cx, w_in: int, w_out: int, stride: int, activation: str = "relu") -> Cx:
    """3x3 conv (stride), BN, 3x3 conv, BN: the vanilla block, and the residual basic block's transform."""
    cx = norm2d(conv2d(cx, w_in, w_out, 3, stride=stride), w_out)
    return norm2d(conv2d(cx, w_out, w_out, 3), w_out)


def bottleneck_transform(
    cx: Cx, w_in: int, w_out: int, stride: int, bot_mul: float, group_w: int, se_r: float, activation: str = "relu"
) -> Cx:
    """1x1 conv, BN, 3x3 grouped conv (stride), BN, [SE], 1x1 conv, BN (linear or not: the same count)."""
    w_b = round_int(w_out * bot_mul)
    cx = norm2d(conv2d(cx, w_in, w_b, 1), w_b)
    cx = norm2d(conv2d(cx, w_b, w_b, 3, stride=stride, groups=w_b // group_w), w_b)
    if se_r:
        cx = se(cx, w_b, round_int(w_in * se_r))
    return norm2d(conv2d(cx, w_b, w_out, 1), w_out)


def residual(transform: Callable[..., Cx]) -> Callable[..., Cx]:
    """The count of a residual block around `transform`: a 1x1 conv + BN shortcut where width or stride changes."""

    def count(cx: Cx, w_in: int, w_out: int, stride: int, **kwargs: Any) -> Cx:
        has_proj = (w_in != w_out) | (stride != 1)  # a bool, or a bool column for a batch
        if np.any(has_proj):
            proj = norm2d(conv2d(cx, w_in, w_out, 1, stride=stride), w_out)
            # a parallel branch: its counts add (where it exists), and f sees the block's input size
            cx = Cx(cx.h, cx.w, *(c + has_proj * (p - c) for c, p in zip(cx[2:], proj[2:])))
        return transform(cx, w_in, w_out, stride, **kwargs)

    return count


def mb_conv(
    cx: Cx, w_in: int, w_out: int, stride: int, exp_r: float, kernel: int, se_r: float, activation: str = "relu"
) -> Cx:
    """Inverted residual: [1x1 expansion to int(w_in * exp_r), BN, where that differs from w_in], depthwise kxk
    conv (stride), BN, [SE of squeeze width int(w_in * se_r)], 1x1 projection, BN."""
    w_exp = trunc_int(w_in * exp_r)
    has_exp = w_exp != w_in  # a bool, or a bool column for a batch
    if np.any(has_exp):
        exp = norm2d(conv2d(Cx(cx.h, cx.w), w_in, w_exp, 1), w_exp)
        cx = Cx(cx.h, cx.w, *(c + has_exp * e for c, e in zip(cx[2:], exp[2:])))
    cx = norm2d(conv2d(cx, w_exp, w_exp, kernel, stride=stride, groups=w_exp), w_exp)
    if se_r:
        cx = se(cx, w_exp, trunc_int(w_in * se_r))
    return norm2d(conv2d(cx, w_exp, w_out, 1), w_out)


STEMS: dict[str, Callable[..., Cx]] = {
    "simple_stem_in": simple_stem_in,
    "res_stem_cifar": res_stem_cifar,
    "res_stem_in": res_stem_in,
}
BLOCKS: dict[str, Callable[..., Cx]] = {
    "res_bottleneck_block": residual(bottleneck_transform),
    "res_basic_block": residual(basic_transform),
    "vanilla_block": basic_transform,
    "res_bottleneck_linear_block": residual(bottleneck_transform),
    "mb_conv": mb_conv,
}


def stage(cx: Cx, w_in: int, w_out: int, stride: int, d: int, block: str, **kwargs: Any) -> Cx:
    """d blocks of type `block`; the first takes the stage's input width and stride."""
    count = BLOCKS[block]
    cx = count(cx, w_in, w_out, stride, **kwargs)
    # blocks 2..d are identical (w_out -> w_out, stride 1, same size): count one, d - 1 times
    one = count(Cx(cx.h, cx.w), w_out, w_out, 1, **kwargs)
    return Cx(cx.h, cx.w, *(c + (d - 1) * o for c, o in zip(cx[2:], one[2:])))


def head(cx: Cx, w_in: int, num_classes: int, head_w: int = 0, activation: str = "relu") -> Cx:
    """[1x1 conv to head_w, BN, where head_w > 0], global average pool, linear classifier with bias."""
    if head_w:
        cx = norm2d(conv2d(cx, w_in, head_w, 1), head_w)
        w_in = head_w
    return linear(gap2d(cx), w_in, num_classes, bias=True)


class Part(NamedTuple):
    """One top-level part of a model: its name (stem, s1.., head), its kind (a stem type, 'stage' or 'head') and
    the arguments of its module's constructor and of its count (a stage's block as its type name)."""

    name: str
    kind: str
    args: tuple
    kwargs: dict[str, Any]


def parts(spec: AnyNetSpec | SpecBatch) -> list[Part]:
    """The model's top-level parts in order; the builder and the count (of a spec or a batch) walk this list."""
    act = {"activation": spec.activation}
    found = [Part("stem", spec.stem_type, (spec.in_channels, spec.stem_w), act)]
    w_in = spec.stem_w
    for i, (d, w, s) in enumerate(zip(spec.depths, spec.widths, spec.strides)):
        kwargs = dict(act)
        if spec.block_type in BOTTLENECKS:
            kwargs.update(bot_mul=spec.bot_muls[i], group_w=spec.group_ws[i], se_r=spec.se_r)
        elif spec.block_type == MBCONV:
            kwargs.update(exp_r=spec.exp_rs[i], kernel=spec.kernels[i], se_r=spec.se_r)
        found.append(Part(f"s{i + 1}", "stage", (w_in, w, s, d, spec.block_type), kwargs))
        w_in = w
    found.append(Part("head", "head", (w_in, spec.num_classes), {"head_w": spec.head_w, **act}))
    return found


def _count(part: Part) -> Callable[..., Cx]:
    return {"stage": stage, "head": head}.get(part.kind) or STEMS[part.kind]


def complexity(spec: AnyNetSpec | SpecBatch) -> Complexity:
    """Exact flops, params and acts of the spec's model, without building it (int64 columns for a batch)."""
    cx = Cx(spec.resolution, spec.resolution)
    for part in parts(spec):
        cx = _count(part)(cx, *part.args, **part.kwargs)
    return Complexity(cx.flops, cx.params, cx.acts)


def complexity_breakdown(spec: AnyNetSpec) -> list[tuple[str, Complexity, tuple[int, int]]]:
    """Per part (stem, s1.., head): its own flops/params/acts and its output feature-map size."""
    cx, out = Cx(spec.resolution, spec.resolution), []
    for part in parts(spec):
        after = _count(part)(cx, *part.args, **part.kwargs)
        out.append((part.name, Complexity(*(a - b for a, b in zip(after[2:], cx[2:]))), (after.h, after.w)))
        cx = after
    return out
