"""The study: a reduced one end to end through the anynet command (report, table, exports parse; a rerun resumes),
its sweep files, its flags and its errors."""

import re
from dataclasses import fields, replace
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from analysis.study import ALIASES, DEFAULT_RECIPE, DEFAULT_SPACES, Study, StudyError, study_record, sweep_configs
from anynet.cli import build_parser
from anynet.cli.study import study_from_args
from anynet.files import load_spec
from anynet.counting import complexity
from sampler import get_space
from sweeps import Recipe, SweepConfig, sweep_from_dict

EXTERNAL = re.compile(r"(?:src|href)=['\"]?https?://")  # a link out (base64 images may spell http)

REDUCED = [
    "--spaces",
    "A,E,regnetx",
    "--n",
    "4",
    "--dataset",
    "synthetic",
    "--images",
    "512",
    "--top",
    "2",
    "--fidelity",
    "3",
    "--fidelity-factor",
    "4",
    "--fidelity-recipe",
    "lr=0.1,weight_decay=5e-4",
    "--retrain-top",
    "2",
    "--no-progress",
]


def anynet(*args, env=None):
    return subprocess.run([sys.executable, "-m", "anynet.cli", *args], env=env, capture_output=True, text=True)


def test_a_reduced_study_end_to_end_then_resumed(tmp_path, ray_env):
    out = tmp_path / "study"
    done = anynet("study", *REDUCED, "--out", str(out), env=ray_env)
    assert done.returncode == 0, done.stderr[-3000:]
    names = ["AnyNetX_A", "AnyNetX_E", "RegNetX"]
    for name in names:
        assert f"  {name}: 4 ok, 0 failed, 0 not finished" in done.stdout
    assert f"report: {out / 'report' / 'report.html'}" in done.stdout and "best model: " in done.stdout
    assert "fidelity: 9 models re-run (AnyNetX_A 3, AnyNetX_E 3, RegNetX 3)" in done.stdout
    assert "brief vs 4x budget: Spearman " in done.stdout and "Fidelity" in (out / "report" / "report.html").read_text()
    summary = (out / "report" / "summary.md").read_text()
    assert any("reference recipe" in line and "Spearman" in line for line in summary.splitlines())
    assert "## Best models, chosen at a higher fidelity" in summary
    assert (
        "best models chosen at 4x the budget: the top 2 of each space by brief error re-trained with 2 seeds"
        in done.stdout
    )
    assert "re-trained error " in done.stdout.split("best model: ")[1]
    page = (out / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 5 and not EXTERNAL.search(page)
    table = pd.read_csv(out / "report" / "table.csv")
    assert table.sweep.tolist() == names and (table.ok == 4).all() and (table.median_e_fit >= 0).all()
    assert "KS tests" in (out / "report" / "summary.md").read_text()
    for name in names:
        exported = yaml.safe_load((out / "configs" / f"{name}.yaml").read_text())["configs"]
        assert len(exported) == 2 and exported[0]["ranked_by"]["error"] <= exported[1]["ranked_by"]["error"]
        assert [c["ranked_by"]["by"] for c in exported] == ["retrained", "retrained"]
        assert exported[0]["ranked_by"]["how"] == "4x the budget" and exported[0]["ranked_by"]["seeds"] == 2
        assert exported[0]["source"] == ("sampled" if name == "RegNetX" else "fitted")
        spec = load_spec(str(out / "configs" / f"{name}.yaml"))  # what anynet info reads
        assert complexity(spec)._asdict() == exported[0]["regnet_complexity"]
        pycls = list(yaml.safe_load_all((out / "configs" / f"{name}.pycls.yaml").read_text()))
        # strides 1-2-2: only pycls's ANYNET form (per-stage lists) builds the studied network
        assert len(pycls) == 2 and pycls[0]["MODEL"]["TYPE"] == "anynet" and pycls[0]["ANYNET"]["STRIDES"] == [1, 2, 2]
    settings = yaml.safe_load((out / "study.yaml").read_text())
    assert settings["spaces"] == ["A", "E", "regnetx"] and settings["n"] == 4
    records = {name: (out / "sweeps" / name / "results.jsonl").read_bytes() for name in names}
    reruns = ["fidelity/x4", "fidelity/reference", "retrain/x4-1", "retrain/x4-2"]
    records |= {f"{n}/{r}": (out / "sweeps" / n / r / "results.jsonl").read_bytes() for n in names for r in reruns}
    again = anynet("study", *REDUCED, "--out", str(out), env=ray_env)  # a rerun resumes: nothing is trained again
    assert again.returncode == 0, again.stderr[-3000:]
    assert {name: (out / "sweeps" / name / "results.jsonl").read_bytes() for name in names} | {
        f"{n}/{r}": (out / "sweeps" / n / r / "results.jsonl").read_bytes() for n in names for r in reruns
    } == records
    changed = anynet("study", *REDUCED[:-1], "--seed", "1", "--out", str(out), env=ray_env)
    assert changed.returncode == 1 and "seed: 0 -> 1" in changed.stderr and len(changed.stderr.splitlines()) == 1


def test_the_study_loads_its_dataset_once_and_hands_it_to_the_sweeps(tmp_path, monkeypatch):
    import sweeps
    from analysis.study import run_study

    loads, given = [], []
    load = sweeps.load_dataset
    monkeypatch.setattr(sweeps, "load_dataset", lambda *a, **k: loads.append(a) or load(*a, **k))

    def run_sweeps(configs, *, address=None, progress=True, data=None):
        given.append(data)
        return [sweeps.SweepStatus(c.name, c.n, 0, 0, c.n) for c in configs]

    monkeypatch.setattr(sweeps, "run_sweeps", run_sweeps)
    result = run_study(Study.of(spaces=("A", "E"), n=2, dataset="synthetic", out=tmp_path / "study"), progress=False)
    assert len(loads) == 1 and given[0] is not None and given[0].name == "synthetic"
    assert result.report is None and len(result.notes) == 2


def test_plan_samples_and_estimates_without_writing(tmp_path):
    out = tmp_path / "planned"
    done = anynet("study", *REDUCED, "--plan", "--rate", "1G", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("AnyNetX_A", "AnyNetX_E", "RegNetX"):
        assert f"  {name}: 4 models, flops " in done.stdout
    assert "at 1.00G multiply-adds/s per trial (given)" in done.stdout and not out.exists()
    assert (
        "fidelity check and re-trained selection: 39 re-runs (3 models per space, at the same budget and at 4x it, "
        "under the reference recipe; the top 2 per space re-trained 2 times)" in done.stdout
    )


def test_each_spaces_sweep_is_the_template_fitted_to_the_dataset():
    study = Study(spaces=("A", "regnetx", "AnyNetX_E"))
    configs = sweep_configs(study, channels=3, classes=100, resolution=32)
    assert [c.name for c in configs] == ["AnyNetX_A", "RegNetX", "AnyNetX_E"]
    a, e = get_space("AnyNetX_A-small"), get_space("AnyNetX_E")
    assert configs[0].space == a.with_overrides({"in_channels": 3, "num_classes": 100, "resolution": 32})
    assert configs[2].space == e.with_overrides({"num_classes": 100})  # a named space keeps its resolution (224 px)
    assert str(configs[0].out_dir).endswith("runs/study/sweeps/AnyNetX_A")
    assert configs[0].recipe == Recipe.from_dict(DEFAULT_RECIPE) and configs[0].flops == (2e6, 6e6)
    for config in configs:  # every field but the name, space and folder is the template's
        assert replace(config, name="template", space=None, out_dir=study.sweep.out_dir) == study.sweep
        # and a sweep file of the config's own data makes the same config
        assert sweep_from_dict(config.to_dict()) == config
    assert sweep_configs(Study(spaces=("E",)), channels=1, classes=10, resolution=28)[0].space == get_space(
        "AnyNetX_E-small"
    )


def test_one_list_of_sweep_fields_a_study_takes_them_all():
    study = Study.of(spaces=("E",), n=7, seed=3, val_split=0.1, retries=2, top=5, fidelity=0)
    assert (study.sweep.n, study.sweep.seed, study.sweep.val_split, study.sweep.retries) == (7, 3, 0.1, 2)
    assert (study.top, study.fidelity, study.spaces) == (5, 0, ("E",))
    record = study_record(study)
    assert set(record) == {f.name for f in fields(SweepConfig)} - {"name", "space", "out_dir"} | {
        f.name for f in fields(Study)
    } - {"sweep"}
    with pytest.raises(StudyError, match="recipe.lr"):
        Study.of(recipe={"lr": -1})
    with pytest.raises(StudyError, match="colour"):
        Study.of(colour="red")


def test_study_errors_name_the_field(tmp_path):
    with pytest.raises(StudyError, match="spaces: E is given twice"):
        sweep_configs(Study(spaces=("E", "E")), 1, 10, 28)
    with pytest.raises(StudyError, match="spaces: give at least one of A, B"):
        sweep_configs(Study(spaces=()), 1, 10, 28)
    for flags, message in [
        (["--spaces", "F"], "F"),
        (["--budget", "lots"], "recipe.budget_macs"),
        (["--n", "0"], "n: "),
        (["--flops", "6M:2M"], "flops"),
    ]:
        done = anynet("study", *flags, "--dataset", "synthetic", "--out", str(tmp_path / "bad"))
        assert done.returncode == 1 and message in done.stderr, (flags, done.stderr)
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_flags_make_the_study():
    parse = build_parser().parse_args
    assert study_from_args(parse(["study"])) == Study()
    study = study_from_args(parse(["study", "--epochs", "0.5", "--batch-size", "256", "--gpus", "0.25", "--n", "1k"]))
    assert study.sweep.recipe == Recipe(batch_size=256, warmup=0.2, epochs=0.5) and study.sweep.resources.gpus == 0.25
    levers = study_from_args(parse(["study", "--lr", "0.1", "--warmup", "0", "--precise-bn", "8k", "--fidelity", "0"]))
    expected = Recipe.from_dict({**DEFAULT_RECIPE, "lr": 0.1, "warmup": 0.0, "precise_bn": 8000})
    assert levers.sweep.recipe == expected and levers.fidelity == 0
    assert study.sweep.n == 1000 and set(DEFAULT_SPACES) <= set(ALIASES)


def test_batch_sizes_larger_than_the_training_set_are_lowered():
    from analysis.study import fit_batch

    study = Study.of(recipe={"batch_size": 64}, fidelity_recipe={"batch_size": 128, "lr": 0.1})
    fitted, notes = fit_batch(study, 48)
    assert fitted.sweep.recipe.batch_size == 16 and fitted.fidelity_recipe == {"batch_size": 16, "lr": 0.1}
    assert notes == ["batch sizes larger than the 48 training images lowered: recipe 16, fidelity recipe 16"]
    assert fit_batch(study, 60_000) == (study, [])  # Fashion-MNIST: unchanged
    lowered = fit_batch(Study.of(recipe={}, fidelity_recipe=None), 100)[0]
    assert lowered.sweep.recipe == Recipe(batch_size=32)  # Recipe's 128
