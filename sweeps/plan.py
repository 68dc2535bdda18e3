"""A sweep's plan: the n models it trains (sampled, seeded, so a larger n keeps the smaller plan as its prefix),
and what training them costs."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from anynet.spec import AnyNetSpec
from sampler import sample
from sweeps.config import SweepConfig, SweepError, differences
from sweeps.data import Dataset
from sweeps.recipe import Recipe
from sweeps.store import SweepFolder


def sample_plan(config: SweepConfig) -> list[dict[str, Any]]:
    """One row per model: id, space, spec (as a dict) and complexity."""
    drawn = sample(config.space, config.n, config.seed, **config.bands)
    return [{"id": i, "space": config.space.name, "spec": s.to_dict(), **c._asdict()}
            for i, (s, c) in enumerate(zip(drawn.specs, drawn.complexities))]  # fmt: skip


def prepare(config: SweepConfig, folder: SweepFolder) -> tuple[SweepConfig, list[dict[str, Any]]]:
    """Open (or start) the sweep's folder for this config: refuse a changed sweep, keep a grown one's old models.

    Returns the config to run (its n never below the folder's) and the plan, written to the folder first."""
    old_plan: list[dict[str, Any]] = []
    if folder.exists():
        settings = folder.settings()
        changed = differences(settings.get("identity", {}), config.identity())
        if changed:
            raise SweepError(
                f"{folder.path} holds a different sweep; changed: {'; '.join(changed)}. Only n may grow: use "
                f"another out_dir (or name) for a new sweep"
            )
        old_plan = folder.plan()
        if config.n < len(old_plan):
            config = config.with_n(len(old_plan))
    plan = sample_plan(config)
    for old, new in zip(old_plan, plan):
        if old["spec"] != new["spec"]:
            raise SweepError(
                f"{folder.path}: sampling no longer reproduces model {old['id']} of the plan (was the sampler or "
                f"the space changed?); the sweep cannot grow consistently"
            )
    folder.write_settings({"name": config.name, "n": config.n, "identity": config.identity(), "config": config.to_dict()})
    folder.write_plan(plan)
    return config, plan


@dataclass(frozen=True)
class Cost:
    """What a plan costs per model, in plan order: training images, training multiply-adds (3 x flops per image)
    and evaluation multiply-adds (flops per test/val image, once per epoch begun)."""

    images: list[int]
    macs: list[float]
    eval_macs: list[float]

    @property
    def total_macs(self) -> float:
        return sum(self.macs) + sum(self.eval_macs)


def training_cost(plan: list[dict[str, Any]], recipe: Recipe, n_train: int, n_eval: int = 0) -> Cost:
    """The plan's cost on a training set of n_train images and n_eval test (and validation) images."""
    images = [recipe.steps(n_train, row["flops"]) * recipe.batch_size for row in plan]
    evals = [-(-i // n_train) for i in images]  # evaluated at the end of every epoch begun
    return Cost(images, [3.0 * row["flops"] * i for row, i in zip(plan, images)],
                [float(row["flops"]) * n_eval * e for row, e in zip(plan, evals)])  # fmt: skip


def measure_rate(plan: list[dict[str, Any]], recipe: Recipe, data: Dataset, threads: int, steps: int = 12) -> float:
    """Training multiply-adds per second of one trial, measured on the plan's median-flops model after a 2-step
    warm-up (which takes the one-time costs: the fused kernel's first compile, oneDNN's kernel generation)."""
    from sweeps.trainer import train

    row = sorted(plan, key=lambda r: r["flops"])[len(plan) // 2]
    spec = AnyNetSpec.from_dict(row["spec"])
    for n in (2, steps):
        probe = replace(recipe, epochs=None, images=n * recipe.batch_size, budget_macs=None)
        result = train(spec, data, probe, threads=threads)
    return 3.0 * row["flops"] * result.images_per_s


@dataclass(frozen=True)
class Estimate:
    """What plans cost (one Cost per plan) and how long they take at `rate` with `trials` at once."""

    costs: list[Cost]
    rate: float  # training multiply-adds per second of one trial
    trials: int

    @property
    def seconds(self) -> float:
        return sum(c.total_macs for c in self.costs) / self.rate / self.trials


def estimate(config: SweepConfig, plans: list[list[dict[str, Any]]], data: Dataset, rate: float | None = None) -> Estimate:
    """The cost of plans run with config's recipe and resources on data (its test and validation images are
    evaluated too), and the time at `rate`, measured on the median model of all plans when not given, with as
    many trials at once as max_concurrent or this machine's CPUs allow."""
    n_eval = len(data.test_y) + (len(data.val_y) if data.val_y is not None else 0)
    costs = [training_cost(plan, config.recipe, len(data.train_y), n_eval) for plan in plans]
    if rate is None:
        rate = measure_rate([row for plan in plans for row in plan], config.recipe, data, config.resources.threads)
    trials = config.max_concurrent or max(1, int((os.cpu_count() or 1) // config.resources.cpus))
    return Estimate(costs, rate, trials)
