"""sample(): determinism, the prefix property, distinctness, errors; user spaces in YAML; vectorized counts."""

import json

import numpy as np
import pytest
import yaml

from anynet import SpecError, complexity, quantized_linear
from anynet.spec_batch import batch_complexity
from anynet.regnet import regnet_columns
from anynet.cli import main
from sampler import DesignSpace, SamplingError, get_space, load_space_file, sample, space_names
from sampler.draw import draw_candidates

BAND = (360e6, 400e6)


def test_same_seed_same_specs_and_other_seed_other_specs():
    a = sample("AnyNetX_C", 50, seed=1, flops=BAND)
    assert a.seconds > 0 and a.draws % 16384 == 0 and a.acceptance == 50 / a.draws
    assert a.specs == sample("AnyNetX_C", 50, seed=1, flops=BAND).specs
    assert a.specs != sample("AnyNetX_C", 50, seed=2, flops=BAND).specs


@pytest.mark.parametrize("name", ["AnyNetX_A", "AnyNetX_E", "RegNetY"])
def test_prefix_property(name):
    big = sample(name, 500, seed=4, flops=BAND)
    assert sample(name, 100, seed=4, flops=BAND).specs == big.specs[:100]


def test_duplicates_are_removed_in_a_tiny_space():
    space = get_space("AnyNetX_E-small").with_overrides(
        {"params.d.high": 2, "params.w.high": 16, "params.b.high": 1, "params.g.high": 1}
    )
    # d in {1, 2}, w in {8, 16}, ordered over 3 stages: 4 x 4 = 16 distinct networks at most
    specs = sample(space, 16, seed=0)
    assert len({(s.depths, s.widths) for s in specs}) == 16
    with pytest.raises(SamplingError, match="found 16 of 17 distinct AnyNetX_E-small specs") as e:
        sample(space, 17, seed=0, max_draws=300_000)
    assert e.value.specs == specs.specs


def test_infeasible_band_fails_fast_with_the_range_seen():
    with pytest.raises(
        SamplingError,
        match=r"^0 of 2,097,152 AnyNetX_E draws fell in flops \[1M, 2M\]; "
        r"draws ranged flops 1\d\.\dM-\d",
    ):
        sample("AnyNetX_E", 10, flops=(1e6, 2e6))


def test_regnet_space_with_an_impossible_stage_count():
    # d <= 28, w0 and wa <= 256, wm >= 2: the rule cannot reach 20 stages
    with pytest.raises(SamplingError, match="^0 of 32,768 RegNetX draws were valid RegNets with 20 stages"):
        sample(get_space("RegNetX").with_overrides({"stages": 20}), 1, max_draws=32_768)


def test_open_bands_and_several_bands():
    result = sample("AnyNetX_B-small", 200, seed=3, flops=(None, 5e6), params=(20e3, None))
    assert all(c.flops <= 5e6 and c.params >= 20e3 for c in result.complexities)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n=0), "n: must be an integer >= 1, got 0"),
        (dict(n=5, seed=-1), "seed: must be an integer >= 0"),
        (dict(n=5, flops=(4e8, 3e8)), "flops: low 4e\\+08 is above high 3e\\+08"),
        (dict(n=5, acts=(1,)), "acts: must be a \\(low, high\\) pair"),
        (dict(n=5, params=("a", None)), "params: band sides must be numbers"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(SpecError, match=message):
        sample("AnyNetX_A-small", **kwargs)


def test_unknown_space_lists_the_builtins():
    with pytest.raises(SpecError, match="space: unknown space 'AnyNetX_F'; built-in spaces: AnyNetX_A"):
        sample("AnyNetX_F", 1)


@pytest.mark.parametrize("name", space_names())
def test_builtin_spaces_round_trip_through_their_dict(name):
    space = get_space(name)
    assert DesignSpace.from_dict(yaml.safe_load(yaml.safe_dump(space.to_dict()))) == space


USER_SPACE = """
name: ResNetLike
description: the ICCV 2019 paper's R space, small
kind: anynet
stages: 3
stem_type: res_stem_cifar
stem_w: 16
block_type: res_basic_block
strides: [1, 2, 2]
resolution: 32
num_classes: 10
params:
  d: {dist: uniform, low: 1, high: 6, q: 1}
  w: {dist: choice, values: [16, 24, 32, 48, 64, 96, 128]}
non_decreasing: [w]
"""


def test_user_space_from_yaml(tmp_path):
    path = tmp_path / "resnetlike.yaml"
    path.write_text(USER_SPACE)
    result = sample(str(path), 300, seed=0, flops=(10e6, 60e6))
    for spec, cx in zip(result, result.complexities):
        assert spec.block_type == "res_basic_block" and list(spec.widths) == sorted(spec.widths)
        assert cx == complexity(spec)
    frame = result.frame()
    assert {"id", "space", "d", "d1", "w3", "flops", "params", "acts"} <= set(frame.columns)
    assert "b1" not in frame.columns and (frame.space == "ResNetLike").all()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "other"}, "kind: 'other' is not one of anynet, regnet"),
        ({"params": {"d": {"dist": "uniform", "low": 1, "high": 2, "q": 1}}}, "params.w: required"),
        ({"params.x": {"dist": "uniform", "low": 1, "high": 2}}, "params.x: unknown parameter for a anynet space"),
        (
            {"params.b": {"dist": "choice", "values": [1]}},
            "params.b: applies to res_bottleneck_block, res_bottleneck_linear_block only",
        ),
        ({"params.w.shared": "yes"}, "params.w.shared: must be true or false"),
        ({"params.d.dist": "choice"}, "params.d.values: must be a list"),
        ({"non_decreasing": ["g"]}, "non_decreasing: 'g' is not one of the space's per-stage parameters"),
        ({"strides": [1, 2]}, r"strides: must have one value per stage \(3\)"),
        ({"colour": "red"}, "colour: unknown field; allowed fields: name"),
        ({"params.d.low": 0}, "params.d: values must be integers >= 1; the distribution gives 0"),
    ],
)
def test_bad_user_spaces_name_the_field(tmp_path, change, message):
    data = yaml.safe_load(USER_SPACE)
    for key, value in change.items():
        node, *path = key.split(".")
        if path:
            target = data[node]
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        else:
            data[node] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=message):
        load_space_file(path)


def test_regnet_and_bottleneck_value_checks():
    base = get_space("RegNetX")
    with pytest.raises(SpecError, match="params.w0: values must be multiples of 8"):
        base.with_overrides({"params.w0.q": 4, "params.w0.low": 4})
    with pytest.raises(SpecError, match="params.wm: values must be > 1"):
        base.with_overrides({"params.wm.low": 0.5})
    with pytest.raises(SpecError, match="params.b: bottleneck ratios must be powers of two"):
        get_space("AnyNetX_A").with_overrides({"params.b": {"dist": "choice", "values": [1, 3]}})
    with pytest.raises(SpecError, match="params.g.shared: regnet parameters are single values already"):
        base.with_overrides({"params.g.shared": True})


def test_overrides_change_scale_and_keep_the_stride_pattern():
    space = get_space("AnyNetX_D-small").with_overrides({"stages": 4, "resolution": 32, "in_channels": 3})
    assert space.strides == (1, 2, 2, 2) and space.resolution == 32
    spec = sample(space, 1, seed=0)[0]
    assert spec.num_stages == 4 and spec.in_channels == 3


@pytest.mark.parametrize("name", ["AnyNetX_A", "AnyNetX_C-small", "RegNetY", "RegNetX-small"])
def test_vectorized_count_equals_scalar_on_thousands_of_candidates(name):
    cand = draw_candidates(get_space(name), np.random.default_rng(9), 3000)
    cx = batch_complexity(cand.batch)
    assert len(cand.batch) > 200
    rows = cand.rows(np.arange(len(cand.batch)))
    for j, row in enumerate(rows):
        assert tuple(complexity(cand.spec(j, row))) == (cx.flops[j], cx.params[j], cx.acts[j])


def test_vectorized_regnet_rule_equals_scalar():
    rng = np.random.default_rng(0)
    n = 5000
    d, w0 = rng.integers(1, 29, n), 8.0 * rng.integers(1, 33, n)
    wa, wm = np.round(rng.uniform(0, 256, n), 1), np.round(rng.uniform(1.5, 3, n), 3)
    valid, ws, ds = regnet_columns(d, w0, wa, wm, num_stages=4)
    rows = iter(zip(ws.tolist(), ds.tolist()))
    for i in range(n):
        rule = quantized_linear(int(d[i]), w0[i], wa[i], wm[i])
        ok = len(rule.widths) == max(rule.ss) + 1 == 4
        assert ok == valid[i]
        if ok:
            assert next(rows) == (list(rule.widths), list(rule.depths))
    assert 0.05 < valid.mean() < 0.95


def test_frame_for_regnets():
    frame = sample("RegNetX-small", 20, seed=0).frame()
    assert {"w0", "wa", "wm", "g", "b", "d", "d1", "w1", "b1", "g1", "flops"} <= set(frame.columns)
    assert (frame.d == frame[["d1", "d2", "d3"]].sum(axis=1)).all()


def test_cli_sample_writes_jsonl(tmp_path, capsys):
    out = tmp_path / "a.jsonl"
    code = main(
        ["sample", "--space", "AnyNetX_A", "--n", "50", "--seed", "3", "--flops", "360M:0.4G", "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "wrote 50 AnyNetX_A specs" in printed and "acceptance" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == list(range(50))
    assert all(r["space"] == "AnyNetX_A" and 360e6 <= r["flops"] <= 400e6 for r in rows)
    expected = sample("AnyNetX_A", 50, seed=3, flops=BAND)
    assert rows == expected.records()


def test_cli_sample_overrides_and_regnet_rows(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    code = main(
        [
            "sample",
            "--space",
            "regnety-small",
            "--n",
            "5",
            "--resolution",
            "32",
            "--in-channels",
            "3",
            "--set",
            "params.d.high=10",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["resolution"] == 32 and r["in_channels"] == 3 and r["regnet"]["depth"] <= 10 for r in rows)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--space", "AnyNetX_A", "--flops", "400M", "--out", "x"], "--flops: '400M' must be LO:HI"),
        (["--space", "AnyNetX_A", "--flops", "1x:2", "--out", "x"], "--flops: '1x' is not a number"),
        (["--space", "AnyNetX_A", "--set", "stem_w", "--out", "x"], "--set: 'stem_w' must be KEY=VALUE"),
        (["--space", "AnyNetX_A", "--n", "5", "--flops", "1M:2M", "--out", "x"], "0 of 2,097,152 AnyNetX_A draws"),
        (["--n", "5"], "--space: required"),
    ],
)
def test_cli_sample_errors_are_one_line(capsys, argv, message):
    code = main(["sample", *argv])
    err = capsys.readouterr().err
    assert code == 1 and message in err and err.count("\n") == 1


def test_cli_sample_list(capsys):
    assert main(["sample", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(f"{name}: " in out for name in space_names())


def test_cli_sample_without_out_prints_json_lines(capsys):
    assert main(["sample", "--space", "AnyNetX_A-small", "--n", "5", "--flops", "2M:6M"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5 and all(2e6 <= r["flops"] <= 6e6 for r in rows)
