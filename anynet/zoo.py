"""Named models: RegNetX/RegNetY 200MF-32GF (the RegNet paper, Figs. 15-16), classic ResNets and ResNeXts,
MobileNetV2, EfficientNet-B0 (pycls's configuration) and the D2L book's RegNetX32."""

from __future__ import annotations

from typing import Any

from anynet.errors import SpecError
from anynet.regnet import RegNetParams
from anynet.spec import AnyNetSpec

# Every RegNet here has bot_mul 1, stem simple_stem_in 32, stride 2 (pycls's model zoo configs).
REGNETX: dict[str, RegNetParams] = {
    "200MF": RegNetParams(depth=13, w0=24, wa=36.44, wm=2.49, group_w=8),
    "400MF": RegNetParams(depth=22, w0=24, wa=24.48, wm=2.54, group_w=16),
    "600MF": RegNetParams(depth=16, w0=48, wa=36.97, wm=2.24, group_w=24),
    "800MF": RegNetParams(depth=16, w0=56, wa=35.73, wm=2.28, group_w=16),
    "1.6GF": RegNetParams(depth=18, w0=80, wa=34.01, wm=2.25, group_w=24),
    "3.2GF": RegNetParams(depth=25, w0=88, wa=26.31, wm=2.25, group_w=48),
    "4.0GF": RegNetParams(depth=23, w0=96, wa=38.65, wm=2.43, group_w=40),
    "6.4GF": RegNetParams(depth=17, w0=184, wa=60.83, wm=2.07, group_w=56),
    "8.0GF": RegNetParams(depth=23, w0=80, wa=49.56, wm=2.88, group_w=120),
    "12GF": RegNetParams(depth=19, w0=168, wa=73.36, wm=2.37, group_w=112),
    "16GF": RegNetParams(depth=22, w0=216, wa=55.59, wm=2.10, group_w=128),
    "32GF": RegNetParams(depth=23, w0=320, wa=69.86, wm=2.00, group_w=168),
}
REGNETY: dict[str, RegNetParams] = {  # with squeeze-excite, se_r = 0.25
    "200MF": RegNetParams(depth=13, w0=24, wa=36.44, wm=2.49, group_w=8),
    "400MF": RegNetParams(depth=16, w0=48, wa=27.89, wm=2.09, group_w=8),
    "600MF": RegNetParams(depth=15, w0=48, wa=32.54, wm=2.32, group_w=16),
    "800MF": RegNetParams(depth=14, w0=56, wa=38.84, wm=2.40, group_w=16),
    "1.6GF": RegNetParams(depth=27, w0=48, wa=20.71, wm=2.65, group_w=24),
    "3.2GF": RegNetParams(depth=21, w0=80, wa=42.63, wm=2.66, group_w=24),
    "4.0GF": RegNetParams(depth=22, w0=96, wa=31.41, wm=2.24, group_w=64),
    "6.4GF": RegNetParams(depth=25, w0=112, wa=33.22, wm=2.27, group_w=72),
    "8.0GF": RegNetParams(depth=17, w0=192, wa=76.82, wm=2.19, group_w=56),
    "12GF": RegNetParams(depth=19, w0=168, wa=73.36, wm=2.37, group_w=112),
    "16GF": RegNetParams(depth=18, w0=200, wa=106.23, wm=2.48, group_w=112),
    "32GF": RegNetParams(depth=20, w0=232, wa=115.89, wm=2.53, group_w=232),
}
_CIFAR_RESNET = dict(
    stem_type="res_stem_cifar",
    stem_w=16,
    block_type="res_basic_block",
    widths=[16, 32, 64],
    strides=[1, 2, 2],
    num_classes=10,
    resolution=32,
)
_IN_RESNET = dict(
    stem_type="res_stem_in", stem_w=64, depths=[3, 4, 6, 3], widths=[256, 512, 1024, 2048], strides=[1, 2, 2, 2]
)
_IN_BASIC = dict(_IN_RESNET, block_type="res_basic_block", widths=[64, 128, 256, 512])
_RESNET_B = dict(bot_muls=[0.25] * 4, group_ws=[64, 128, 256, 512])  # inner width w/4, one group
_RESNEXT_32X4D = dict(bot_muls=[0.5] * 4, group_ws=[4, 8, 16, 32])  # 32 groups of 4 (x2 per stage)
_RESNEXT_32X8D = dict(bot_muls=[1.0] * 4, group_ws=[8, 16, 32, 64])  # 32 groups of 8 (x2 per stage)
OTHERS: dict[str, dict[str, Any]] = {
    "ResNet-20": dict(_CIFAR_RESNET, depths=[3, 3, 3]),
    "ResNet-56": dict(_CIFAR_RESNET, depths=[9, 9, 9]),
    "ResNet-110": dict(_CIFAR_RESNET, depths=[18, 18, 18]),
    "ResNet-18": dict(_IN_BASIC, depths=[2, 2, 2, 2]),
    "ResNet-34": dict(_IN_BASIC, depths=[3, 4, 6, 3]),
    "ResNet-50": dict(_IN_RESNET, **_RESNET_B),
    "ResNet-101": dict(_IN_RESNET, depths=[3, 4, 23, 3], **_RESNET_B),
    "ResNet-152": dict(_IN_RESNET, depths=[3, 8, 36, 3], **_RESNET_B),
    "ResNeXt-50-32x4d": dict(_IN_RESNET, **_RESNEXT_32X4D),
    "ResNeXt-101-32x4d": dict(_IN_RESNET, depths=[3, 4, 23, 3], **_RESNEXT_32X4D),
    "ResNeXt-101-32x8d": dict(_IN_RESNET, depths=[3, 4, 23, 3], **_RESNEXT_32X8D),
    # torchvision's mobilenet_v2 (width 1.0): stages of (t, c, n, s) = (exp_r, width, depth, stride)
    "MobileNetV2": dict(
        stem_w=32,
        block_type="mb_conv",
        depths=[1, 2, 3, 4, 3, 3, 1],
        widths=[16, 24, 32, 64, 96, 160, 320],
        strides=[1, 2, 2, 2, 1, 2, 1],
        exp_rs=[1, 6, 6, 6, 6, 6, 6],
        kernels=[3] * 7,
        head_w=1280,
        activation="relu6",
    ),
    # pycls's EN-B0 (configs/dds_baselines/effnet/EN-B0_dds_8gpu.yaml)
    "EfficientNet-B0": dict(
        stem_w=32,
        block_type="mb_conv",
        depths=[1, 2, 2, 3, 3, 4, 1],
        widths=[16, 24, 40, 80, 112, 192, 320],
        strides=[1, 2, 2, 2, 1, 2, 1],
        exp_rs=[1, 6, 6, 6, 6, 6, 6],
        kernels=[3, 3, 5, 3, 5, 5, 3],
        se_r=0.25,
        head_w=1280,
        activation="silu",
    ),
    # Dive into Deep Learning, section 8.8 (modern CNNs: RegNet), on 96 px Fashion-MNIST
    "RegNetX32": dict(
        stem_w=32,
        depths=[4, 6],
        widths=[32, 80],
        strides=[2, 2],
        bot_muls=[1.0, 1.0],
        group_ws=[16, 16],
        num_classes=10,
        in_channels=1,
        resolution=96,
    ),
}


def zoo_names() -> list[str]:
    """All model names, RegNetX first, then RegNetY, then the others (ResNets, ResNeXts, MobileNetV2, ...)."""
    return [f"RegNetX-{k}" for k in REGNETX] + [f"RegNetY-{k}" for k in REGNETY] + list(OTHERS)


def zoo_name(name: str) -> str | None:
    """The zoo's spelling of a model name (case, '-' and '_' ignored), or None if it is not in the zoo."""

    def key(n: str) -> str:
        return n.lower().replace("-", "").replace("_", "")

    return {key(n): n for n in zoo_names()}.get(key(name))


def zoo_spec(name: str, **fields: Any) -> AnyNetSpec:
    """The spec of a named model (case, '-' and '_' ignored); fields override e.g. resolution, num_classes."""
    match = zoo_name(name)
    if match is None:
        raise SpecError(f"model: unknown name {name!r}; known models: {', '.join(zoo_names())}")
    family, _, size = match.partition("-")
    if family in ("RegNetX", "RegNetY") and size:
        params = (REGNETX if family == "RegNetX" else REGNETY)[size]
        spec = AnyNetSpec.from_regnet(params, se_r=0.25 if family == "RegNetY" else 0.0)
    else:
        spec = AnyNetSpec(**OTHERS[match])
    return spec.with_fields(**fields) if fields else spec
