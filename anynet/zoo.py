"""Named models: RegNetX/RegNetY 200MF-32GF (the RegNet paper, Figs. 15-16) and classic ResNets."""

from __future__ import annotations

from typing import Any

from anynet.errors import SpecError
from anynet.regnet import RegNetParams
from anynet.spec import AnyNetSpec

# (depth, w0, wa, wm, group width); every RegNet here has bot_mul 1, stem simple_stem_in 32, stride 2.
REGNETX = {
    "200MF": (13, 24, 36.44, 2.49, 8),
    "400MF": (22, 24, 24.48, 2.54, 16),
    "600MF": (16, 48, 36.97, 2.24, 24),
    "800MF": (16, 56, 35.73, 2.28, 16),
    "1.6GF": (18, 80, 34.01, 2.25, 24),
    "3.2GF": (25, 88, 26.31, 2.25, 48),
    "4.0GF": (23, 96, 38.65, 2.43, 40),
    "6.4GF": (17, 184, 60.83, 2.07, 56),
    "8.0GF": (23, 80, 49.56, 2.88, 120),
    "12GF": (19, 168, 73.36, 2.37, 112),
    "16GF": (22, 216, 55.59, 2.10, 128),
    "32GF": (23, 320, 69.86, 2.00, 168),
}
REGNETY = {  # with squeeze-excite, se_r = 0.25
    "200MF": (13, 24, 36.44, 2.49, 8),
    "400MF": (16, 48, 27.89, 2.09, 8),
    "600MF": (15, 48, 32.54, 2.32, 16),
    "800MF": (14, 56, 38.84, 2.40, 16),
    "1.6GF": (27, 48, 20.71, 2.65, 24),
    "3.2GF": (21, 80, 42.63, 2.66, 24),
    "4.0GF": (22, 96, 31.41, 2.24, 64),
    "6.4GF": (25, 112, 33.22, 2.27, 72),
    "8.0GF": (17, 192, 76.82, 2.19, 56),
    "12GF": (19, 168, 73.36, 2.37, 112),
    "16GF": (18, 200, 106.23, 2.48, 112),
    "32GF": (20, 232, 115.89, 2.53, 232),
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
OTHERS: dict[str, dict[str, Any]] = {
    "ResNet-20": dict(_CIFAR_RESNET, depths=[3, 3, 3]),
    "ResNet-56": dict(_CIFAR_RESNET, depths=[9, 9, 9]),
    "ResNet-110": dict(_CIFAR_RESNET, depths=[18, 18, 18]),
    "ResNet-50": dict(_IN_RESNET, bot_muls=[0.25] * 4, group_ws=[64, 128, 256, 512]),
    "ResNeXt-50-32x4d": dict(_IN_RESNET, bot_muls=[0.5] * 4, group_ws=[4, 8, 16, 32]),
}


def zoo_names() -> list[str]:
    """All model names, RegNetX first, then RegNetY, then the ResNets."""
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
    if family in ("RegNetX", "RegNetY"):
        d, w0, wa, wm, g = (REGNETX if family == "RegNetX" else REGNETY)[size]
        se_r = 0.25 if family == "RegNetY" else 0.0
        spec = AnyNetSpec.from_regnet(RegNetParams(depth=d, w0=w0, wa=wa, wm=wm, group_w=g), se_r=se_r)
    else:
        spec = AnyNetSpec(**OTHERS[match])
    return spec.with_fields(**fields) if fields else spec
