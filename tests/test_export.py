"""RegNet configs out of sweep folders: formats, the round trip through anynet info, and refusals."""

import json

import numpy as np
import pytest
import yaml

from analysis import AnalysisError
from analysis.export import export
from anynet.cli import main
from anynet.files import load_spec
from anynet.model import complexity
from sweeps.config import sweep_from_dict
from sweeps.plan import prepare
from sweeps.store import SweepFolder


def sweep_folder(tmp_path, space, ok=6, name="s"):
    """A sweep folder with its real plan and made-up errors for the first `ok` models (no training)."""
    config = sweep_from_dict({"name": name, "space": space, "n": 8, "dataset": "synthetic",
                              "out_dir": str(tmp_path / name)})  # fmt: skip
    folder = SweepFolder(config.out_dir)
    _, plan = prepare(config, folder)
    errors = np.linspace(20, 40, ok)
    for row, error in zip(plan, errors):
        folder.append({**row, "status": "ok", "attempts": 1, "result": {"error": float(error)}})
    return folder.path, plan


def test_sampled_regnets_round_trip_through_anynet_info(tmp_path, capsys):
    path, plan = sweep_folder(tmp_path, "RegNetX-small")
    configs, text = export(path, top=3, fmt="yaml")
    assert [c["trial"] for c in configs] == [0, 1, 2] and all(c["source"] == "sampled" for c in configs)
    out = tmp_path / "best.yaml"
    out.write_text(text)
    spec = load_spec(out)  # anynet info reads an export file: its first config
    row = plan[0]
    assert list(spec.depths) == row["spec"]["depths"] and list(spec.widths) == row["spec"]["widths"]
    assert complexity(spec)._asdict() == {k: row[k] for k in ("flops", "params", "acts")}
    assert main(["info", str(out)]) == 0 and "RegNet: depth" in capsys.readouterr().out
    loaded = yaml.safe_load(text)["configs"][1]
    assert loaded["measured"]["error"] == 24.0 and loaded["sweep"] == "s" and loaded["resolution"] == 28


def test_anynet_models_export_their_fitted_rule(tmp_path):
    path, _ = sweep_folder(tmp_path, "AnyNetX_E-small")
    configs, text = export(path, top=2, fmt="json")
    for c in json.loads(text)["configs"]:
        assert c["source"] == "fitted" and 0 <= c["e_fit"] < 2
        assert set(c["regnet"]) == {"depth", "w0", "wa", "wm", "group_w", "bot_mul", "q"}
        assert c["regnet_complexity"]["flops"] > 0 and c["measured"]["flops"] > 0  # both reported


def test_foreign_formats_carry_their_keys(tmp_path):
    path, _ = sweep_folder(tmp_path, "RegNetY-small")
    pycls = yaml.safe_load(export(path, 1, "pycls")[1].split("\n", 1)[1])
    assert pycls["MODEL"] == {"TYPE": "regnet", "NUM_CLASSES": 10} and pycls["TRAIN"] == {"IM_SIZE": 28}
    assert set(pycls["REGNET"]) == {"DEPTH", "W0", "WA", "WM", "GROUP_W", "BOT_MUL", "SE_ON", "SE_R", "STEM_TYPE",
                                    "STEM_W"} and pycls["REGNET"]["SE_ON"] is True  # fmt: skip
    tv = json.loads(export(path, 1, "torchvision")[1])[0]
    assert {"depth", "w_0", "w_a", "w_m", "group_width", "bottleneck_multiplier", "se_ratio"} <= set(tv)
    with pytest.raises(AnalysisError, match="--format timm: s-0 has 3 stages; timm's RegNet always builds 4"):
        export(path, 1, "timm")
    four, _ = sweep_folder(tmp_path, "RegNetX", name="big")
    timm = json.loads(export(four, 1, "timm")[1])[0]
    assert set(timm) == {"depth", "w0", "wa", "wm", "group_size", "bottle_ratio", "se_ratio", "stem_width"}


def test_clear_errors(tmp_path):
    path, _ = sweep_folder(tmp_path, "RegNetX-small", ok=2)
    with pytest.raises(AnalysisError, match="--top: 5 is not between 1 and the 2 models that finished ok"):
        export(path, 5)
    with pytest.raises(AnalysisError, match="--format: 'onnx' is not one of json, yaml, pycls, timm, torchvision"):
        export(path, 1, "onnx")
    empty, _ = sweep_folder(tmp_path, "RegNetX-small", ok=0, name="empty")
    with pytest.raises(AnalysisError, match="no finished models recorded yet|no model finished ok"):
        export(empty, 1)
