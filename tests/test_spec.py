"""Spec validation, the compatibility error, and round trips through dict, YAML and JSON."""

import json

import pytest
import yaml

from anynet import AnyNetSpec, SpecError, load_spec, save_spec, spec_from_text, spec_to_text, zoo_spec

X = dict(depths=[1, 2], widths=[32, 64], strides=[2, 2], bot_muls=[1.0, 1.0], group_ws=[8, 8])
R = dict(block_type="res_basic_block", depths=[2, 2], widths=[16, 32], strides=[1, 2])


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(X, stem_type="foo"), "stem_type: 'foo' is not one of simple_stem_in, res_stem_cifar, res_stem_in"),
        (dict(X, block_type="x"), "block_type: 'x' is not one of res_bottleneck_block, res_basic_block"),
        (dict(X, depths=[]), "depths: must list at least one stage"),
        (dict(X, depths=3), "depths: must be a list, one value per stage, got 3"),
        (dict(X, widths=[32]), r"widths: must have one value per stage \(2\), got 1"),
        (dict(X, widths=[32, -64]), r"widths\[1\]: must be an integer >= 1, got -64"),
        (dict(X, strides=[2, 1.5]), r"strides\[1\]: must be an integer >= 1, got 1.5"),
        (dict(X, depths=[1, True]), r"depths\[1\]: must be an integer >= 1, got True"),
        (dict(X, bot_muls=[1.0, 0]), r"bot_muls\[1\]: must be a number > 0, got 0"),
        (dict(X, bot_muls=[1.0, 1.5]), r"bot_muls\[1\]: must be at most 1 or a whole number, got 1.5"),
        (dict(X, group_ws=None), "group_ws: required for res_bottleneck_block"),
        (dict(X, se_r=-0.1), "se_r: must be a number >= 0, got -0.1"),
        (dict(X, stem_w=0), "stem_w: must be an integer >= 1, got 0"),
        (dict(X, num_classes=0), "num_classes: must be an integer >= 1, got 0"),
        (dict(X, in_channels="3"), "in_channels: must be an integer >= 1, got '3'"),
        (dict(X, resolution=None), "resolution: must be an integer >= 1, got None"),
        (dict(R, bot_muls=[1.0, 1.0]), "bot_muls: applies to res_bottleneck_block only"),
        (dict(R, se_r=0.25), "se_r: applies to res_bottleneck_block only"),
        (dict(X, stem_w=1, se_r=0.25), r"se_r: 0.25 gives stage 1 a squeeze-excite width of round\(1 \* 0.25\) = 0"),
    ],
)
def test_bad_fields_name_the_field(fields, message):
    with pytest.raises(SpecError, match=message):
        AnyNetSpec(**fields)


def test_incompatible_spec_proposes_adjusted_values():
    with pytest.raises(SpecError) as e:
        AnyNetSpec(**dict(X, widths=[24, 64], group_ws=[16, 8]))
    text = str(e.value)
    assert text.startswith("widths/group_ws: stage 1 (width 24, bot_mul 1, group width 16)")
    assert "adjusted values: widths=[32, 64], group_ws=[16, 8]" in text
    AnyNetSpec(**dict(X, widths=[32, 64], group_ws=[16, 8]))  # the proposal is accepted


def test_lists_become_tuples_and_integral_floats_ints():
    spec = AnyNetSpec(**dict(X, widths=[32.0, 64]))
    assert spec.widths == (32, 64) and isinstance(spec.widths[0], int)
    assert spec.inner_widths == (32, 64) and spec.groups == (4, 8)


@pytest.mark.parametrize("name", ["RegNetY-400MF", "ResNet-56", "ResNeXt-50-32x4d"])
def test_dict_round_trip(name):
    spec = zoo_spec(name)
    assert AnyNetSpec.from_dict(spec.to_dict()) == spec
    assert AnyNetSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_dict_uses_pycls_keys():
    d = zoo_spec("RegNetX-200MF").to_dict()
    keys = "stem_type stem_w block_type depths widths strides bot_muls group_ws se_r num_classes in_channels resolution"
    assert list(d) == [*keys.split(), "regnet"]
    assert d["regnet"] == dict(depth=13, w0=24, wa=36.44, wm=2.49, group_w=8, bot_mul=1.0, q=8)
    assert "bot_muls" not in zoo_spec("ResNet-20").to_dict()


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_file_round_trip(tmp_path, suffix):
    spec = zoo_spec("RegNetY-200MF", resolution=28, in_channels=1, num_classes=10)
    path = tmp_path / f"model{suffix}"
    save_spec(spec, path)
    assert load_spec(path) == spec
    parsed = json.loads(path.read_text()) if suffix == ".json" else yaml.safe_load(path.read_text())
    assert parsed["widths"] == [24, 56, 152, 368]


def test_regnet_parameters_alone_generate_the_stages():
    spec = spec_from_text("regnet: {depth: 22, w0: 24, wa: 24.48, wm: 2.54, group_w: 16}\n")
    assert spec == zoo_spec("RegNetX-400MF")


def test_regnet_parameters_must_agree_with_stages():
    d = zoo_spec("RegNetX-400MF").to_dict()
    d["widths"] = [32, 64, 160, 400]
    with pytest.raises(SpecError, match=r"widths: the RegNet parameters .* generate widths=\[32, 64, 160, 384\]"):
        AnyNetSpec.from_dict(d)


@pytest.mark.parametrize(
    "text, message",
    [
        ("depths: [1]\nwidth: [8]\n", "spec: width: unknown field; allowed fields: stem_type"),
        ("- 1\n- 2\n", "spec: spec: must be a mapping"),
        ("depths: [1\n", "spec: not valid YAML or JSON at line 2"),
        ("depths: [1]\nstrides: [1]\n", "spec: widths: required"),
        ("regnet: {depth: 10, w0: 24}\n", "spec: regnet.wa: required"),
        ("regnet: {depth: 10, w0: 24, wa: 8, wm: 2, group_w: 8, gw: 1}\n", "spec: regnet.gw: unknown field"),
        ("regnet: {depth: 10, w0: 24, wa: 8, wm: 2, group_w: 8}\nblock_type: vanilla_block\n", "block_type: a RegNet"),
    ],
)
def test_bad_text_names_the_field(text, message):
    with pytest.raises(SpecError, match=message):
        spec_from_text(text)


def test_missing_file_and_bad_extension(tmp_path):
    with pytest.raises(SpecError, match="nope.yaml: cannot read spec file"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="extension must be one of .yaml, .yml, .json"):
        save_spec(zoo_spec("ResNet-20"), tmp_path / "model.txt")
    with pytest.raises(SpecError, match="format: 'toml' is not one of yaml, json"):
        spec_to_text(zoo_spec("ResNet-20"), "toml")


def test_zoo_names_are_case_insensitive_and_overridable():
    assert zoo_spec("regnetx-400mf") == zoo_spec("RegNetX-400MF") == zoo_spec("regnetx_400mf")
    spec = zoo_spec("RegNetX-400MF", resolution=32, num_classes=10, in_channels=1)
    assert (spec.resolution, spec.num_classes, spec.in_channels) == (32, 10, 1)
    with pytest.raises(SpecError, match="model: unknown name 'RegNetZ'; known models: RegNetX-200MF"):
        zoo_spec("RegNetZ")
