"""Every built-in space on 1000 samples: constraints, bands, compatibility, exact complexity, models build."""

import numpy as np
import pytest
import torch

from anynet import AnyNet, adjust_block_compatibility, complexity
from sampler import get_space, sample, space_names

BANDS = {  # the paper's protocol at ImageNet scale; a CPU-sized band at small scale
    "AnyNetX_A": (360e6, 400e6),
    "AnyNetX_B": (360e6, 400e6),
    "AnyNetX_C": (360e6, 400e6),
    "AnyNetX_D": (360e6, 400e6),
    "AnyNetX_E": (360e6, 400e6),
    "RegNetX": (360e6, 400e6),
    "RegNetY": (360e6, 400e6),
    "RegNetX-inverted": (360e6, 400e6),
    "RegNetX-depthwise": (360e6, 400e6),
    "MBConv": (360e6, 400e6),
}
SAMPLES = {name: sample(name, 1000, seed=7, flops=BANDS.get(name, (2e6, 40e6))) for name in space_names()}


def test_twenty_builtin_spaces():
    assert len(SAMPLES) == 20
    section5 = {"RegNetX-inverted", "RegNetX-depthwise", "MBConv"}
    assert {n.removesuffix("-small") for n in SAMPLES} == {f"AnyNetX_{c}" for c in "ABCDE"} | {
        "RegNetX",
        "RegNetY",
    } | section5


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_constraints_bands_and_compatibility(name):
    space, result = get_space(name), SAMPLES[name]
    lo, hi = BANDS.get(name, (2e6, 40e6))
    assert len(result) == 1000
    assert len({(s.depths, s.widths, s.bot_muls, s.group_ws, s.exp_rs, s.kernels, s.se_r) for s in result}) == 1000
    for spec, cx in zip(result, result.complexities):
        assert lo <= cx.flops <= hi
        assert spec.num_stages == space.stages and spec.strides == space.strides
        assert (spec.stem_type, spec.stem_w, spec.resolution) == (space.stem_type, space.stem_w, space.resolution)
        assert (spec.head_w, spec.activation) == (space.head_w, space.activation)
        if space.block_type == "mb_conv":
            assert spec.se_r in space.params["se_r"].dist.values and list(spec.widths) == sorted(spec.widths)
            continue
        assert spec.se_r == space.se_r
        assert adjust_block_compatibility(spec.widths, spec.bot_muls, spec.group_ws)[0::2] == (
            list(spec.widths),
            list(spec.group_ws),
        )
        assert all(v % g == 0 for v, g in zip(spec.inner_widths, spec.group_ws))
        if "b" in space.non_decreasing or space.params.get("b") and space.params["b"].shared:
            assert len(set(spec.bot_muls)) == 1
        if space.kind == "anynet" and space.params["g"].shared:
            # one sampled g; the compatibility rule may clip it to a stage's inner width
            g = max(spec.group_ws)
            assert all(x == g or x == v for x, v in zip(spec.group_ws, spec.inner_widths))
        if "w" in space.non_decreasing:
            assert list(spec.widths) == sorted(spec.widths)
        if "d" in space.non_decreasing:
            assert list(spec.depths) == sorted(spec.depths)
        if space.kind == "regnet":
            r = spec.regnet
            assert r is not None and sum(spec.depths) == r.depth and r.w0 % 8 == 0
            assert 12 <= r.depth <= 28 if space.stages == 4 else 6 <= r.depth <= 16
            assert 2.0 <= r.wm <= 3.0 and round(r.wa, 1) == r.wa and round(r.wm, 3) == r.wm


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_vectorized_complexity_equals_scalar(name):
    result = SAMPLES[name]
    assert [tuple(complexity(s)) for s in result] == [tuple(c) for c in result.complexities]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_specs_build_with_the_counted_params(name):
    for spec, cx in list(zip(SAMPLES[name], SAMPLES[name].complexities))[:12]:
        with torch.device("meta"):
            model = AnyNet(spec)
        assert sum(p.numel() for p in model.parameters()) == cx.params


@pytest.mark.parametrize("name", [n for n in sorted(SAMPLES) if n.endswith("-small")])
def test_small_specs_run_forward(name):
    spec = SAMPLES[name][0]
    out = AnyNet(spec).eval()(torch.zeros(2, spec.in_channels, spec.resolution, spec.resolution))
    assert out.shape == (2, spec.num_classes)


def test_anynetx_flops_spread_over_the_band():
    flops = np.array([c.flops for c in SAMPLES["AnyNetX_A"].complexities])
    assert flops.min() < 365e6 and flops.max() > 395e6
