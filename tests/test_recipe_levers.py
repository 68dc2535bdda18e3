"""The recipe's levers for brief budgets (warm-up, precise BatchNorm statistics), the speed-only fields that a
sweep folder is not bound to, and the plan's estimate as trials really run."""

import pytest
import torch

from random_specs import TINY
from sweeps import Recipe, RecipeError, synthetic, train
from sweeps.image_batches import BatchMaker
from sweeps.config import differences, sweep_from_dict
from sweeps.cost import RUN_START_S, Cost, Estimate, Rate, measure_rate
from sweeps.plan import sample_plan
from sweeps.trainer import precise_batchnorm


def test_warmup_ramps_lr_linearly_from_a_tenth_then_follows_the_cosine():
    plain, warm = Recipe(lr=0.1), Recipe(lr=0.1, warmup=0.2)
    assert warm.lr_at(0, 100) == pytest.approx(0.01)
    assert warm.lr_at(10, 100) == pytest.approx(plain.lr_at(10, 100) * 0.55)
    assert warm.lr_at(20, 100) == plain.lr_at(20, 100) and warm.lr_at(99, 100) == plain.lr_at(99, 100)
    assert [warm.lr_at(s, 100) < warm.lr_at(s + 1, 100) for s in range(19)] == [True] * 19


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(warmup=1.0), r"warmup: a fraction of the steps in \[0, 1\), got 1.0"),
        (dict(warmup=-0.1), "warmup: must be a number >= 0"),
        (dict(precise_bn=100), r"precise_bn: 0 \(off\) or at least one batch \(128 images\), got 100"),
        (dict(precise_bn="lots"), "precise_bn: 'lots' is not a number"),
    ],
)
def test_bad_levers_are_one_line_errors(kwargs, message):
    with pytest.raises(RecipeError, match=message):
        Recipe(**kwargs)


def test_precise_batchnorm_sets_the_plain_average_over_the_images():
    data = synthetic()
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    maker = BatchMaker(data.mean, data.std, 28, torch.device("cpu"), channels_last=False)
    generator = torch.Generator().manual_seed(0)
    precise_batchnorm(model, data.train_x, maker, 512, 128, generator, autocast=False)
    index = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(0))[:512]
    with torch.no_grad():
        out = [model[0](maker(data.train_x[index[i : i + 128]])) for i in range(0, 512, 128)]
    mean = torch.stack([o.mean((0, 2, 3)) for o in out]).mean(0)
    assert torch.allclose(model[1].running_mean, mean, atol=1e-5) and model[1].momentum == 0.1


def test_precise_statistics_change_only_the_evaluation():
    data = synthetic()
    plain = train(TINY, data, Recipe(images=1024, batch_size=64), seed=3, threads=1)
    precise = train(TINY, data, Recipe(images=1024, batch_size=64, precise_bn=1024), seed=3, threads=1)
    assert precise.train_loss == plain.train_loss and precise.error != plain.error


def test_a_folder_is_not_bound_to_speed_only_fields_nor_to_levers_added_since():
    config = sweep_from_dict({"name": "t", "space": "AnyNetX_A-small", "n": 2, "recipe": {"budget_macs": "1G"}})
    old = config.identity()
    old["recipe"] = {
        **{k: v for k, v in old["recipe"].items() if k not in ("warmup", "precise_bn")},
        "eval_batch_size": 1024,
    }
    assert differences(old, config.identity()) == []
    faster = sweep_from_dict(
        {"name": "t", "space": "AnyNetX_A-small", "n": 2, "recipe": {"budget_macs": "1G", "eval_batch_size": 64}}
    )
    assert differences(config.identity(), faster.identity()) == []
    warm = sweep_from_dict(
        {"name": "t", "space": "AnyNetX_A-small", "n": 2, "recipe": {"budget_macs": "1G", "warmup": 0.2}}
    )
    assert differences(config.identity(), warm.identity()) == ["recipe.warmup: 0.0 -> 0.2"]


def test_the_estimate_adds_training_evaluation_and_overhead_per_trial():
    cost = Cost(images=[10, 10], macs=[100.0, 300.0], eval_macs=[50.0, 50.0])
    rerun = Cost(images=[10], macs=[400.0], eval_macs=[100.0])
    guess = Estimate([cost], Rate(100.0, 50.0, 1.0, 2), 2, [rerun])
    # work (4 + 2 + 2 and 4 + 2 + 1 s) over 2 trials, a tail of a quarter model per run, Tune's start per run
    assert guess.seconds == pytest.approx((8 + 7) / 2 + 8 / 2 / 4 + 7 / 4 + 2 * RUN_START_S)
    # two sweeps train in one Tune run: one start, one tail of an average model of both
    both = Estimate([cost, rerun], Rate(100.0, 50.0, 1.0, 2), 2)
    assert both.seconds == pytest.approx((8 + 7) / 2 + 15 / 3 / 4 + RUN_START_S)
    assert (
        "measured with 2 trial(s) at once" in guess.describe()
        and "(given)" in Estimate([cost], Rate.given(100.0, 1), 1).describe()
    )


def test_the_rate_is_measured_on_several_models_with_trials_at_once():
    config = sweep_from_dict(
        {
            "name": "t",
            "space": "AnyNetX_A-small",
            "n": 6,
            "flops": "1M:3M",
            "dataset": "synthetic",
            "recipe": {"budget_macs": "1G"},
        }
    )
    plan = sample_plan(config)
    rate = measure_rate([plan[:3], plan[3:]], config.recipe, synthetic(), threads=1, trials=2, steps=2, per_trial=2)
    assert rate.trials == 2 and rate.train > 0 and rate.eval > 0 and rate.overhead_s >= 0 and rate.measured
