"""mb_conv (pycls 0.1.1's EffNet MBConv), res_bottleneck_linear_block, head_w and activation: counts against pycls's
own complexity functions, state dicts against pycls's model, the batch count, and the spec's checks."""

from contextlib import contextmanager

import numpy as np
import pytest
import torch
from random_specs import random_mbconv

from anynet import AnyNet, AnyNetSpec, SpecError, complexity, zoo_spec
from anynet.spec_batch import SpecBatch, batch_complexity

EN_B0 = (385_825_092, 5_288_548, 6_748_036)  # pycls MODEL_ZOO: EN-B0 0.39 GF, 5.3 M params, 6.7 M acts


@contextmanager
def pycls_cfg(**sections):
    """pycls's global cfg with some keys set (e.g. EN={"DEPTHS": [...]}), restored afterwards."""
    from pycls.core.config import cfg

    default = cfg.clone()
    try:
        for section, values in sections.items():
            for key, value in values.items():
                setattr(getattr(cfg, section), key, value)
        yield cfg
    finally:
        cfg.merge_from_other_cfg(default)


def en_cfg(spec: AnyNetSpec) -> dict:
    """pycls's cfg sections for an mb_conv spec (EffNet: 3 channels, StemIN, a head conv)."""
    return dict(
        EN=dict(
            STEM_W=spec.stem_w,
            DEPTHS=list(spec.depths),
            WIDTHS=list(spec.widths),
            EXP_RATIOS=[float(e) for e in spec.exp_rs],
            SE_R=float(spec.se_r),
            STRIDES=list(spec.strides),
            KERNELS=list(spec.kernels),
            HEAD_W=spec.head_w,
        ),
        MODEL=dict(TYPE="effnet", NUM_CLASSES=spec.num_classes),
        TRAIN=dict(IM_SIZE=spec.resolution),
    )


def pycls_effnet_complexity(spec: AnyNetSpec) -> tuple[int, int, int]:
    """pycls 0.1.1's own count (pycls.core.net.complexity(EffNet)) with cfg.EN set from the spec."""
    import pycls.core.net as net
    from pycls.models.effnet import EffNet

    with pycls_cfg(**en_cfg(spec)):
        cx = net.complexity(EffNet)
    return cx["flops"], cx["params"], cx["acts"]


def zero_se_extra(spec: AnyNetSpec) -> int:
    """What pycls 0.1.1's EffNet adds per block where se_r = 0: it still builds an SE, of squeeze width 0, whose
    second conv (0 -> w_exp, with bias) counts w_exp flops, params and acts. anynet builds no SE there."""
    if spec.se_r:
        return 0
    total, w_in = 0, spec.stem_w
    for d, w, e in zip(spec.depths, spec.widths, spec.exp_rs):
        for i in range(d):
            total += int((w_in if i == 0 else w) * e)
        w_in = w
    return total


def test_efficientnet_b0_is_pyclss_en_b0():
    spec = zoo_spec("EfficientNet-B0")
    assert tuple(complexity(spec)) == EN_B0
    assert pycls_effnet_complexity(spec) == EN_B0


def test_efficientnet_b0_builds_pyclss_model():
    from pycls.models.effnet import EffNet

    spec = zoo_spec("EfficientNet-B0")
    with pycls_cfg(**en_cfg(spec)):
        theirs = EffNet().state_dict()
    ours = AnyNet(spec).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}


MB_SPECS = [
    random_mbconv(
        np.random.default_rng(seed),
        stem_type="simple_stem_in",
        in_channels=3,
        head_w=int(np.random.default_rng(1000 + seed).choice([8, 64, 200])),
    )
    for seed in range(120)
]


def test_random_mbconv_specs_cover_the_space():
    assert {s.se_r for s in MB_SPECS} == {0.0, 0.25}
    assert {k for s in MB_SPECS for k in s.kernels} == {3, 5}
    assert {s.num_stages for s in MB_SPECS} == {1, 2, 3, 4, 5}
    assert {e for s in MB_SPECS for e in s.exp_rs} >= {1.0, 1.5, 6.0}


def test_random_mbconv_counts_equal_pyclss():
    for spec in MB_SPECS:
        extra = zero_se_extra(spec)
        flops, params, acts = pycls_effnet_complexity(spec)
        assert tuple(complexity(spec)) == (flops - extra, params - extra, acts - extra), spec


def test_mbconv_state_dict_lines_up_with_pycls():
    from pycls.models.effnet import EffNet

    spec = next(s for s in MB_SPECS if s.se_r and 1.0 in s.exp_rs and max(s.exp_rs) > 1)
    with pycls_cfg(**en_cfg(spec)):
        theirs = {k: v.shape for k, v in EffNet().state_dict().items()}
    ours = {k: v.shape for k, v in AnyNet(spec).state_dict().items()}
    stages = [k for k in theirs if k.startswith("s")]
    assert stages and {k: ours[k] for k in stages} == {k: theirs[k] for k in stages}
    assert ours == theirs  # the stem (conv, bn) and head (conv, conv_bn, fc) are named as pycls names them too


def test_mbconv_skip_only_where_shapes_match():
    spec = AnyNetSpec(
        block_type="mb_conv",
        depths=[2, 1],
        widths=[32, 48],
        strides=[1, 2],
        exp_rs=[1, 4],
        kernels=[3, 5],
        num_classes=10,
        resolution=16,
    )
    model = AnyNet(spec)
    assert [model.s1.b1.has_skip, model.s1.b2.has_skip, model.s2.b1.has_skip] == [True, True, False]
    assert model.s1.b1.exp is None and model.s2.b1.exp.out_channels == 128
    assert model.s2.b1.dwise.groups == 128 and model.s2.b1.dwise.kernel_size == (5, 5)


RANDOM_ANY = [random_mbconv(np.random.default_rng(seed)) for seed in range(12)]


@pytest.mark.parametrize("spec", RANDOM_ANY, ids=range(len(RANDOM_ANY)))
def test_mbconv_trains_and_counts_as_fvcore(spec):
    from anynet.crosscheck import fvcore_complexity

    assert fvcore_complexity(spec) == complexity(spec)
    model = AnyNet(spec).train().to(memory_format=torch.channels_last)
    x = torch.randn(2, spec.in_channels, spec.resolution, spec.resolution).to(memory_format=torch.channels_last)
    out = model(x)
    assert out.shape == (2, spec.num_classes)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def _columns(specs, name):
    values = [getattr(s, name) for s in specs]
    return None if values[0] is None else tuple(np.array(v) for v in zip(*values))


def test_batch_counts_equal_spec_counts():
    rng = np.random.default_rng(7)
    shared = dict(stem_w=16, se_r=0.25, head_w=64, activation="silu", resolution=32, num_classes=10)
    specs = []
    while len(specs) < 200:
        s = random_mbconv(rng, **shared)
        if s.num_stages == 3:
            specs.append(s.with_fields(strides=[1, 2, 2], stem_type="simple_stem_in", in_channels=3))
    batch = SpecBatch(
        depths=_columns(specs, "depths"),
        widths=_columns(specs, "widths"),
        strides=(1, 2, 2),
        block_type="mb_conv",
        exp_rs=_columns(specs, "exp_rs"),
        kernels=_columns(specs, "kernels"),
        num_classes=10,
        in_channels=3,
        resolution=32,
        **{k: v for k, v in shared.items() if k not in ("resolution", "num_classes")},
    )
    cx = batch_complexity(batch)
    rows = batch.stage_rows(np.arange(len(specs)))
    for j, spec in enumerate(specs):
        assert tuple(complexity(spec)) == (cx.flops[j], cx.params[j], cx.acts[j])
        assert batch.spec(rows[j]) == spec


def test_linear_block_counts_as_pyclss_bottleneck_block():
    import pycls.core.net as net
    from pycls.models.anynet import AnyNet as PyclsAnyNet

    spec = AnyNetSpec(
        depths=[1, 2, 3],
        widths=[32, 64, 128],
        strides=[2, 2, 2],
        bot_muls=[1.0, 0.5, 0.25],
        group_ws=[8, 16, 32],
        se_r=0.25,
        num_classes=10,
        resolution=64,
    )
    anynet = dict(
        STEM_TYPE="simple_stem_in",
        STEM_W=32,
        BLOCK_TYPE="res_bottleneck_block",
        DEPTHS=[1, 2, 3],
        WIDTHS=[32, 64, 128],
        STRIDES=[2, 2, 2],
        BOT_MULS=[1.0, 0.5, 0.25],
        GROUP_WS=[8, 16, 32],
        SE_ON=True,
        SE_R=0.25,
    )
    with pycls_cfg(ANYNET=anynet, MODEL=dict(TYPE="anynet", NUM_CLASSES=10), TRAIN=dict(IM_SIZE=64)):
        cx = net.complexity(PyclsAnyNet)
    linear = spec.with_fields(block_type="res_bottleneck_linear_block")
    assert tuple(complexity(linear)) == tuple(complexity(spec)) == (cx["flops"], cx["params"], cx["acts"])
    assert linear.to_dict() == {**spec.to_dict(), "block_type": "res_bottleneck_linear_block"}
    assert AnyNet(linear).state_dict().keys() == AnyNet(spec).state_dict().keys()


def test_linear_block_output_can_be_negative():
    spec = AnyNetSpec(
        block_type="res_bottleneck_linear_block",
        depths=[1],
        widths=[16],
        strides=[1],
        bot_muls=[1.0],
        group_ws=[4],
        stem_w=16,
        num_classes=10,
        resolution=8,
    )
    torch.manual_seed(0)
    block = AnyNet(spec).eval().s1.b1
    with torch.no_grad():
        block.f.c_bn.bias.fill_(-1.0)  # the last BN shifts down: only a linear block lets the sum stay negative
        out = block(torch.rand(1, 16, 8, 8))
    assert out.min() < 0
    relu = AnyNet(spec.with_fields(block_type="res_bottleneck_block")).eval().s1.b1
    relu.load_state_dict(block.state_dict())
    with torch.no_grad():
        assert relu(torch.rand(1, 16, 8, 8)).min() >= 0


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(block_type="res_bottleneck_block", exp_rs=[4.0]), "exp_rs: applies to mb_conv only"),
        (dict(block_type="mb_conv", exp_rs=[4.0], kernels=[7]), "kernels[0]: must be 3 or 5"),
        (dict(block_type="mb_conv", exp_rs=[0.5], kernels=[3]), "exp_rs[0]: must be a number >= 1"),
        (dict(block_type="mb_conv", kernels=[3]), "exp_rs: required for mb_conv"),
        (dict(block_type="mb_conv", exp_rs=[4.0]), "kernels: required for mb_conv"),
        (
            dict(block_type="mb_conv", exp_rs=[4.0], kernels=[3], bot_muls=[1.0]),
            "bot_muls: applies to res_bottleneck_block only",
        ),
        (dict(block_type="vanilla_block", se_r=0.25), "se_r: applies to res_bottleneck_block only"),
        (dict(block_type="vanilla_block", kernels=[3]), "kernels: applies to mb_conv only"),
        (dict(block_type="vanilla_block", activation="tanh"), "activation: 'tanh' is not one of relu, relu6"),
        (dict(block_type="vanilla_block", head_w=-1), "head_w: must be an integer >= 0"),
        (dict(block_type="mb_conv", exp_rs=[4.0], kernels=[3], se_r=0.01), "se_r: 0.01 gives a block"),
    ],
)
def test_invalid_fields_are_one_line_errors(fields, message):
    with pytest.raises(SpecError) as e:
        AnyNetSpec(depths=[1], widths=[16], strides=[1], **fields)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_defaults_leave_old_dicts_alone():
    spec = zoo_spec("RegNetY-400MF")
    assert "head_w" not in spec.to_dict() and "activation" not in spec.to_dict()
    assert AnyNetSpec.from_dict(spec.to_dict()) == spec
    mb = zoo_spec("MobileNetV2")
    assert AnyNetSpec.from_dict(mb.to_dict()) == mb
    assert mb.to_dict()["activation"] == "relu6" and mb.to_dict()["head_w"] == 1280


def test_activation_modules():
    mb = AnyNet(zoo_spec("MobileNetV2"))
    assert isinstance(mb.stem.af, torch.nn.ReLU6) and isinstance(mb.head.conv_af, torch.nn.ReLU6)
    en = AnyNet(zoo_spec("EfficientNet-B0"))
    assert isinstance(en.s2.b1.dwise_af, torch.nn.SiLU) and isinstance(en.s2.b1.se.f_ex[1], torch.nn.SiLU)
    x = AnyNet(zoo_spec("RegNetX-200MF", resolution=32))
    assert x.s1.b1.f.c_bn.relu and isinstance(x.s1.b1.f.c_af, torch.nn.Identity)


def test_pycls_effnet_export_is_exact():
    from anynet.libraries import check, library_form, library_refusal

    spec = zoo_spec("EfficientNet-B0", resolution=64, num_classes=10)
    form = library_form(spec, "pycls")
    assert (form.form, form.differs) == ("effnet", None)
    checked = check(spec, form)
    assert checked.exact, checked.line()
    assert "swish" in library_form(zoo_spec("MobileNetV2"), "pycls").differs
    assert library_form(spec, "timm").args is None
    assert library_refusal(spec, "timm") == "not exportable to timm: timm's RegNet has no mb_conv block"
    assert library_refusal(zoo_spec("RegNetX-200MF"), "torchvision") is None
    silu = zoo_spec("RegNetX-200MF").with_fields(activation="silu")
    assert "uses silu" in library_refusal(silu, "pycls")
    for library in ("pycls", "timm", "torchvision"):
        assert library_form(silu, library).args is None


@pytest.mark.parametrize("name", ["MobileNetV2", "EfficientNet-B0"])
def test_folded_mbconv_model_gives_the_same_outputs(name):
    from anynet.fold import fold_batchnorm

    torch.manual_seed(0)
    model = AnyNet(zoo_spec(name, resolution=32, num_classes=10)).train()
    with torch.no_grad():
        model(torch.randn(8, 3, 32, 32))  # running statistics that are not the defaults
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected, folded = model(x), fold_batchnorm(model)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fold_batchnorm(model).modules())
    torch.testing.assert_close(folded, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["EfficientNet-B0", "MobileNetV2", "RegNetY-200MF"])
def test_fused_training_is_as_exact_as_aten(name, monkeypatch):
    """Gradients of the fused float32 path against a float64 reference: no further off than ATen's float32 (these
    deep, small-batch nets amplify rounding; a BN bias followed by another BN has a gradient of pure rounding)."""
    from anynet import fused

    if fused.extension() is None:
        pytest.skip("fused kernel not built here")
    res = 64 if name == "MobileNetV2" else 32
    spec = zoo_spec(name, resolution=res, num_classes=10)
    if name == "RegNetY-200MF":
        spec = spec.with_fields(activation="silu")  # the activation module after the fused add
    torch.manual_seed(1)
    x = torch.randn(8, 3, res, res).contiguous(memory_format=torch.channels_last)
    grads = {}
    for side in ("fused", "aten", "float64"):
        torch.manual_seed(0)
        model = AnyNet(spec).train().to(memory_format=torch.channels_last)
        if side != "fused":
            monkeypatch.setattr(fused, "can_fuse", lambda bn, x: False)
        if side == "float64":
            model = model.double()
        model(x.to(next(model.parameters()).dtype)).square().sum().backward()
        grads[side] = [p.grad.double() for p in model.parameters()]
    scale = max(g.abs().max().item() for g in grads["float64"])

    def error(side):
        return max((a - b).abs().max().item() for a, b in zip(grads[side], grads["float64"])) / scale

    assert error("fused") <= 2 * error("aten") + 1e-4
