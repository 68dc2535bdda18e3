"""Recipe hyperparameters as sampled dimensions: a space draws lr and weight_decay per model (log-uniform, pycls's
cifar_optim way), the plan and the results record them, the trainer applies them, the sweep's identity holds their
ranges (and a sweep without them keeps its identity), and analysis.hyper plots error against them."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from analysis.hyper import hyper_figures, hyper_values
from anynet.errors import SpecError
from sampler import Distribution, get_space, sample
from sampler.space import SPACE_KEYS
from sweeps.config import sweep_from_dict
from sweeps.plan import sample_plan
from planted import ok_record
from sweeps import TrainResult

LR = {"dist": "log_uniform_real", "low": 0.01, "high": 1.0}
WD = {"dist": "log_uniform_real", "low": 1e-5, "high": 1e-3}
HYPER = {"params.lr": LR, "params.weight_decay": WD}


def test_a_space_draws_lr_and_weight_decay_per_model_log_uniformly():
    space = get_space("AnyNetX_A-small").with_overrides(HYPER)
    result = sample(space, 400, seed=2, flops=(2e6, 40e6))
    lr = np.array([r["lr"] for r in result.recipes])
    wd = np.array([r["weight_decay"] for r in result.recipes])
    assert lr.min() >= 0.01 and lr.max() <= 1.0 and wd.min() >= 1e-5 and wd.max() <= 1e-3
    assert stats.kstest(np.log(lr), "uniform", args=(np.log(0.01), np.log(100))).pvalue > 1e-3
    assert stats.kstest(np.log(wd), "uniform", args=(np.log(1e-5), np.log(100))).pvalue > 1e-3
    assert all(r["recipe"] == {"lr": a, "weight_decay": b} for r, a, b in zip(result.records(), lr, wd))
    assert {"lr", "weight_decay"} <= set(result.frame().columns)
    again = sample(space, 100, seed=2, flops=(2e6, 40e6))
    assert again.specs == result.specs[:100] and again.recipes == result.recipes[:100]


def test_drawing_hyperparameters_leaves_the_architectures_drawn_unchanged():
    plain = sample("AnyNetX_A", 200, seed=1, flops=(360e6, 400e6))
    tuned = sample(get_space("AnyNetX_A").with_overrides(HYPER), 200, seed=1, flops=(360e6, 400e6))
    assert tuned.specs == plain.specs and plain.recipes == [{}] * 200 and "recipe" not in plain.records()[0]
    regnet = sample(get_space("RegNetX").with_overrides({"params.lr": LR}), 50, seed=1, flops=(360e6, 400e6))
    assert regnet.specs == sample("RegNetX", 50, seed=1, flops=(360e6, 400e6)).specs
    assert all(set(r) == {"lr"} for r in regnet.recipes)


def test_a_fixed_network_with_drawn_recipes_is_many_models():
    """pycls's cifar_optim: one network, many (lr, wd): each pair is its own model, not a duplicate."""
    space = get_space("AnyNetX_E-small").with_overrides(
        {"params.d.high": 1, "params.w.high": 8, "params.b.high": 1, "params.g.high": 1, **HYPER}
    )
    result = sample(space, 20, seed=0)
    assert len({(s.depths, s.widths) for s in result}) == 1 and len({r["lr"] for r in result.recipes}) == 20


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"params.lr": {"dist": "log_uniform_real", "low": 0, "high": 1}}, "params.lr.low: must be > 0"),
        ({"params.d": {"dist": "log_uniform_real", "low": 1, "high": 8}}, "log_uniform_real is for the real-valued"),
        ({"params.lr": {**LR, "shared": True}}, "params.lr.shared: lr takes one value per model already"),
        ({"params.momentum": LR}, "params.momentum: unknown parameter"),
    ],
)
def test_bad_hyperparameter_distributions(overrides, message):
    with pytest.raises(SpecError, match=message):
        get_space("AnyNetX_A-small").with_overrides(overrides)


def test_log_uniform_real_has_no_pmf_and_round_trips():
    dist = Distribution("log_uniform_real", 0.01, 1.0)
    with pytest.raises(SpecError, match="continuous"):
        dist.pmf()
    space = get_space("RegNetX-small").with_overrides(HYPER)
    assert space.to_dict()["params"]["lr"] == {"dist": "log_uniform_real", "low": 0.01, "high": 1.0}
    assert type(space).from_dict(space.to_dict()).params == space.params


def sweep(tmp_path, **overrides):
    return sweep_from_dict(
        {
            "name": "h",
            "space": "AnyNetX_A-small",
            "n": 6,
            "dataset": "synthetic",
            "out_dir": str(tmp_path / "h"),
            "flops": "2M:40M",
            "overrides": overrides,
        }
    )


def test_the_plan_records_them_and_the_identity_holds_their_ranges(tmp_path):
    plain, tuned = sweep(tmp_path), sweep(tmp_path, **HYPER)
    assert "lr" not in plain.identity()["space"]["params"] and tuned.identity()["space"]["params"]["lr"] == LR
    # a sweep without them keeps its identity: its space records only the keys spaces had before head_w, activation
    old_keys = set(SPACE_KEYS) - {"head_w", "activation"}
    assert set(plain.identity()["space"]) == old_keys
    assert all(row.recipe == {} and "recipe" not in row.to_dict() for row in sample_plan(plain))
    rows = sample_plan(tuned)
    assert [row.spec for row in rows] == [row.spec for row in sample_plan(plain)]
    assert all(set(row.recipe) == {"lr", "weight_decay"} for row in rows)


def test_train_model_applies_the_drawn_recipe_and_records_it(tmp_path, monkeypatch):
    import sweeps.trainer
    from sweeps.tune_trials import Job, train_model

    used = []
    outcome = TrainResult.from_dict({"status": "ok", "error": 50.0})
    monkeypatch.setattr(sweeps.trainer, "train", lambda spec, data, recipe, **kw: used.append(recipe) or outcome)
    config = sweep(tmp_path, **HYPER)
    job = Job(sample_plan(config), config.recipe, 0, 0, 1, "cpu", 1, "d", "n")
    row = job.plan[0]
    record = train_model(row, 1, job, None, lambda attempt: None)
    assert (used[0].lr, used[0].weight_decay) == (row.recipe["lr"], row.recipe["weight_decay"])
    assert used[0].batch_size == config.recipe.batch_size and record.to_dict()["recipe"] == row.recipe
    plain = replace(row, recipe={})
    assert "recipe" not in train_model(plain, 1, job, None, lambda attempt: None).to_dict()
    assert used[1] == config.recipe


def test_hyper_figures(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    frames = {}
    for name in ("AnyNetX_A", "RegNetX"):
        lr, wd = np.exp(rng.uniform(-4, 0, 20)), np.exp(rng.uniform(-11, -7, 20))
        frames[name] = pd.DataFrame(
            {"error": rng.uniform(10, 50, 20), "recipe": [{"lr": a, "weight_decay": b} for a, b in zip(lr, wd)]}
        )
    frames["AnyNetX_B"] = pd.DataFrame({"error": [20.0, 30.0]})  # trained at the sweep's one recipe: left out
    assert len(hyper_values(frames["AnyNetX_A"])) == 20 and hyper_values(frames["AnyNetX_B"]).empty
    paths = hyper_figures(frames, tmp_path / "figs")
    assert [p.name for p in paths] == ["hyper_lr.png", "hyper_wd.png", "hyper_lr_wd.png"]
    assert all(p.stat().st_size > 5000 and p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    assert hyper_figures({"AnyNetX_B": frames["AnyNetX_B"]}, tmp_path / "none") == []
    assert not (tmp_path / "none").exists()
    columns = pd.DataFrame({"error": [10.0, 20.0], "lr": [0.1, 0.2], "weight_decay": [1e-4, None]})
    assert hyper_values(columns).lr_wd.tolist() == [pytest.approx(1e-5)]


def test_a_sweep_that_draws_them_gets_their_figures_in_the_report(tmp_path):
    """Records carry the drawn lr and weight decay; load_results has them as columns; compare plots them."""
    from analysis import compare, load_sweeps
    from sweeps.plan import prepare
    from sweeps.store import SweepFolder, load_results

    config = sweep(tmp_path, **HYPER)
    folder = SweepFolder(config.out_dir)
    _, plan = prepare(config, folder)
    rng = np.random.default_rng(1)
    for row in plan:
        result = {"error": float(rng.uniform(10, 40)), "val_error": None, "train_loss": 1.0}
        folder.append(ok_record(row, **result))
    frame = load_results(config.out_dir)
    assert frame.lr.tolist() == [row.recipe["lr"] for row in plan]
    report = compare(load_sweeps([config.out_dir]), tmp_path / "report")
    assert {"hyper_lr.png", "hyper_wd.png", "hyper_lr_wd.png"} <= {p.name for p in report.figures}
