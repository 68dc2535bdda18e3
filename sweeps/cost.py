"""What a sweep's plan costs: multiply-adds per model, the training rate measured the way trials run, and the
estimated time of one or several sweeps."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from itertools import zip_longest
from multiprocessing import get_context

import numpy as np

from anynet.validate import format_count, format_duration
from sweeps.config import SweepConfig
from sweeps.data import Dataset

from sweeps.recipe import Recipe
from sweeps.records import PlanRow


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


def training_cost(plan: list[PlanRow], recipe: Recipe, n_train: int, n_eval: int = 0) -> Cost:
    """The plan's cost on a training set of n_train images and n_eval test (and validation) images."""
    images = [recipe.steps(n_train, row.complexity.flops) * recipe.batch_size for row in plan]
    evals = [-(-i // n_train) for i in images]  # evaluated at the end of every epoch begun
    return Cost(
        images,
        [3.0 * row.complexity.flops * i for row, i in zip(plan, images)],
        [float(row.complexity.flops) * n_eval * e for row, e in zip(plan, evals)],
    )


# Seconds Ray Tune takes to start a run's trials (processes, imports, the dataset through the object store): the
# main job's wall time less its trials' work and tails, over its 12 runs (measured 2026-11-30, when each sweep and
# re-run was its own Tune run; now the sweeps share one run and the re-runs another: sweeps.run.run_planned).
RUN_START_S = 6.0
# Cores that Ray's own processes (raylet, GCS, the driver's Tune loop) keep busy while trials run: on the main job
# (2 cores, 2 trials) two models trained 13% and 18% slower under Ray Tune than in two plain processes.
RAY_CORES = 0.3


@dataclass(frozen=True)
class Rate:
    """How fast one trial works while `trials` run at once: training and evaluation multiply-adds per second, and
    the seconds per model outside both (building the model, moving it, the first steps' one-time costs)."""

    train: float
    eval: float
    overhead_s: float
    trials: int
    measured: bool = True

    @classmethod
    def given(cls, macs_per_s: float, trials: int) -> Rate:
        """A rate given by the user: training and evaluation alike, no overhead."""
        return cls(macs_per_s, macs_per_s, 0.0, trials, measured=False)

    def describe(self) -> str:
        if not self.measured:
            return f"{format_count(self.train)} multiply-adds/s per trial (given)"
        return (
            f"{format_count(self.train)} training and {format_count(self.eval)} evaluation multiply-adds/s per "
            f"trial and {self.overhead_s:.1f} s per model besides (measured with {self.trials} trial(s) at once "
            "on this machine)"
        )


def _probe(rows: list[PlanRow], recipe: Recipe, data: Dataset, threads: int, steps: int) -> list[float]:
    """One trial's work on a few models, as a trial trains them: after a 2-step warm-up run (the fused kernel's
    compile, oneDNN's kernel generation), each model for `steps` steps and one evaluation. Returns the summed
    training multiply-adds, training seconds, evaluation multiply-adds, evaluation seconds and other seconds."""
    from sweeps.trainer import train

    n_eval = len(data.test_y) + (len(data.val_y) if data.val_y is not None else 0)
    totals = [0.0] * 5
    for i, row in enumerate(rows):
        model, flops = row.spec, row.complexity.flops
        for n in (2, steps) if i == 0 else (steps,):
            probe = replace(recipe, epochs=None, images=n * recipe.batch_size, budget_macs=None)
            started = time.perf_counter()
            result = train(model, data, probe, threads=threads)
            wall = time.perf_counter() - started
        parts = (
            3.0 * flops * result.images,
            result.train_seconds,
            flops * n_eval,
            result.seconds - result.train_seconds,
            wall - result.seconds,
        )
        totals = [t + p for t, p in zip(totals, parts)]
    return totals


def measure_rate(
    plans: list[list[PlanRow]],
    recipe: Recipe,
    data: Dataset,
    threads: int,
    trials: int,
    steps: int = 8,
    per_trial: int = 6,
    seed: int = 0,
) -> Rate:
    """The rate of one trial measured as trials really run: `trials` processes at once (sharing this machine's
    cores and memory as the sweep's trials will), each training and evaluating `per_trial` models drawn at random
    (seeded) from the plans in turn, so every plan (design space) is measured: shapes of equal flops differ in
    speed by 2x and more (grouped and depthwise convolutions are slower per multiply-add), so one model would not
    stand for a plan, nor one space for another. The rates are scaled by the share of the cores that Ray's own
    processes leave to the trials."""
    rng = np.random.default_rng(seed)
    shuffled = [[plan[i] for i in rng.permutation(len(plan))] for plan in plans]
    turns = [row for group in zip_longest(*shuffled) for row in group if row is not None]
    rows = turns[: trials * per_trial]
    shares = [(rows[t::trials], recipe, data, threads, steps) for t in range(trials)]
    shares = [s for s in shares if s[0]]
    if len(shares) == 1:
        found = [_probe(*shares[0])]
    else:
        with get_context("spawn").Pool(len(shares)) as pool:
            found = pool.starmap(_probe, shares)
    train_macs, train_s, eval_macs, eval_s, other_s = (sum(column) for column in zip(*found))
    cores = os.cpu_count() or 1
    share = min(1.0, (cores - RAY_CORES) / len(shares)) if cores > RAY_CORES else 1.0  # what Ray leaves the trials
    return Rate(
        share * train_macs / train_s, share * eval_macs / max(eval_s, 1e-9), max(other_s, 0.0) / len(rows), len(shares)
    )


@dataclass(frozen=True)
class Estimate:
    """What plans cost (one Cost per plan, and one per plan's fidelity re-runs) and how long they take at `rate`
    with `trials` at once."""

    costs: list[Cost]
    rate: Rate
    trials: int
    rerun_costs: list[Cost] = field(default_factory=list)

    def model_seconds(self, cost: Cost) -> float:
        """One trial's seconds for the models of a cost: training, evaluation and the rest."""
        return (
            sum(cost.macs) / self.rate.train
            + sum(cost.eval_macs) / self.rate.eval
            + len(cost.images) * (self.rate.overhead_s)
        )

    @property
    def seconds(self) -> float:
        """Wall time: the trials' work shared among them, plus per Tune run (one for the sweeps, one for their
        re-runs: sweeps.run.run_planned) its start and the tail in which the other trials wait for the last model
        (half an average model of the run each)."""
        runs = [[c for c in group if c.images] for group in (self.costs, self.rerun_costs)]
        runs = [group for group in runs if group]
        work = sum(self.model_seconds(c) for group in runs for c in group) / self.trials
        tails = sum(sum(self.model_seconds(c) for c in group) / sum(len(c.images) for c in group) for group in runs) * (
            (self.trials - 1) / (2 * self.trials)
        )
        return work + tails + len(runs) * RUN_START_S

    def describe(self) -> str:
        """The time in words, with the rate it rests on."""
        return (
            f"at {self.rate.describe()}, {self.trials} trial(s) at once: about {format_duration(self.seconds)}, "
            "plus Ray's start (about 10 s per session)"
        )


def estimate(
    config: SweepConfig,
    plans: list[list[PlanRow]],
    data: Dataset,
    rate: float | None = None,
    reruns: list[list[tuple[PlanRow, float | Recipe]]] | None = None,
) -> Estimate:
    """The cost of plans run with config's recipe and resources on data (its test and validation images are
    evaluated too), and of each plan's re-runs ((row, budget multiple or recipe) pairs), and the time with as many
    trials at once as max_concurrent or this machine's CPUs allow, at `rate` (training multiply-adds/s of one
    trial) or, when not given, at the rate measured with that many trials at once."""
    n_eval = len(data.test_y) + (len(data.val_y) if data.val_y is not None else 0)
    n_train = len(data.train_y)
    costs = [training_cost(plan, config.recipe, n_train, n_eval) for plan in plans]
    rerun_costs = [
        _rerun_cost([p for p in pairs if p[1] == m], config.recipe, n_train, n_eval)
        for pairs in reruns or []
        for m in dict.fromkeys(m for _, m in pairs)
    ]
    trials = config.max_concurrent or max(1, int((os.cpu_count() or 1) // config.resources.cpus))
    if rate is None:
        count = sum(len(plan) for plan in plans)
        measured = measure_rate(plans, config.recipe, data, config.resources.threads, min(trials, count))
    else:
        measured = Rate.given(rate, trials)
    return Estimate(costs, measured, trials, rerun_costs)


def _rerun_cost(pairs: list[tuple[PlanRow, float | Recipe]], recipe: Recipe, n_train: int, n_eval: int) -> Cost:
    from sweeps.fidelity import scaled

    def recipe_of(m: float | Recipe) -> Recipe:
        return m if isinstance(m, Recipe) else scaled(recipe, m) if m != 1 else recipe

    parts = [training_cost([row], recipe_of(m), n_train, n_eval) for row, m in pairs]
    return Cost(
        [i for p in parts for i in p.images],
        [x for p in parts for x in p.macs],
        [x for p in parts for x in p.eval_macs],
    )
