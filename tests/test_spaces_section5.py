"""The RegNet paper's section 5 spaces: RegNetX-inverted (b < 1), RegNetX-depthwise (g = 1) and MBConv
(EfficientNet-like blocks), each at ImageNet scale and -small. What each draws, and their complexity against pycls
0.1.1 itself (its AnyNet, RegNet and EffNet complexity functions, configured through its cfg), to the integer."""

import functools
import importlib

import numpy as np
import pytest

from anynet.cli import main
from anynet.errors import AnynetError
from anynet.libraries import import_library
from anynet.counting import complexity
from sampler import get_space, sample, space_names

NEW = ("RegNetX-inverted", "RegNetX-depthwise", "MBConv")
IMAGENET = (360e6, 400e6)
SMALL = (2e6, 40e6)
CROSS = 250  # specs per space checked against pycls


def require_pycls():
    try:
        import_library("pycls")
    except AnynetError as e:
        pytest.skip(str(e))


@functools.cache
def drawn(name: str, n: int = CROSS, **overrides):
    space = get_space(name).with_overrides(overrides) if overrides else get_space(name)
    return sample(space, n, seed=5, flops=SMALL if name.endswith("-small") else IMAGENET)


@pytest.fixture
def pycls_cfg():
    """pycls's global cfg, restored afterwards."""
    require_pycls()
    from pycls.core.config import cfg

    default = cfg.clone()
    yield cfg
    cfg.merge_from_other_cfg(default)


def cx0(resolution: int) -> dict:
    return {"h": resolution, "w": resolution, "flops": 0, "params": 0, "acts": 0}


def counts(cx: dict) -> tuple[int, int, int]:
    return (int(cx["flops"]), int(cx["params"]), int(cx["acts"]))


def test_the_new_spaces_are_built_in_at_both_scales(capsys):
    names = space_names()
    for name in NEW:
        assert name in names and f"{name}-small" in names
        big, small = get_space(name), get_space(f"{name}-small")
        assert (small.stages, small.resolution, small.in_channels, small.num_classes) == (3, 28, 1, 10)
        assert small.strides == (1, 2, 2) and small.stem_type == "res_stem_cifar"
        assert (big.resolution, big.in_channels, big.num_classes) == (224, 3, 1000)
        assert "section 5" in big.description and "section 5" in small.description
    assert main(["sample", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(f"{name}: " in listed and f"{name}-small: " in listed for name in NEW)


@pytest.mark.parametrize("name", ["RegNetX-inverted", "RegNetX-inverted-small"])
def test_inverted_bottleneck_draws_b_below_one(name):
    specs = drawn(name)
    bot_muls = {s.bot_muls[0] for s in specs}
    assert bot_muls == {2.0, 4.0} and all(len(set(s.bot_muls)) == 1 for s in specs)
    assert all(s.regnet.bot_mul in (2.0, 4.0) and all(v > w for v, w in zip(s.inner_widths, s.widths)) for s in specs)


@pytest.mark.parametrize("name", ["RegNetX-depthwise", "RegNetX-depthwise-small"])
def test_depthwise_draws_group_width_one(name):
    specs = drawn(name)
    assert all(s.group_ws == (1,) * s.num_stages and s.groups == s.inner_widths for s in specs)
    assert all(s.bot_muls == (1.0,) * s.num_stages for s in specs)


@pytest.mark.parametrize("name", ["MBConv", "MBConv-small"])
def test_mbconv_draws_its_per_stage_and_per_model_values(name):
    space, result = get_space(name), drawn(name)
    specs = result.specs
    assert len({(s.depths, s.widths, s.exp_rs, s.kernels, s.se_r) for s in specs}) == len(specs)
    assert {e for s in specs for e in s.exp_rs} == {1.0, 3.0, 4.0, 6.0}
    assert {k for s in specs for k in s.kernels} == {3, 5}
    assert {s.se_r for s in specs} == {0.0, 0.25}
    for spec in specs:
        assert spec.block_type == "mb_conv" and spec.activation == "silu" and spec.head_w == space.head_w
        assert list(spec.widths) == sorted(spec.widths) and spec.num_stages == space.stages
    assert [tuple(complexity(s)) for s in specs] == [tuple(c) for c in result.complexities]
    again = sample(name, 40, seed=5, flops=SMALL if name.endswith("-small") else IMAGENET)
    assert again.specs == specs[:40]  # seeded, and a smaller sample is a prefix


@pytest.mark.parametrize("name", ["RegNetX-inverted", "RegNetX-depthwise"])
def test_regnet_section5_spaces_equal_pycls_anynet_and_regnet(name, pycls_cfg):
    """Each spec through pycls's cfg twice: its stages as an ANYNET, and its parameters as a REGNET (pycls's own
    rule and compatibility adjustment); both must give anynet's flops, params and acts exactly."""
    from pycls.models.anynet import AnyNet
    from pycls.models.regnet import RegNet

    cfg = pycls_cfg
    scales = [(name, drawn(name)), (f"{name}-small", drawn(f"{name}-small", in_channels=3, resolution=32))]
    checked = 0
    for label, result in scales:
        for spec, cx in zip(result.specs, result.complexities):
            ours = (cx.flops, cx.params, cx.acts)
            cfg.MODEL.NUM_CLASSES = spec.num_classes
            a = cfg.ANYNET
            a.STEM_TYPE, a.STEM_W, a.BLOCK_TYPE = spec.stem_type, spec.stem_w, spec.block_type
            a.DEPTHS, a.WIDTHS, a.STRIDES = list(spec.depths), list(spec.widths), list(spec.strides)
            a.BOT_MULS, a.GROUP_WS, a.SE_ON = list(spec.bot_muls), list(spec.group_ws), False
            assert counts(AnyNet.complexity(cx0(spec.resolution))) == ours, (label, spec)
            r, p = cfg.REGNET, spec.regnet
            r.STEM_TYPE, r.STEM_W, r.BLOCK_TYPE, r.STRIDE, r.SE_ON = (
                spec.stem_type,
                spec.stem_w,
                spec.block_type,
                2,
                False,
            )
            r.DEPTH, r.W0, r.WA, r.WM, r.GROUP_W, r.BOT_MUL = p.depth, p.w0, p.wa, p.wm, p.group_w, p.bot_mul
            args = RegNet.get_args()
            if spec.strides == (2,) * spec.num_stages:  # pycls's RegNet has one stride for every stage
                assert (args["ds"], args["ws"], args["gws"]) == (
                    list(spec.depths),
                    list(spec.widths),
                    list(spec.group_ws),
                )
                assert counts(AnyNet._complexity(cx0(spec.resolution), **args)) == ours, (label, spec)
            checked += 1
    assert checked >= 2 * CROSS


def test_mbconv_equals_pycls_effnet(pycls_cfg, monkeypatch):
    """ImageNet-scale MBConv specs (a 3x3 stride-2 stem and a head conv, as pycls's EffNet always has) through
    cfg.EN. pycls builds a squeeze-excite of width int(w_in * 0) = 0 when EN.SE_R is 0, whose second conv still
    has w_exp biases; anynet builds none, so that degenerate SE is counted as nothing here."""
    effnet = importlib.import_module("pycls.models.effnet")  # pycls.models.effnet is also a function's name

    se = effnet.SE.complexity
    monkeypatch.setattr(
        effnet.SE, "complexity", staticmethod(lambda cx, w_in, w_se: se(cx, w_in, w_se) if w_se else cx)
    )
    cfg = pycls_cfg
    result = drawn("MBConv")
    assert {s.se_r for s in result} == {0.0, 0.25} and len(result) >= 200
    for spec, cx in zip(result.specs, result.complexities):
        assert spec.stem_type == "simple_stem_in" and spec.head_w > 0 and spec.in_channels == 3
        en = cfg.EN
        en.STEM_W, en.DEPTHS, en.WIDTHS = spec.stem_w, list(spec.depths), list(spec.widths)
        en.EXP_RATIOS, en.KERNELS, en.STRIDES = list(spec.exp_rs), list(spec.kernels), list(spec.strides)
        en.SE_R, en.HEAD_W, cfg.MODEL.NUM_CLASSES = spec.se_r, spec.head_w, spec.num_classes
        assert counts(effnet.EffNet.complexity(cx0(spec.resolution))) == (cx.flops, cx.params, cx.acts), spec


def test_small_spaces_reach_the_study_band():
    for name in NEW:
        result = sample(f"{name}-small", 8, seed=0, flops=(2e6, 6e6))
        assert all(2e6 <= c.flops <= 6e6 for c in result.complexities)
        assert np.isfinite(result.acceptance) and result.acceptance > 0


def test_a_study_of_regnetx_against_the_section5_spaces_end_to_end(tmp_path, ray_env):
    """`anynet study --spaces regnetx,regnetx-inverted,regnetx-depthwise,mbconv` (the -small spaces by alias) runs,
    reports and exports: mb_conv models have no RegNet form, so MBConv's are noted, not exported."""
    import subprocess
    import sys

    out = tmp_path / "study"
    args = ["--spaces", "regnetx,regnetx-inverted,regnetx-depthwise,mbconv", "--n", "4", "--dataset", "synthetic"]
    args += [
        "--images",
        "512",
        "--top",
        "1",
        "--fidelity",
        "0",
        "--retrain-top",
        "0",
        "--no-progress",
        "--out",
        str(out),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "anynet.cli", "study", *args], env=ray_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("RegNetX", "RegNetX-inverted", "RegNetX-depthwise", "MBConv"):
        assert f"  {name}: 4 ok, 0 failed, 0 not finished" in done.stdout
    assert (out / "report" / "report.html").is_file() and (out / "configs" / "RegNetX-inverted.yaml").is_file()
    assert "MBConv: not exported: model 0: mb_conv models have no RegNet form" in done.stdout


def test_a_space_of_linear_bottleneck_blocks_samples_them():
    """block_type res_bottleneck_linear_block takes b and g as res_bottleneck_block does."""
    space = get_space("AnyNetX_E-small").with_overrides({"block_type": "res_bottleneck_linear_block"})
    drawn = sample(space, 20, 0, flops=(2e6, 6e6))
    assert {s.block_type for s in drawn.specs} == {"res_bottleneck_linear_block"}
    assert [complexity(s).flops for s in drawn.specs] == [c.flops for c in drawn.complexities]
