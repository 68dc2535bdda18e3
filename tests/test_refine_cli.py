"""`anynet refine` end to end on generated data: the loop's files, the refined space sampled and studied, a rerun
that trains nothing again, and its errors in one line."""

import json
import subprocess
import sys

import yaml

from analysis.study import Study, sweep_configs
from anynet.counting import complexity
from sampler import get_space

ARGS = ["--space", "A", "--n", "3", "--dataset", "synthetic", "--rounds", "1", "--images", "128", "--compare", "E"]
ARGS += ["--no-progress"]


def anynet(*args, env):
    return subprocess.run([sys.executable, "-m", "anynet.cli", *args], env=env, capture_output=True, text=True)


def test_refine_end_to_end_then_resumed(tmp_path, ray_env):
    out = tmp_path / "refine"
    proposals = tmp_path / "proposals.txt"
    proposals.write_text("# two of the paper's constraints\nshared b\nw non-decreasing\n")
    done = anynet("refine", *ARGS, "--propose", str(proposals), "--out", str(out), env=ray_env)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "refine.jsonl").read_text().splitlines()]
    assert [r["constraint"] for r in rows] == ["shared b", "w non-decreasing"]
    for r in rows:
        assert r["parent"] == "AnyNetX_A-small" and r["parent_n"] == r["child_n"] == 3 and r["round"] == 1
        assert r["child_log10_size"] < r["parent_log10_size"] and 0 <= r["p_worse_holm"] <= 1
        assert r["decision"] in ("accepted", "non-inferior, not chosen", "rejected")
        assert f"round 1: {r['constraint']}: " in done.stdout
    assert "## Round 1: AnyNetX_A-small" in (out / "refine.md").read_text()
    kept = [r["child"] for r in rows if r["decision"] == "accepted"]
    final = kept[0] if kept else "AnyNetX_A-small"
    compared = [json.loads(line) for line in (out / "refine-compare.jsonl").read_text().splitlines()]
    assert [c["other"] for c in compared] == ["AnyNetX_A-small", "AnyNetX_E-small"]
    assert {c["refined"] for c in compared} == {f"{final}-fresh"} and all(c["refined_n"] == 3 for c in compared)
    assert all(c["p"] <= c["p_holm"] <= 1 and c["low"] <= c["difference"] <= c["high"] for c in compared)
    assert [c["words"] in done.stdout for c in compared] == [True, True]
    report = (out / "report" / "report.html").read_text()
    assert "Round 1: AnyNetX_A-small" in report and report.count("data:image/png;base64") == 4
    assert "shared b" in report and "b2/b1" in report
    spaces = ["AnyNetX_A-small", *(r["child"] for r in rows), f"{final}-fresh", "AnyNetX_E-small"]
    assert sorted(p.name for p in (out / "sweeps").iterdir()) == sorted(spaces)
    sampled = anynet("sample", "--space", str(out / "refined.yaml"), "--n", "5", env=ray_env)
    assert sampled.returncode == 0 and sampled.stdout.strip(), sampled.stderr
    exported = anynet("export", str(out), "--out", str(tmp_path / "space.yaml"), "--python", env=ray_env)
    assert exported.returncode == 0 and get_space(str(tmp_path / "space.yaml")).name == final.removesuffix("-fresh")
    code = exported.stdout.split("\n", 1)[1]
    scope: dict = {}
    exec(code, scope)  # the printed Python draws 100 models in the refined band and builds one
    assert len(scope["specs"]) == 100 and 2e6 <= complexity(scope["specs"][0]).flops <= 6e6
    records = {s: (out / "sweeps" / s / "results.jsonl").read_bytes() for s in spaces}
    again = anynet("refine", *ARGS, "--propose", str(proposals), "--out", str(out), env=ray_env)
    assert again.returncode == 0 and (out / "refine.jsonl").read_text().splitlines() == [json.dumps(r) for r in rows]
    assert {s: (out / "sweeps" / s / "results.jsonl").read_bytes() for s in spaces} == records  # nothing retrained
    bad = tmp_path / "bad.txt"
    bad.write_text("shared q\n")
    refused = anynet("refine", *ARGS, "--propose", str(bad), "--out", str(tmp_path / "x"), env=ray_env)
    assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1 and "shared q" in refused.stderr


def test_a_refined_space_file_is_a_study_space(tmp_path):
    from sampler import Constraint, space_yaml

    child = Constraint("share", "b").apply(get_space("AnyNetX_A-small"))
    path = tmp_path / "refined.yaml"
    path.write_text(space_yaml(child))
    configs = sweep_configs(Study(spaces=("A", str(path)), out=tmp_path / "study"), 1, 10, 28)
    assert [c.name for c in configs] == ["AnyNetX_A", child.name]
    assert configs[1].space.to_dict() == child.to_dict()
    assert yaml.safe_load(path.read_text())["params"]["b"]["shared"] is True
