"""Configs out of sweep folders: the network each format describes, fitted rules that keep the studied topology,
refusals and annotations naming what a library cannot express, the --python snippets, and weight names.
(Building the exports in pycls, timm and torchvision themselves: tests/test_export_libraries.py.)"""

import json
import math

import numpy as np
import pytest
import torch
import yaml

from analysis import AnalysisError
from analysis.export import export, regnet_forms
from anynet.cli import main
from anynet.convert import convert_state_dict, library_name, load_weights
from anynet.errors import AnynetError
from anynet.files import load_spec
from anynet.libraries import library_form, timm_stages
from anynet.counting import complexity
from anynet.model import AnyNet
from anynet.spec import AnyNetSpec
from anynet.zoo import zoo_spec
from sampler import sample
from sweeps.config import sweep_from_dict
from sweeps.plan import prepare
from sweeps.store import SweepFolder
from planted import ok_record

CIFAR = {"in_channels": 3, "resolution": 32}


def sweep_folder(tmp_path, space, ok=6, name="s", overrides=None):
    """A sweep folder with its real plan and made-up errors for the first `ok` models (no training)."""
    config = sweep_from_dict(
        {
            "name": name,
            "space": space,
            "n": 8,
            "dataset": "synthetic",
            "out_dir": str(tmp_path / name),
            "overrides": overrides or {},
        }
    )
    folder = SweepFolder(config.out_dir)
    _, plan = prepare(config, folder)
    errors = np.linspace(20, 40, ok)
    for row, error in zip(plan, errors):
        folder.append(ok_record(row, error=float(error)))
    return folder.path, plan


def test_sampled_regnets_round_trip_through_anynet_info(tmp_path, capsys):
    path, plan = sweep_folder(tmp_path, "RegNetX-small")
    configs, text = export(path, top=3, fmt="yaml")
    assert [c["trial"] for c in configs] == [0, 1, 2] and all(c["source"] == "sampled" for c in configs)
    out = tmp_path / "best.yaml"
    out.write_text(text)
    spec = load_spec(out)  # anynet info reads an export file: its first config
    row = plan[0]
    assert spec == row.spec  # the studied network itself: stages, strides, stem, channels, classes
    assert complexity(spec) == row.complexity
    assert main(["info", str(out)]) == 0 and "RegNet: depth" in capsys.readouterr().out
    loaded = yaml.safe_load(text)["configs"][1]
    assert loaded["measured"]["error"] == 24.0 and loaded["sweep"] == "s" and loaded["resolution"] == 28
    assert loaded["libraries"]["torchvision"] == "exact" and "4 stages" in loaded["libraries"]["timm"]


def test_anynet_models_export_their_fitted_rule_with_the_studied_stages_and_strides(tmp_path):
    path, plan = sweep_folder(tmp_path, "AnyNetX_E-small")
    configs, text = export(path, top=2, fmt="json")
    for c, row in zip(json.loads(text)["configs"], plan):
        assert c["source"] == "fitted" and 0 <= c["e_fit"] < 2 and c["note"] is None
        assert set(c["regnet"]) == {"depth", "w0", "wa", "wm", "group_w", "bot_mul", "q"}
        assert c["strides"] == list(row.spec.strides) == [1, 2, 2] and len(c["stage_widths"]) == 3
        assert c["regnet"]["depth"] == sum(row.spec.depths)
        assert c["regnet_complexity"] == complexity(AnyNetSpec.from_dict(c["spec"]))._asdict()


def anynet_specs():
    """AnyNet models of every kind: AnyNetX_A..E at small (3 stages, strides 1-2-2) and ImageNet scale."""
    specs = []
    for space in ("A", "B", "C", "D", "E"):
        specs += sample(f"AnyNetX_{space}-small", 8, seed=1).specs
        specs += sample(f"AnyNetX_{space}", 4, seed=1, params=(None, 5e6)).specs
    return specs


def test_fitted_rules_keep_the_stage_count_and_the_total_stride():
    specs = anynet_specs()
    forms = regnet_forms(specs)
    fitted = 0
    for spec, form in zip(specs, forms):
        if isinstance(form, str):  # no valid rule with that many stages: said, and exported as studied
            assert form.startswith(f"no valid RegNet rule has {spec.num_stages} stages") or "no valid" in form
            continue
        fitted += 1
        assert form.source == "fitted" and math.isfinite(form.e_fit)
        assert form.spec.num_stages == spec.num_stages and form.spec.strides == spec.strides
        assert form.spec.regnet.depth == sum(spec.depths)
        assert all(
            getattr(form.spec, key) == getattr(spec, key)
            for key in ("in_channels", "num_classes", "stem_type", "stem_w")
        )
    assert fitted >= 0.9 * len(specs)


def test_a_model_without_a_rule_of_its_stage_count_is_exported_as_studied(tmp_path):
    spec = zoo_spec("RegNetX-200MF").with_fields(
        regnet=None,
        depths=[1] * 8,
        widths=[8 * 2**i for i in range(8)],
        strides=[2] * 8,
        bot_muls=[1.0] * 8,
        group_ws=[8] * 8,
    )  # a new stage in every block: the rule's log cannot keep up
    assert regnet_forms([spec])[0] == "no valid RegNet rule has 8 stages at depth 8"
    basic = spec.with_fields(block_type="res_basic_block", bot_muls=None, group_ws=None)
    assert "res_basic_block models have no RegNet form" in regnet_forms([basic])[0]


def test_pycls_uses_its_regnet_form_only_where_it_rebuilds_the_same_network(tmp_path):
    imagenet = zoo_spec("RegNetY-400MF")
    form = library_form(imagenet, "pycls")
    assert form.exact and form.form == "regnet" and form.args["REGNET"]["STRIDE"] == 2
    assert form.args["REGNET"]["SE_ON"] is True and form.args["MODEL"] == {"TYPE": "regnet", "NUM_CLASSES": 1000}
    assert library_form(imagenet, "pycls", explicit=True).form == "anynet"
    cifar = sample("RegNetX-small", 1, seed=0).specs[0].with_fields(**CIFAR)  # strides 1-2-2: one STRIDE cannot
    form = library_form(cifar, "pycls")
    assert form.exact and form.form == "anynet" and form.args["ANYNET"]["STRIDES"] == [1, 2, 2]
    assert form.args["ANYNET"]["STEM_TYPE"] == "res_stem_cifar" and form.args["TRAIN"] == {"IM_SIZE": 32}
    gray = library_form(cifar.with_fields(in_channels=1), "pycls")
    assert gray.differs == "pycls builds a 3-channel stem; the model takes 1 input channel"


def test_torchvision_gets_explicit_block_params_stem_and_classes():
    spec = sample("RegNetY-small", 1, seed=0).specs[0]
    form = library_form(spec, "torchvision")
    assert form.exact and form.args["block_params"] == {
        "depths": list(spec.depths),
        "widths": list(spec.widths),
        "group_widths": list(spec.group_ws),
        "bottleneck_multipliers": list(spec.bot_muls),
        "strides": [1, 2, 2],
        "se_ratio": 0.25,
    }
    assert form.args["stem"] == {"type": "res_stem_cifar", "in_channels": 1} and form.args["num_classes"] == 10
    assert "stem_type=stem" in form.python and form.args["stem_width"] == 16
    plain = library_form(zoo_spec("RegNetX-400MF"), "torchvision")
    assert plain.args["stem"] is None and "stem_type" not in plain.python
    basic = AnyNetSpec(block_type="res_basic_block", depths=[1], widths=[16], strides=[1])
    assert library_form(basic, "torchvision").args is None


def test_timm_gets_channels_and_classes_and_refuses_what_it_cannot_build():
    spec = zoo_spec("RegNetX-400MF", in_channels=1, num_classes=10)
    form = library_form(spec, "timm")
    assert form.exact and form.args["in_chans"] == 1 and form.args["num_classes"] == 10
    assert form.args["cfg"]["w0"] == 24 and form.args["cfg"]["group_size"] == 16
    small = library_form(sample("RegNetX-small", 1, seed=0).specs[0], "timm")
    assert small.args is None and small.differs == "timm's RegNet builds exactly 4 stages; the model has 3"
    cifar_stem = library_form(spec.with_fields(stem_type="res_stem_cifar", strides=(1, 2, 2, 2)), "timm")
    assert cifar_stem.differs == (
        "timm's stem is simple_stem_in (3x3 conv, stride 2); the model has res_stem_cifar; "
        "timm uses stride 2 in every stage; the model has strides 1-2-2-2"
    )
    r = spec.regnet
    assert timm_stages(r.depth, r.w0, r.wa, r.wm, r.group_w, r.bot_mul) == (
        list(spec.depths),
        list(spec.widths),
        list(spec.group_ws),
    )


def test_formats_refuse_in_one_line_unless_approximate(tmp_path, capsys):
    path, _ = sweep_folder(tmp_path, "RegNetY-small")  # 1 channel, 3 stages, strides 1-2-2
    with pytest.raises(AnalysisError) as refused:
        export(path, 1, "pycls")
    assert str(refused.value) == (
        "--format pycls: s-0: pycls builds a 3-channel stem; the model takes 1 input channel "
        "(exact in torchvision and anynet json/yaml; --approximate exports it anyway)"
    )
    _, text = export(path, 1, "pycls", approximate=True)
    assert (
        text.splitlines()[1] == "# NOT exact in pycls: pycls builds a 3-channel stem; the model takes 1 input channel"
    )
    assert yaml.safe_load(text)["ANYNET"]["STRIDES"] == [1, 2, 2]
    with pytest.raises(
        AnalysisError,
        match="--format timm: s-0: timm's RegNet builds exactly 4 stages; the model has "
        r"3 \(exact in torchvision and anynet json/yaml\)$",
    ):
        export(path, 1, "timm", approximate=True)
    tv = json.loads(export(path, 2, "torchvision")[1])
    assert [c["differs"] for c in tv] == [None, None] and tv[0]["block_params"]["strides"] == [1, 2, 2]
    assert main(["export", str(path), "--format", "pycls"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pycls builds a 3-channel stem" in err
    assert main(["export", str(path), "--format", "pycls", "--approximate"]) == 0
    assert "note: s-0: NOT exact in pycls" in capsys.readouterr().err


def test_python_snippets_build_the_model_and_are_separated(tmp_path):
    path, plan = sweep_folder(tmp_path, "AnyNetX_C-small")
    configs, text = export(path, 3, "yaml", python=True, as_studied=True)
    snippets = text.split("\n# ---\n")
    assert len(snippets) == 3 and all(c["source"] == "studied" for c in configs)
    for snippet, row in zip(snippets, plan):
        scope = {}
        exec(snippet, scope)
        assert isinstance(scope["model"], AnyNet) and scope["model"].spec == row.spec
    for fmt in ("torchvision", "pycls"):
        text = export(path, 3, fmt, python=True, approximate=True)[1]
        for snippet in text.split("\n# ---\n"):
            compile(snippet, fmt, "exec")
            assert snippet.startswith("# s-") and "\nmodel = " in snippet


def test_cli_summaries_say_which_network_was_exported(tmp_path, capsys):
    path, _ = sweep_folder(tmp_path, "AnyNetX_E-small")
    out = tmp_path / "best.yaml"
    assert main(["export", str(path), "--top", "2", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("s-0: fitted RegNet d=") and ", 3 stages, strides 1-2-2, e_fit " in lines[0]
    assert lines[-1] == f"wrote 2 config(s) to {out}"
    assert main(["export", str(path), "--as-studied", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("s-0: as studied, 3 stages, strides 1-2-2\n")
    assert main(["export"]) == 1 and "DIR: a sweep folder is required" in capsys.readouterr().err


def test_clear_errors(tmp_path):
    path, _ = sweep_folder(tmp_path, "RegNetX-small", ok=2)
    with pytest.raises(AnalysisError, match="--top: 5 is not between 1 and the 2 models that finished ok"):
        export(path, 5)
    with pytest.raises(AnalysisError, match="--format: 'onnx' is not one of json, yaml, pycls, timm, torchvision"):
        export(path, 1, "onnx")
    empty, _ = sweep_folder(tmp_path, "RegNetX-small", ok=0, name="empty")
    with pytest.raises(AnalysisError, match="no finished models recorded yet|no model finished ok"):
        export(empty, 1)


def test_weight_names_for_timm_and_torchvision():
    assert library_name("s2.b3.f.b_bn.running_var", "timm") == "s2.b3.conv2.bn.running_var"
    assert library_name("s2.b1.proj.weight", "torchvision") == "trunk_output.block2.block2-0.proj.0.weight"
    assert library_name("s1.b2.f.se.f_ex.2.bias", "torchvision") == "trunk_output.block1.block1-1.f.se.fc2.bias"
    assert library_name("head.fc.weight", "torchvision") == "fc.weight"
    assert library_name("stem.bn.weight", "pycls") == "stem.bn.weight"
    state = AnyNet(zoo_spec("RegNetY-200MF")).state_dict()
    assert len(convert_state_dict(state, "timm")) == len(state) == len(set(convert_state_dict(state, "torchvision")))
    with pytest.raises(AnynetError, match="'s1.b1.f.a.bias' is not a name of anynet's X/Y-block RegNet"):
        library_name("s1.b1.f.a.bias", "timm")
    with pytest.raises(AnynetError, match="--format: weights convert to pycls, timm, torchvision, not 'yaml'"):
        library_name("stem.conv.weight", "yaml")


def test_weights_from_a_pycls_checkpoint_and_through_the_cli(tmp_path, capsys):
    state = AnyNet(zoo_spec("RegNetX-200MF")).state_dict()
    torch.save({"epoch": 3, "model_state": state}, tmp_path / "pycls.pyth")  # pycls's checkpoint layout
    assert load_weights(tmp_path / "pycls.pyth").keys() == state.keys()
    assert (
        main(
            [
                "export",
                "--weights",
                str(tmp_path / "pycls.pyth"),
                "--format",
                "timm",
                "--out",
                str(tmp_path / "timm.pt"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == f"wrote {len(state)} tensors named for timm to {tmp_path / 'timm.pt'}\n"
    assert "s1.b1.conv1.conv.weight" in torch.load(tmp_path / "timm.pt")
    assert main(["export", "--weights", str(tmp_path / "pycls.pyth"), "--format", "timm"]) == 1
    assert "--out: required with --weights" in capsys.readouterr().err
    (tmp_path / "bad.pt").write_text("not torch")
    assert main(["export", "--weights", str(tmp_path / "bad.pt"), "--format", "timm", "--out", "x.pt"]) == 1
    assert "not a file torch.load reads" in capsys.readouterr().err
