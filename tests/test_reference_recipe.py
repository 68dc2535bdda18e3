"""The fidelity check's reference recipe: SPEC parsing, the re-run folder, and the report's words on which kinds of
claim held (the order of the spaces, the order of models within a space) at each higher fidelity."""

import re

import numpy as np
import pytest

from analysis.fidelity import analyse, claims, describe, load_fidelity
from sweeps.fidelity import REFERENCE, REFERENCE_STREAM, fidelity_folders, prepare_fidelity
from sweeps.recipe import Recipe, RecipeError, parse_recipe_spec
from sweeps.config import SweepError
from tests.test_fidelity import sweep
from planted import ok_record
from planted import with_result


def test_a_spec_names_recipe_fields_as_key_value_pairs_or_a_yaml_file(tmp_path):
    assert parse_recipe_spec("lr=0.1,weight_decay=5e-4,epochs=1", "--x") == {
        "lr": 0.1,
        "weight_decay": 5e-4,
        "epochs": 1,
    }
    assert parse_recipe_spec(" flip=true, budget_macs=200G ", "--x") == {"flip": True, "budget_macs": "200G"}
    path = tmp_path / "ref.yaml"
    path.write_text("recipe: {lr: 0.2, warmup: 0.1}\n")
    assert parse_recipe_spec(str(path), "--x") == {"lr": 0.2, "warmup": 0.1}
    base = Recipe(budget_macs="100G", batch_size=64, warmup=0.2)
    changed = base.override({"lr": 0.1, "epochs": 1})  # a budget replaces the recipe's budget
    assert (changed.epochs, changed.budget_macs, changed.batch_size, changed.warmup, changed.lr) == (
        1,
        None,
        64,
        0.2,
        0.1,
    )
    assert base.override({"lr": 0.1}).budget_macs == 100e9


@pytest.mark.parametrize(
    "spec, message",
    [
        ("lr", "--fidelity-recipe: 'lr' is not key=value (fields: epochs, "),
        ("speed=3", "--fidelity-recipe.speed: unknown field; allowed fields: epochs, "),
        ("lr=fast", "--fidelity-recipe: lr: must be a number > 0, got 'fast'"),
        ("epochs=1,images=100", "--fidelity-recipe: budget: give one of epochs, images, budget_macs"),
        ("missing.yaml", "--fidelity-recipe: missing.yaml is not a file"),
        (",", "--fidelity-recipe: empty; give key=value,..."),
    ],
)
def test_bad_specs_are_one_line_errors_naming_the_flag(spec, message):
    with pytest.raises(RecipeError) as e:
        parse_recipe_spec(spec, "--fidelity-recipe")
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_the_reference_rerun_is_one_more_folder_with_its_recipe_and_seed_stream(tmp_path):
    folder = sweep(tmp_path, "a", n=12)
    work = prepare_fidelity(folder.path, 4, 2, reference={"lr": 0.1, "weight_decay": 5e-4})
    assert sorted(fidelity_folders(folder.path)) == [REFERENCE, "reseed", "x2"]
    config, rerun, plan = work[-1]
    assert rerun.path.name == REFERENCE and config.stream == REFERENCE_STREAM
    assert (config.recipe.lr, config.recipe.weight_decay, config.recipe.budget_macs) == (0.1, 5e-4, 50e9)
    assert [r.id for r in plan] == [r.id for r in work[0][2]]  # the same subsample as the other re-runs
    assert rerun.settings()["reference"] == {"lr": 0.1, "weight_decay": 5e-4}
    with pytest.raises(SweepError, match=r"reference holds re-runs of another sweep; changed: .*lr: 0.1 -> 0.2"):
        prepare_fidelity(folder.path, 4, 2, reference={"lr": 0.2, "weight_decay": 5e-4})
    assert len(prepare_fidelity(folder.path, 4, 2)) == 2  # without a reference the folder stays, untouched


def planted(tmp_path, flip_reference=False, noise=0.0, n=12, k=6):
    """Three sweeps a < b < c by 10 points of mean error at every run; within a sweep the re-runs' errors are
    the planted quality (long, reference) or quality + noise (brief, reseed); with flip_reference the reference
    recipe reverses the order of a and c."""
    rng = np.random.default_rng(0)
    folders = []
    for s, name in enumerate("abc"):
        folder = sweep(tmp_path, name, n=n)
        prepare_fidelity(folder.path, k, 2, reference={"lr": 0.1})
        quality = rng.normal(0, 1, n)
        records = {r.id: r for r in folder.records()}
        folder.path.joinpath("results.jsonl").unlink()
        for i, record in records.items():
            folder.append(with_result(record, error=30 + 10 * s + quality[i] + rng.normal(0, noise)))
        for run_name, run in fidelity_folders(folder.path).items():
            shift = 10 * (2 - s) if (run_name == REFERENCE and flip_reference) else 10 * s
            for row in run.plan():
                brief = run_name == "reseed"
                error = 20 + shift + quality[row.id] + (rng.normal(0, noise) if brief else 0.0)
                run.append(ok_record(row, error=float(error)))
        folders.append(folder)
    paths = [f.path for f in folders]
    return analyse(load_fidelity(paths, ["a", "b", "c"]))


def test_claims_held_in_words_first_when_the_order_of_spaces_and_of_models_hold(tmp_path):
    result = planted(tmp_path)
    assert result.reference == "lr=0.1" and result.models.reference.notna().all()
    lines = claims(result, [("a", "c"), ("a", "b")])
    assert lines[0].startswith(
        "The order of the spaces held at 2x the budget and under the reference recipe (the verdict's 2 claim(s), "
        "each keeping its direction on the re-run models); the order of models within a space held too (within spaces, "
        "brief vs 2x budget: Spearman 1.00 ["
    )
    assert lines[0].endswith("the best models below are likely among the best of their spaces.")
    assert re.fullmatch(
        r"  a better than c \(the verdict\): on 6 \+ 6 re-run models, at 2x the budget lower by 2\d\.\d points "
        r"\(one-sided p 0\.000\d\); under the reference recipe lower by 2\d\.\d points \(one-sided p 0\.000\d\)",
        lines[1],
    )
    text = describe(result, [("a", "c")])
    assert text[0] == lines[0].replace("2 claim(s)", "1 claim(s)")
    assert "  within spaces, brief vs reference recipe: Spearman 1.00 [" in "\n".join(text)
    assert "under a reference recipe (the sweep's with lr=0.1)" in text[2]
    assert (
        "  pairs of spaces keeping their order under the reference recipe (on the re-run models): mean 3 of 3, median 3 "
        "of 3, ks 3 of 3" in text
    )


def test_a_reversed_reference_and_noisy_model_ranks_are_said_plainly(tmp_path):
    result = planted(tmp_path, flip_reference=True, noise=5.0)
    first = claims(result, [("a", "c")])[0]
    assert first.startswith(
        "The order of the spaces held at 2x the budget, not under the reference recipe (a vs c reversed); the order of "
        "models within a space "
    )
    assert "did not hold" in first or "was not shown to hold" in first
    assert first.endswith("treat the best models below as candidates, not winners.")
    assert "; under the reference recipe REVERSED, higher by " in claims(result, [("a", "c")])[1]
    none = claims(result, [])[0]
    assert none.startswith("The verdict separated no pair of spaces, so there is no order of the spaces to check;")
    orders = "\n".join(describe(result))
    assert (
        "a vs c: order changed by mean, median, ks (better at the brief budget by mean: a; under the reference"
        in orders
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--fidelity", "1"], "--fidelity: 0 (no check) or at least 2 models per space, got 1"),
        (["--fidelity-factor", "1"], "--fidelity-factor: more than 1 x the budget, got 1"),
        (["--fidelity-recipe", "lr=-1"], "--fidelity-recipe: lr: must be a number > 0"),
        (["--retrain-top", "-1"], "--retrain-top: 0 (rank by the brief error) or more models per space, got -1"),
        (["--retrain-seeds", "0"], "--retrain-seeds: at least 1 training seed per model, got 0"),
        (["--retrain-factor", "0.5"], "--retrain-factor: more than 1 x the budget, got 0.5"),
        (["--retrain-factor", "3", "--retrain-recipe", "lr=0.1"], "--retrain-factor: give it or --retrain-recipe"),
        (["--retrain-recipe", "epochs"], "--retrain-recipe: 'epochs' is not key=value"),
    ],
)
def test_bad_rerun_flags_are_one_line_errors_before_anything_is_trained(tmp_path, capsys, flags, message):
    from anynet.cli import main

    assert main(["study", *flags, "--dataset", "synthetic", "--plan", "--out", str(tmp_path / "s")]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"anynet study: error: {message}") and len(error.splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_the_study_flags_for_the_reference_recipe_and_the_retrained_selection():
    from analysis.study import DEFAULT_FIDELITY_RECIPE, Study
    from anynet.cli import build_parser
    from anynet.cli.study import study_from_args

    parse = build_parser().parse_args
    assert study_from_args(parse(["study"])).fidelity_recipe == DEFAULT_FIDELITY_RECIPE
    study = study_from_args(parse(["study", "--fidelity-recipe", "none", "--retrain-top", "--n", "40"]))
    assert study.fidelity_recipe is None and study.retrain_top == 10  # a quarter of n
    assert study_from_args(parse(["study", "--retrain-top", "--n", "8"])).retrain_top == 4  # at least 4
    assert study_from_args(parse(["study", "--retrain-top", "0"])).retrain_top == 0
    other = study_from_args(parse(["study", "--retrain-recipe", "lr=0.1,epochs=1", "--retrain-seeds", "3"]))
    assert (other.retrain_recipe, other.retrain_seeds, other.retrain_factor) == ({"lr": 0.1, "epochs": 1}, 3, None)
    assert Study().retrain_top == 2 and Study().retrain_seeds == 2


def test_a_models_drawn_lr_gives_way_to_the_reference_and_retrain_recipes_changes(tmp_path):
    """A space that draws lr and weight_decay per model: the plan rows of a re-run under changed fields drop the
    drawn values of those fields (which would override the change), and keep the others."""
    from sweeps.config import sweep_from_dict
    from sweeps.plan import prepare
    from sweeps.retrain import prepare_retrain
    from sweeps.store import SweepFolder

    lr = {"dist": "log_uniform_real", "low": 0.01, "high": 1.0}
    wd = {"dist": "log_uniform_real", "low": 1e-5, "high": 1e-3}
    config = sweep_from_dict(
        {
            "name": "h",
            "space": "AnyNetX_E-small",
            "overrides": {"params.lr": lr, "params.weight_decay": wd},
            "n": 8,
            "dataset": "synthetic",
            "recipe": {"images": 256},
            "out_dir": str(tmp_path / "h"),
        }
    )
    folder = SweepFolder(config.out_dir)
    for row in prepare(config, folder)[1]:
        folder.append(ok_record(row, error=50.0 + row.id))
    rows = {row.id: row for row in folder.plan()}
    work = prepare_fidelity(folder.path, 4, 2, reference={"lr": 0.1})
    reseed, reference = work[0][2], work[-1][2]
    assert all(row.recipe == rows[row.id].recipe for row in reseed)  # untouched
    assert all(row.recipe == {"weight_decay": rows[row.id].recipe["weight_decay"]} for row in reference)
    retrain = prepare_retrain(folder.path, 2, 1, recipe={"lr": 0.1, "weight_decay": 5e-4})[0][2]
    assert [row.id for row in retrain] == [0, 1] and all(row.recipe == {} for row in retrain)
