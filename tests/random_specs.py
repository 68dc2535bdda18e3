"""Specs for the tests: TINY, a small fixed X-block network that trains in seconds on 28 px gray images, and
seeded random valid specs covering every block type, stem, 1-5 stages and several resolutions."""

from __future__ import annotations

import numpy as np

from anynet import AnyNetSpec, RegNetParams, SpecError, adjust_block_compatibility
from anynet.spec import STEM_TYPES

BLOCK_TYPES = ("res_bottleneck_block", "res_basic_block", "vanilla_block")  # random_spec's (fixed: seeds keep specs)

TINY = AnyNetSpec(
    stem_type="res_stem_cifar",
    stem_w=8,
    depths=[1, 1, 1],
    widths=[16, 32, 64],
    strides=[1, 2, 2],
    bot_muls=[1.0] * 3,
    group_ws=[8] * 3,
    num_classes=10,
    in_channels=1,
    resolution=28,
)


def random_spec(rng: np.random.Generator) -> AnyNetSpec:
    """One random AnyNet (bottleneck stages made compatible with the compatibility rule)."""
    n = int(rng.integers(1, 6))
    block = str(rng.choice(BLOCK_TYPES))
    fields = dict(
        stem_type=str(rng.choice(STEM_TYPES)),
        stem_w=int(rng.choice([4, 8, 12, 16, 24])),
        block_type=block,
        depths=rng.integers(1, 3, n).tolist(),
        widths=rng.choice([6, 8, 10, 16, 20, 24, 32, 40, 48], n).tolist(),
        strides=rng.choice([1, 2], n).tolist(),
        num_classes=int(rng.choice([2, 10, 100])),
        in_channels=int(rng.choice([1, 3])),
        resolution=int(rng.choice([7, 16, 17, 28, 32, 33])),
    )
    if block == "res_bottleneck_block":
        ws, bs, gs = adjust_block_compatibility(
            fields["widths"], rng.choice([0.25, 0.5, 1.0, 2.0], n).tolist(), rng.choice([1, 2, 4, 8, 16], n).tolist()
        )
        fields.update(widths=ws, bot_muls=bs, group_ws=gs, se_r=float(rng.choice([0.0, 0.25, 0.5])))
    return AnyNetSpec(**fields)


def random_mbconv(rng: np.random.Generator, **fields) -> AnyNetSpec:
    """One random mb_conv network: 1-5 stages, expansion ratios, kernels, strides, se_r 0 or 0.25, head_w, any
    activation; fields override (e.g. stem_type, in_channels)."""
    n = int(rng.integers(1, 6))
    drawn = dict(
        stem_type=str(rng.choice(STEM_TYPES)),
        stem_w=int(rng.choice([4, 8, 12, 16, 24, 32])),
        block_type="mb_conv",
        depths=rng.integers(1, 4, n).tolist(),
        widths=rng.choice([4, 8, 12, 16, 20, 24, 32, 40, 48], n).tolist(),
        strides=rng.choice([1, 2], n).tolist(),
        exp_rs=rng.choice([1.0, 1.5, 2.0, 3.0, 4.0, 6.0], n).tolist(),
        kernels=rng.choice([3, 5], n).tolist(),
        se_r=float(rng.choice([0.0, 0.25])),
        head_w=int(rng.choice([0, 16, 64, 100])),
        activation=str(rng.choice(["relu", "relu6", "silu", "gelu"])),
        num_classes=int(rng.choice([2, 10, 100])),
        in_channels=int(rng.choice([1, 3])),
        resolution=int(rng.choice([7, 16, 17, 28, 32, 33])),
    )
    return AnyNetSpec(**{**drawn, **fields})


def random_regnet(rng: np.random.Generator, **fields) -> AnyNetSpec:
    """A random valid RegNet (invalid draws are redrawn)."""
    while True:
        try:
            params = RegNetParams(
                depth=int(rng.integers(4, 16)),
                w0=8 * int(rng.integers(1, 6)),
                wa=float(rng.uniform(4, 40)),
                wm=float(rng.uniform(1.5, 3)),
                group_w=int(rng.choice([1, 2, 4, 8, 16])),
                bot_mul=float(rng.choice([0.5, 1.0])),
            )
            return AnyNetSpec.from_regnet(params, se_r=float(rng.choice([0.0, 0.25])), **fields)
        except SpecError:
            continue
