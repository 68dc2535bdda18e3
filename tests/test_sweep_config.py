"""Sweep files, folders and plans, without Ray: validation, durability of the store, refusal, growth."""

import json

import pytest
import yaml

from sweeps.config import SweepError, config_names, differences, load_sweep, sweep_from_dict
from sweeps.cost import training_cost
from sweeps.plan import prepare
from sweeps.store import SweepFolder, load_results
from planted import ok_record

BASE = {
    "name": "t",
    "space": "AnyNetX_A-small",
    "n": 4,
    "dataset": "synthetic",
    "overrides": {"params.d.high": 2, "params.w.high": 32},
    "recipe": {"images": 256},
}


def config(tmp_path, **changes):
    return sweep_from_dict({**BASE, "out_dir": str(tmp_path / "run"), **changes})


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"colour": "red"}, "colour: unknown field; allowed fields: name, space, n, out_dir"),
        ({"n": None}, "n: required"),
        ({"n": 0}, "n: must be an integer >= 1"),
        ({"space": "AnyNetZ"}, "AnyNetZ"),
        ({"dataset": "imagenet22k"}, "dataset: 'imagenet22k' is not one of fashion-mnist"),
        ({"flops": "lots"}, "flops: 'lots' must be LO:HI"),
        ({"params": [1, 2, 3]}, "params: must be LO:HI"),
        ({"recipe": {"epochs": 1, "images": 5}}, "recipe.budget: give one of epochs, images, budget_macs"),
        ({"recipe": {"lr_schedule": "step"}}, "recipe.lr_schedule: unknown field"),
        ({"resources": {"cpus": 0}}, "resources.cpus: must be a number >= 1"),
        ({"resources": {"gpus": 1.5}}, "resources.gpus: a fraction must be below 1"),
        ({"resources": {"tpus": 1}}, "resources.tpus: unknown field; allowed fields: cpus, gpus"),
        ({"retries": -1}, "retries: must be an integer >= 0"),
        ({"val_split": 1.5}, "val_split: must be a number between 0 and 1"),
        ({"name": "a/b"}, "name: must be a non-empty string without '/'"),
    ],
)
def test_bad_fields_are_named(tmp_path, changes, message):
    with pytest.raises(SweepError, match=message.replace("(", r"\(").replace("[", r"\[")):
        config(tmp_path, **changes)


def test_a_file_error_names_the_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**BASE, "n": "many"}))
    with pytest.raises(SweepError, match=r"s.yaml: n: 'many' is not a number"):
        load_sweep(path)
    with pytest.raises(SweepError, match="no such sweep file; ready-made sweeps: fmnist-anynetx-a"):
        load_sweep(tmp_path / "missing.yaml")


def test_fractional_gpus_bands_and_counts(tmp_path):
    c = config(tmp_path, resources={"cpus": 2, "gpus": 0.25}, flops="1M:5M", params=[None, "2M"], n="1k")
    assert c.resources.gpus == 0.25 and c.resources.threads == 2
    assert c.bands == {"flops": (1e6, 5e6), "params": (None, 2e6)} and c.n == 1000


def test_ready_made_sweeps_load_and_sample_quickly():
    from sweeps.plan import sample_plan

    names = config_names()
    for family in ("AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E", "RegNetX", "RegNetY"):
        assert any(family.lower().replace("_", "-") in n for n in names), family
    for name in names:
        c = load_sweep(name)
        assert c.name == name
        if c.dataset == "fashion-mnist":
            assert len(sample_plan(c)) == c.n


def test_prepare_refuses_a_changed_sweep_and_grows_a_prefix(tmp_path):
    folder = SweepFolder(tmp_path / "run")
    c, plan = prepare(config(tmp_path), folder)
    assert [row.id for row in plan] == [0, 1, 2, 3] and folder.plan() == plan
    with pytest.raises(SweepError, match=r"changed: seed: 0 -> 1.*Only n may grow"):
        prepare(config(tmp_path, seed=1), folder)
    with pytest.raises(SweepError, match=r"changed: recipe.images: 256 -> 512"):
        prepare(config(tmp_path, recipe={"images": 512}), folder)
    with pytest.raises(SweepError, match=r"space.params"):
        prepare(config(tmp_path, overrides={"params.d.high": 3}), folder)
    grown, bigger = prepare(config(tmp_path, n=7), folder)
    assert bigger[:4] == plan and len(bigger) == 7 and folder.settings()["n"] == 7
    kept, same = prepare(config(tmp_path, n=2), folder)  # a smaller n keeps the grown plan
    assert kept.n == 7 and same == bigger
    prepare(config(tmp_path, n=7, max_concurrent=1, retries=3), folder)  # how to run is not what is run


def test_store_is_append_only_and_skips_a_torn_last_line(tmp_path):
    folder = SweepFolder(tmp_path / "run")
    _, plan = prepare(config(tmp_path), folder)
    for row in plan[:2]:
        folder.append(ok_record(row, error=50.0 + row.id))
    folder.append(ok_record(plan[3], error=40.0, val_error=45.0))
    with open(folder.path / "results.jsonl", "a") as f:
        f.write('{"id": 2, "status": "o')  # a crash mid-write
    assert folder.final_ids() == {0, 1, 3}
    frame = load_results(folder.path)
    assert list(frame.id) == [0, 1, 3] and list(frame.error) == [50.0, 51.0, 45.0]  # selection: val error if any
    assert list(frame.test_error) == [50.0, 51.0, 40.0]
    assert {"d1", "w1", "flops", "params", "acts", "attempts", "spec"} <= set(frame.columns)
    lines = (folder.path / "results.jsonl").read_text().splitlines()
    lines.insert(0, "not json")
    (folder.path / "results.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(SweepError, match="line 1 is not valid JSON"):
        folder.records()


def test_training_cost_counts_whole_batches(tmp_path):
    _, plan = prepare(config(tmp_path, recipe={"images": 1000, "batch_size": 128}), SweepFolder(tmp_path / "run"))
    cost = training_cost(plan, config(tmp_path, recipe={"images": 1000}).recipe, 8192)
    assert cost.images == [896] * 4  # 7 steps of 128
    assert cost.total_macs == sum(3 * row.complexity.flops * 896 for row in plan)
    recipe = config(tmp_path, recipe={"epochs": 1.5}).recipe
    assert training_cost(plan, recipe, 8192, 2048).eval_macs == [2.0 * row.complexity.flops * 2048 for row in plan]
    json.dumps([row.to_dict() for row in plan])  # a plan row is plain JSON on disk


def test_plan_command_prints_range_cost_and_estimate(tmp_path, capsys):
    from anynet.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**BASE, "out_dir": str(tmp_path / "run"), "n": 5}))
    assert main(["sweep", "plan", str(path), "--rate", "10G"]) == 0
    out = capsys.readouterr().out
    assert "sweep t: 5 models of AnyNetX_A-small on synthetic (8,192 training images)" in out
    assert "flops" in out and "training: 1.28K images" in out and "(given)" in out
    assert not (tmp_path / "run").exists()  # planning writes nothing
    assert main(["sweep", "plan", str(path), "--n", "3"]) == 0  # the rate measured on the median model
    out = capsys.readouterr().out
    assert "3 models" in out and "multiply-adds/s per trial and" in out and "(measured with 2 trial(s) at once" in out
    assert main(["sweep", "plan", "--list"]) == 0
    assert "fmnist-regnety: RegNetY-small, n=32, fashion-mnist" in capsys.readouterr().out
    assert main(["sweep", "status", str(tmp_path / "nothing")]) == 1
    assert "not a sweep folder" in capsys.readouterr().err


def test_rewording_a_space_description_keeps_the_folder(tmp_path) -> None:
    """A space's description is prose: a folder made before it was reworded resumes."""
    config = sweep_from_dict({"name": "s", "space": "AnyNetX_A-small", "n": 2, "out_dir": str(tmp_path / "s")})
    old = config.identity()
    old["space"] = {**old["space"], "description": "an older wording"}
    assert differences(old, config.identity()) == []
    old["space"]["stages"] = 4
    assert differences(old, config.identity()) == ["space.stages: 4 -> 3"]
