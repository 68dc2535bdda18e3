"""Stems, blocks, stages and the head, as torch modules; anynet.counting counts each one (a function per module,
mirroring its constructor) without torch.

Module names follow pycls (stem.conv, s1.b1.f.a, ..., s1.b1.dwise, ..., head.fc), so state dicts line up with
its models (MBConv and the head conv with pycls 0.1.1's EffNet). A ReLU that follows a BatchNorm is that
BatchNorm's (norm2d(w, relu=True)), and a residual block's add happens inside its transform's last BatchNorm
(before that ReLU), so CPU training can fuse all three; another activation (layers.norm_act) is a module of its
own (named *_af, as in pycls) after the BatchNorm and the add. Activations count nothing (pycls's convention).
"""

from __future__ import annotations

import torch
from torch import nn

from anynet.layers import activation as act_module
from anynet.layers import conv2d, gap2d, linear, norm2d, norm_act, pool2d


class SimpleStemIN(nn.Module):
    """3x3 conv stride 2, BN, activation (pycls EffNet's StemIN with swish)."""

    def __init__(self, w_in: int, w_out: int, activation: str = "relu") -> None:
        super().__init__()
        self.conv = conv2d(w_in, w_out, 3, stride=2)
        self.bn, self.af = norm_act(w_out, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.af(self.bn(self.conv(x)))


class ResStemCifar(nn.Module):
    """3x3 conv stride 1, BN, activation."""

    def __init__(self, w_in: int, w_out: int, activation: str = "relu") -> None:
        super().__init__()
        self.conv = conv2d(w_in, w_out, 3)
        self.bn, self.af = norm_act(w_out, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.af(self.bn(self.conv(x)))


class ResStemIN(nn.Module):
    """7x7 conv stride 2, BN, activation, 3x3 max-pool stride 2."""

    def __init__(self, w_in: int, w_out: int, activation: str = "relu") -> None:
        super().__init__()
        self.conv = conv2d(w_in, w_out, 7, stride=2)
        self.bn, self.af = norm_act(w_out, activation)
        self.pool = pool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.af(self.bn(self.conv(x))))


class SE(nn.Module):
    """Squeeze-and-excite: global pool, 1x1 conv (bias), activation, 1x1 conv (bias), sigmoid, scale."""

    def __init__(self, w_in: int, w_se: int, activation: str = "relu") -> None:
        super().__init__()
        self.avg_pool = gap2d()
        self.f_ex = nn.Sequential(
            conv2d(w_in, w_se, 1, bias=True), act_module(activation), conv2d(w_se, w_in, 1, bias=True), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.f_ex(self.avg_pool(x))


class BasicTransform(nn.Module):
    """3x3 conv (stride), BN, act, 3x3 conv, BN, [+ residual], act."""

    def __init__(self, w_in: int, w_out: int, stride: int, activation: str = "relu") -> None:
        super().__init__()
        self.a = conv2d(w_in, w_out, 3, stride=stride)
        self.a_bn, self.a_af = norm_act(w_out, activation)
        self.b = conv2d(w_out, w_out, 3)
        self.b_bn, self.b_af = norm_act(w_out, activation, inplace=False)

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        return self.b_af(self.b_bn(self.b(self.a_af(self.a_bn(self.a(x)))), residual))


class VanillaBlock(BasicTransform):
    """V: [3x3 conv, BN, act] x 2, no residual; the first conv carries the stride."""


class BottleneckTransform(nn.Module):
    """1x1 conv, BN, act, 3x3 grouped conv (stride), BN, act, [SE], 1x1 conv, BN, [+ residual], act (none where
    `linear`)."""

    linear = False

    def __init__(
        self, w_in: int, w_out: int, stride: int, bot_mul: float, group_w: int, se_r: float, activation: str = "relu"
    ) -> None:
        super().__init__()
        w_b = int(round(w_out * bot_mul))
        self.a = conv2d(w_in, w_b, 1)
        self.a_bn, self.a_af = norm_act(w_b, activation)
        self.b = conv2d(w_b, w_b, 3, stride=stride, groups=w_b // group_w)
        self.b_bn, self.b_af = norm_act(w_b, activation)
        self.se = SE(w_b, int(round(w_in * se_r)), activation) if se_r else nn.Identity()
        self.c = conv2d(w_b, w_out, 1)
        self.c_bn, self.c_af = (
            (norm2d(w_out), nn.Identity()) if self.linear else norm_act(w_out, activation, inplace=False)
        )

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        x = self.a_af(self.a_bn(self.a(x)))
        x = self.se(self.b_af(self.b_bn(self.b(x))))
        return self.c_af(self.c_bn(self.c(x), residual))


class BottleneckLinearTransform(BottleneckTransform):
    """The bottleneck transform with no activation after its last BN (and the residual add)."""

    linear = True


class _Residual(nn.Module):
    """x -> act(shortcut(x) + f(x)), the add and act done by f's last BN (and af); the shortcut is a 1x1 conv + BN
    when width or stride changes."""

    transform: type[nn.Module]

    def __init__(self, w_in: int, w_out: int, stride: int, **kwargs: float) -> None:
        super().__init__()
        self.proj: nn.Conv2d | None = None
        self.bn: nn.BatchNorm2d | None = None
        if w_in != w_out or stride != 1:
            self.proj, self.bn = conv2d(w_in, w_out, 1, stride=stride), norm2d(w_out)
        self.f = self.transform(w_in, w_out, stride, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.bn(self.proj(x))
        return self.f(x, shortcut)


class ResBasicBlock(_Residual):
    """R: residual basic block."""

    transform = BasicTransform


class ResBottleneckBlock(_Residual):
    """X (Y with se_r > 0): residual bottleneck block."""

    transform = BottleneckTransform


class ResBottleneckLinearBlock(_Residual):
    """The residual bottleneck block with a linear output: no activation after the add (pycls master's
    res_bottleneck_linear_block). It counts as res_bottleneck_block does."""

    transform = BottleneckLinearTransform


class MBConv(nn.Module):
    """Inverted residual (pycls 0.1.1's EffNet MBConv): 1x1 expansion to w_exp = int(w_in * exp_r), BN, act (all
    three left out where w_exp == w_in, as exp_r 1 gives); depthwise kxk conv (stride), BN, act; [SE of squeeze
    width int(w_in * se_r), from the block's input width]; 1x1 linear projection, BN; + identity where stride 1
    and w_in == w_out (added inside lin_proj_bn). No projection shortcut."""

    def __init__(
        self,
        w_in: int,
        w_out: int,
        stride: int,
        exp_r: float,
        kernel: int,
        se_r: float,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        w_exp = int(w_in * exp_r)
        self.exp: nn.Conv2d | None = None
        if w_exp != w_in:
            self.exp = conv2d(w_in, w_exp, 1)
            self.exp_bn, self.exp_af = norm_act(w_exp, activation)
        self.dwise = conv2d(w_exp, w_exp, kernel, stride=stride, groups=w_exp)
        self.dwise_bn, self.dwise_af = norm_act(w_exp, activation)
        self.se = SE(w_exp, int(w_in * se_r), activation) if se_r else nn.Identity()
        self.lin_proj, self.lin_proj_bn = conv2d(w_exp, w_out, 1), norm2d(w_out)
        self.has_skip = stride == 1 and w_in == w_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x if self.exp is None else self.exp_af(self.exp_bn(self.exp(x)))
        f = self.se(self.dwise_af(self.dwise_bn(self.dwise(f))))
        return self.lin_proj_bn(self.lin_proj(f), x if self.has_skip else None)


class AnyStage(nn.Module):
    """d blocks of one width; the first takes the stage's input width and stride."""

    def __init__(self, w_in: int, w_out: int, stride: int, d: int, block: type[nn.Module], **kwargs: float) -> None:
        super().__init__()
        for i in range(d):
            self.add_module(f"b{i + 1}", block(w_in if i == 0 else w_out, w_out, stride if i == 0 else 1, **kwargs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.children():
            x = block(x)
        return x


class AnyHead(nn.Module):
    """[1x1 conv to head_w, BN, act, where head_w > 0 (pycls EffHead's conv, conv_bn)], global average pool, then a
    linear classifier (with bias)."""

    def __init__(self, w_in: int, num_classes: int, head_w: int = 0, activation: str = "relu") -> None:
        super().__init__()
        if head_w:
            self.conv = conv2d(w_in, head_w, 1)
            self.conv_bn, self.conv_af = norm_act(head_w, activation)
            w_in = head_w
        self.avg_pool = gap2d()
        self.fc = linear(w_in, num_classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "conv"):
            x = self.conv_af(self.conv_bn(self.conv(x)))
        return self.fc(torch.flatten(self.avg_pool(x), 1))


STEMS: dict[str, type[nn.Module]] = {
    "simple_stem_in": SimpleStemIN,
    "res_stem_cifar": ResStemCifar,
    "res_stem_in": ResStemIN,
}
BLOCKS: dict[str, type[nn.Module]] = {
    "res_bottleneck_block": ResBottleneckBlock,
    "res_basic_block": ResBasicBlock,
    "vanilla_block": VanillaBlock,
    "res_bottleneck_linear_block": ResBottleneckLinearBlock,
    "mb_conv": MBConv,
}
