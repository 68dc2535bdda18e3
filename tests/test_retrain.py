"""Best models chosen at a higher fidelity: the retrain folders, loading their errors, the ranking and the choice per
space, and a planted best model that retraining recovers more often than the brief ranking does."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.retrain import describe, load_retrain, ranked, selections
from sweeps.config import SweepError
from sweeps.recipe import Recipe
from sweeps.retrain import RETRAIN_STREAM, prepare_retrain, retrain_folders, retrain_name, retrain_run, top_ids
from tests.test_fidelity import sweep as fidelity_sweep
from planted import ok_record
from planted import with_result


def sweep(root, name, errors, failed=()):
    """A sweep folder of len(errors) models with these brief errors (no training); models in `failed` failed."""
    return fidelity_sweep(root, name, n=len(errors), failed=failed, errors=errors)


def test_a_folder_name_parses_back_to_its_factor_and_seed():
    for factor, index in [(2.0, 0), (2.5, 1), (None, 2)]:
        assert retrain_run(retrain_name(factor, index)) == (factor, index)
    assert [retrain_run(name) for name in ("x2", "x-1", "recipe-0", "reseed-1", "x2-reseed")] == [None] * 5


def record(folder, errors):
    """Record each planned model of a retrain folder: ok with errors[id], failed where it is None."""
    for row in folder.plan():
        error = errors[row.id]
        folder.append(ok_record(row, error=float(error)) if error is not None else ok_record(row, "failed"))


def ids(plan):
    return [row.id for row in plan]


def test_the_top_k_by_brief_error_are_retrained_once_per_seed_at_the_scaled_budget(tmp_path):
    errors = np.random.default_rng(0).permutation(20) + 30.0
    folder = sweep(tmp_path, "s", errors, failed={int(np.argmin(errors))})
    best = [int(i) for i in np.argsort(errors)[1:5]]  # the best model failed: never chosen
    assert top_ids(folder, 4) == best and top_ids(folder, 100) == [int(i) for i in np.argsort(errors)[1:]]
    work = prepare_retrain(folder.path, 4, seeds=2, factor=2)
    assert [f.path for _, f, _ in work] == [folder.path / "retrain" / "x2-1", folder.path / "retrain" / "x2-2"]
    source = {row.id: row for row in folder.plan()}
    for seed_index, (config, run, plan) in enumerate(work):
        assert ids(plan) == best and all(row == source[row.id] for row in plan) and run.plan() == plan
        assert config.recipe == Recipe(budget_macs=100e9) and config.stream == RETRAIN_STREAM + seed_index
        assert config.n == 4 and config.name == f"s-retrain-{retrain_name(2, seed_index)}"
        settings = run.settings()
        assert (settings["factor"], settings["seed_index"], settings["source"]) == (2, seed_index, str(folder.path))
        assert "recipe" not in settings and settings["identity"]["stream"] == config.stream
    assert sorted(retrain_folders(folder.path)) == ["x2-1", "x2-2"] and retrain_folders(tmp_path) == {}
    assert (retrain_name(2.5, 0), retrain_name(None, 1)) == ("x2.5-1", "recipe-2")


def test_the_validation_error_is_the_one_selected_on(tmp_path):
    folder = sweep(tmp_path, "s", [30.0, 31.0, 32.0])
    records = folder.records()
    folder.path.joinpath("results.jsonl").unlink()
    for r, val in zip(records, [40.0, 20.0, 35.0]):
        folder.append(with_result(r, **{**r.result.to_dict(), "val_error": val}))
    assert top_ids(folder, 2) == [1, 2]


def test_a_larger_k_or_a_changed_top_keeps_the_models_planned_before(tmp_path):
    errors = np.arange(12) + 30.0
    folder = sweep(tmp_path, "s", errors)
    assert ids(prepare_retrain(folder.path, 3, factor=2)[0][2]) == [0, 1, 2]
    assert ids(prepare_retrain(folder.path, 5, factor=2)[1][2]) == [0, 1, 2, 3, 4]
    folder.path.joinpath("results.jsonl").unlink()  # the sweep's errors change: model 11 is now the best
    for row in folder.plan():
        folder.append(ok_record(row, error=60.0 - 2.5 * (row.id == 11)))
    work = prepare_retrain(folder.path, 1, factor=2)
    assert [ids(plan) for _, _, plan in work] == [[0, 1, 2, 3, 4, 11]] * 2 and work[0][0].n == 6


def test_another_factor_gets_its_own_folders_and_a_changed_recipe_is_refused(tmp_path):
    folder = sweep(tmp_path, "s", np.arange(10) + 30.0)
    prepare_retrain(folder.path, 3, factor=2)
    prepare_retrain(folder.path, 3, seeds=1, factor=3)
    work = prepare_retrain(folder.path, 3, recipe={"epochs": 2, "lr": 0.1})
    config, run, _ = work[1]
    assert config.recipe == Recipe(epochs=2, lr=0.1) and config.stream == RETRAIN_STREAM + 1
    assert run.settings()["recipe"] == {"epochs": 2, "lr": 0.1} and "factor" not in run.settings()
    assert sorted(retrain_folders(folder.path)) == ["recipe-1", "recipe-2", "x2-1", "x2-2", "x3-1"]
    with pytest.raises(SweepError, match=r"recipe-1 holds retrains of another sweep or recipe; changed: recipe\.lr"):
        prepare_retrain(folder.path, 3, recipe={"epochs": 2, "lr": 0.2})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"k": 0, "factor": 2}, "k: at least 1 model per sweep to retrain, got 0"),
        ({"k": 3, "seeds": 0, "factor": 2}, "seeds: at least 1 training seed per model, got 0"),
        ({"k": 3, "factor": 1}, "factor: the retrain budget must be more than 1 x the sweep's, got 1"),
        ({"k": 3}, "factor: give exactly one of factor"),
        ({"k": 3, "factor": 2, "recipe": {"lr": 0.1}}, "factor: give exactly one of factor"),
        ({"k": 3, "recipe": {"bogus": 1}}, "recipe.bogus: unknown field"),
        ({"k": 3, "recipe": {"lr": -1}}, "recipe.lr: "),
        ({"k": 3, "recipe": "lr=0.1"}, "recipe: a mapping of recipe fields"),
    ],
)
def test_bad_arguments_are_one_line_errors_naming_the_argument(tmp_path, arguments, message):
    folder = sweep(tmp_path, "s", np.arange(5) + 30.0)
    with pytest.raises(SweepError) as error:
        prepare_retrain(folder.path, **arguments)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert not retrain_folders(folder.path)


def test_a_sweep_without_an_ok_model_is_an_error_naming_its_folder(tmp_path):
    folder = sweep(tmp_path, "s", [30.0, 31.0], failed={0, 1})
    with pytest.raises(SweepError, match=r"/s: no model finished ok; there is no best model to retrain"):
        prepare_retrain(folder.path, 2, factor=2)


def retrained_sweeps(tmp_path):
    """Sweep a (10 models, brief errors 30..39) with its top 3 retrained at 2x with two seeds, the second seed's
    model 1 failed; sweep b (5 models) not retrained."""
    a = sweep(tmp_path, "a", np.arange(10) + 30.0)
    b = sweep(tmp_path, "b", np.arange(5) + 40.0)
    first, second = (f for _, f, _ in prepare_retrain(a.path, 3, factor=2))
    record(first, {0: 25.0, 1: 22.0, 2: 24.0})
    record(second, {0: 24.0, 1: None, 2: 23.0})
    return a, b


def test_load_retrain_gives_each_models_mean_spread_and_seeds(tmp_path):
    from analysis.load import load_sweeps

    a, b = retrained_sweeps(tmp_path)
    models = load_retrain([a.path, b.path], ["A", "B"])
    assert list(models.columns) == ["sweep", "id", "brief", "retrained", "spread", "seeds", "errors", "how"]
    assert models.sweep.tolist() == ["A"] * 3 and models.id.tolist() == [0, 1, 2]
    assert models.brief.tolist() == [30, 31, 32] and models.retrained.tolist() == [24.5, 22, 23.5]
    assert models.spread.tolist() == [1, 0, 1] and models.seeds.tolist() == [2, 1, 2]
    assert models.errors.tolist() == [[25, 24], [22], [24, 23]] and set(models.how) == {"2x the budget"}
    loaded = load_sweeps([a.path, b.path], ["A", "B"])
    pd.testing.assert_frame_equal(load_retrain([a.path, b.path], ["A", "B"], loaded.frame), models)
    assert load_retrain([b.path], ["B"]).empty


def test_of_several_retrains_the_one_with_most_seeds_then_the_largest_factor_is_used(tmp_path):
    a, _ = retrained_sweeps(tmp_path)
    for _, run, _ in prepare_retrain(a.path, 2, seeds=2, factor=4):
        record(run, {0: 20.0, 1: 21.0})
    models = load_retrain([a.path], ["A"])
    assert set(models.how) == {"4x the budget"} and models.retrained.tolist() == [20, 21]
    for _, run, _ in prepare_retrain(a.path, 2, seeds=3, recipe={"lr": 0.1}):
        record(run, {0: 28.0, 1: 27.0})
    assert set(load_retrain([a.path], ["A"]).how) == {"the retrain recipe"}


def ok_frame(errors, sweep="A"):
    return pd.DataFrame({"sweep": sweep, "id": range(len(errors)), "error": errors, "status": "ok"})


def retrained_frame(brief, means, sweep="A", seeds=2, spread=1.0):
    """load_retrain's rows for models 0.. of `means` (retrained mean errors)."""
    return pd.DataFrame(
        {
            "sweep": sweep,
            "id": range(len(means)),
            "brief": brief[: len(means)],
            "retrained": means,
            "spread": spread,
            "seeds": seeds,
            "errors": [[m] * seeds for m in means],
            "how": "2x the budget",
        }
    )


def test_ranked_puts_the_retrained_models_first_by_their_mean_then_the_rest_by_brief_error():
    brief = [30.0, 31.0, 32.0, 33.0, 29.0, 35.0]  # model 4 was not retrained (say, it finished later)
    order = ranked(ok_frame(brief), retrained_frame(brief, [24.0, 22.0, 24.0, 23.0]))
    assert order.id.tolist() == [1, 3, 0, 2, 4, 5]  # 0 and 2 tie at 24: the better brief error first
    assert order.ranked_error.tolist() == [22, 23, 24, 24, 29, 35]
    assert order.ranked_by.tolist() == ["retrained"] * 4 + ["brief"] * 2 and order.seeds.tolist() == [2] * 4 + [0] * 2
    assert order.how.tolist() == ["2x the budget"] * 4 + ["brief budget"] * 2
    assert order.spread.notna().tolist() == [True] * 4 + [False] * 2
    assert {"sweep", "status", "error"} <= set(order.columns) and "retrained" not in order.columns
    plain = ranked(ok_frame(brief), load_retrain([], []))
    assert plain.id.tolist() == [4, 0, 1, 2, 3, 5] and set(plain.ranked_by) == {"brief"}
    assert plain.ranked_error.tolist() == sorted(brief) and set(plain.seeds) == {0}


def test_selections_give_each_spaces_best_and_whether_the_brief_top_stayed():
    brief = [30.0, 31.0, 32.0, 33.0, 34.0, 35.0]
    ok = pd.concat([ok_frame(brief), ok_frame(brief, "B"), ok_frame(brief, "C"), ok_frame(brief, "D")])
    retrained = pd.concat(
        [
            retrained_frame(brief, [26.0, 25.0, 24.5, 27.0, 28.0], spread=0.8),  # K 5, m 3: brief top-3 {0 1 2}
            retrained_frame(brief, [25.0, 26.0], "B"),  # K 2, m 1: the brief best stayed best
            retrained_frame(brief, [25.0], "C", seeds=1, spread=0.0),  # K 1: no figure
        ]
    )
    chosen = selections(ok, ["A", "B", "C", "D"], retrained)
    assert list(chosen) == ["A", "B", "C"]
    a = chosen["A"]
    assert (a.k, a.seeds, a.how, a.brief_best, a.best) == (5, 2, "2x the budget", 0, 2)
    assert (a.error, a.spread, a.best_seeds, a.brief, a.m, a.stayed) == (24.5, 0.8, 2, 32.0, 3, 3)
    assert (chosen["B"].m, chosen["B"].stayed, chosen["C"].stayed) == (1, 1, None)
    lines = describe(chosen)
    assert lines[0] == (
        "best models chosen at 2x the budget: the top 1-5 of each space by brief error re-trained with 1-2 seeds; "
        "ranked by their mean error over the seeds"
    )
    assert lines[1] == (
        "A: best A-2, 24.50% re-trained (mean of 2 seeds, spread 0.80; brief 32.00%); 3 of the brief top-3 stayed in "
        "the re-trained top-3"
    )
    assert lines[2].endswith("; the brief best stayed best")
    assert lines[3] == "C: best C-0, 25.00% re-trained (1 seed; brief 30.00%)" and len(lines) == 4
    swapped = selections(ok, ["A"], retrained_frame(brief, [26.0, 25.0]))["A"]
    assert (swapped.brief_best, swapped.best, swapped.stayed) == (0, 1, 0)
    assert describe({"A": replace(swapped, k=2, m=1)})[1].endswith("; the brief best, A-0, did not")
    assert describe({}) == []


def recovery(brief_sd, retrained_sd, reps=400, n=32, k=8, seeds=2, seed=0):
    """How often the brief ranking's best and the retrained ranking's best (`ranked`, the top k by brief error
    retrained with `seeds` seeds) are the planted best of n models whose true errors spread over 30..40."""
    rng = np.random.default_rng(seed)
    hits = np.zeros(2)
    for _ in range(reps):
        mu = np.sort(rng.uniform(30, 40, n))
        mu[0] = mu[1] - 1.0  # the planted best: model 0, a point ahead of the next
        brief = mu + rng.normal(0, brief_sd, n)
        top = np.argsort(brief)[:k]
        errors = mu[top, None] + rng.normal(0, retrained_sd, (k, seeds))
        retrained = pd.DataFrame(
            {"sweep": "A", "id": top, "brief": brief[top], "retrained": errors.mean(1), "spread": np.ptp(errors, 1)}
        ).assign(seeds=seeds, how="2x the budget")
        hits += [np.argmin(brief) == 0, ranked(ok_frame(brief), retrained).id.iloc[0] == 0]
    return hits / reps


def test_retraining_the_top_models_recovers_a_planted_best_more_often_than_the_brief_ranking():
    brief, retrained = recovery(brief_sd=3.0, retrained_sd=1.5)  # brief noise as wide as the true spread (sd 2.9)
    print(f"\nplanted best recovered: brief {brief:.3f}, retrained {retrained:.3f}")
    assert retrained > brief + 0.2 and retrained > 0.4


def test_the_control_retraining_as_noisy_as_the_brief_budget_recovers_it_about_as_often():
    """Each seed sqrt(2) x noisier than a brief run, so the mean over two is as noisy as a brief error: retraining
    adds (almost) nothing, and the margin the test above asks for is not reached."""
    brief, retrained = recovery(brief_sd=3.0, retrained_sd=3.0 * np.sqrt(2), seed=1)
    print(f"control (retraining as noisy as the brief budget): brief {brief:.3f}, retrained {retrained:.3f}")
    assert abs(retrained - brief) < 0.1
