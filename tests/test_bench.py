"""`anynet bench`: one model timed as pycls's time_model does, in ms; a GPU that is not there is one line."""

import json

import pytest
import torch

from anynet.cli import main
from anynet.files import save_spec
from anynet.zoo import zoo_spec


def test_bench_prints_every_time_in_ms(capsys):
    code = main(["bench", "RegNetX-200MF", "--device", "cpu", "--batch", "2", "--threads", "1", "--resolution", "64"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "RegNetX-200MF: flops " in out and "on cpu, 1 thread(s), median of 3 runs after 1 warm-up" in out
    for line in ("eval forward (BN folded), batch 2:", "train forward, batch 2:", "train backward, batch 2:"):
        assert line in out
    assert "train step (fwd+bwd+SGD), batch 2:" in out and "latency (BN folded), batch 1:" in out
    times = [float(line.split()[-2]) for line in out.splitlines() if line.endswith(" ms")]
    assert len(times) == 5 and all(t > 0 for t in times)


def test_bench_json_reads_spec_files(capsys, tmp_path):
    path = tmp_path / "net.yaml"
    save_spec(zoo_spec("ResNet-20"), path)
    code = main(["bench", str(path), "--batch", "2", "--threads", "1", "--runs", "2", "--json"])
    timing = json.loads(capsys.readouterr().out)
    assert code == 0 and timing["batch"] == 2 and timing["runs"] == 2 and timing["resolution"] == 32
    assert timing["train_step_ms"] >= timing["train_forward_ms"] > 0 and timing["latency_ms"] > 0
    assert timing["memory_method"] == "saved_tensors" and timing["flops"] == 40_813_194


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "cuda"], "anynet bench: error: device: cuda requested, but this torch"),
        (["--batch", "0"], "anynet bench: error: --batch: must be at least 1, got 0"),
        (["--device", "tpu"], "anynet bench: error: device: 'tpu' is not a device"),
    ],
)
def test_bench_errors_are_one_line(capsys, argv, message):
    if argv[1] == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["bench", "ResNet-20", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.splitlines()) == 1
