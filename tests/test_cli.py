"""`anynet info` through main() and through the installed console command."""

import json
import shutil
import subprocess

import pytest

from anynet import save_spec, zoo_spec
from anynet.cli import SUBCOMMANDS, main

JSON_KEYS = {
    "flops",
    "params",
    "acts",
    "depths",
    "widths",
    "strides",
    "bot_muls",
    "group_ws",
    "stem_type",
    "stem_w",
    "block_type",
    "se_r",
    "num_classes",
    "resolution",
}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_table(capsys):
    code, out, err = run(capsys, "info", "regnetx-400mf")
    assert code == 0 and err == ""
    assert "RegNet: depth 22, w0 24, wa 24.48, wm 2.54, group_w 16" in out
    assert "flops 397.68M (397,678,568), params 5.16M (5,157,512), acts 3.14M (3,143,272)" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("stem", "s1", "s4", "head"))]
    assert rows[1][:7] == ["s1", "1", "32", "2", "1", "16", "2"]  # stage, depth, width, stride, b, g, groups
    assert rows[2][:8] == ["s4", "12", "384", "2", "1", "16", "24", "7x7"]


def test_info_json(capsys):
    code, out, _ = run(capsys, "info", "RegNetY-200MF", "--json")
    data = json.loads(out)
    assert JSON_KEYS <= set(data)
    assert (data["flops"], data["params"], data["acts"]) == (199_519_076, 3_162_996, 2_168_052)
    assert data["se_r"] == 0.25 and data["regnet"]["w0"] == 24


def test_info_json_for_basic_blocks_keeps_every_key(capsys):
    data = json.loads(run(capsys, "info", "ResNet-56", "--json")[1])
    assert JSON_KEYS <= set(data) and data["bot_muls"] is None and data["flops"] == 125_747_850


def test_info_overrides(capsys):
    data = json.loads(
        run(capsys, "info", "RegNetX-200MF", "--resolution", "28", "--classes", "10", "--in-channels", "1", "--json")[1]
    )
    assert (data["resolution"], data["num_classes"], data["in_channels"]) == (28, 10, 1)
    assert data["flops"] < 5_000_000


def test_info_reads_spec_files(capsys, tmp_path):
    path = tmp_path / "net.json"
    save_spec(zoo_spec("ResNeXt-50-32x4d"), path)
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0 and "params 25.03M (25,028,904)" in out


def test_info_fvcore_cross_check(capsys):
    code, out, _ = run(capsys, "info", "ResNet-20", "--fvcore")
    assert code == 0 and "fvcore: flops 40,813,194, params 272,474, acts 200,714 (equal)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["info", "RegNetZ-1GF"], "anynet info: error: model: unknown name 'RegNetZ-1GF'; known models: RegNetX-200MF"),
        (["info", "missing.yaml"], "anynet info: error: missing.yaml: cannot read spec file (No such file"),
        (["info", "ResNet-20", "--resolution", "0"], "anynet info: error: resolution: must be an integer >= 1, got 0"),
    ],
)
def test_info_errors_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_info_bad_file_names_the_field(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("depths: [1, 1]\nwidths: [32, 64]\nstrides: [2, 2]\nbot_muls: [1, 1]\ngroup_ws: [8, 7]\n")
    code, _, err = run(capsys, "info", str(path))
    assert code == 1 and err.count("\n") == 1
    assert "bad.yaml: widths/group_ws: stage 2 (width 64, bot_mul 1, group width 7)" in err
    assert "adjusted values: widths=[32, 63], group_ws=[8, 7]" in err


def test_console_command_is_installed():
    exe = shutil.which("anynet")
    assert exe, "the anynet console command is not on PATH: pip install -e .[dev]"
    result = subprocess.run([exe, "info", "resnet-56", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout)["params"] == 855_770
    bad = subprocess.run([exe, "info", "nope"], capture_output=True, text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


@pytest.mark.parametrize("command", [[], *([name] for name in SUBCOMMANDS), ["sweep", "run"], ["sweep", "plan"]])
def test_every_help_text_prints(capsys, command):
    """argparse formats help with %: a stray one in any help text breaks `anynet --help` (it once did)."""
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0 and "usage: anynet" in capsys.readouterr().out
