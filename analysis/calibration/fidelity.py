"""Calibration of the fidelity check's within-space Spearman interval, by seeded simulation on its real code path:
a models frame shaped as analysis.fidelity.load_fidelity returns it, through analysis.fidelity.within as analyse
calls it for each comparison (brief vs long, the seed reliabilities).

Each space's re-run models get a brief and a long error with a known population Spearman correlation inside the
space; the spaces' mean errors lie GAP points apart, far more than the spread inside a space, so a figure that
mixes the spaces (the pooled correlation) sits near 1 whatever the ranking inside them. "normal": the two errors
jointly normal (the Gaussian copula the interval assumes); "additive": the long error uniform over 10 points and
the brief one the long plus normal noise (another copula).

The claims the report checks at a higher fidelity ("A better than B" keeping its direction on the re-run models,
analysis.fidelity.claim_test) get the false-positive rate of their one-sided p at 0.05 where the two spaces' mean
errors are equal, at the re-run sizes (4 and 5 models per space)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from analysis.calibration import Check
from analysis.calibration.pairs import ALPHA, RATE, Space, normal, skewed
from analysis.fidelity import DRAWS, claim_test, within

GAP = 20.0  # points between the spaces' mean errors
TARGET = (0.92, 0.98)
TRUTH_SAMPLE = 400_000  # models drawn to compute an additive space's population Spearman correlation

Interval = Callable[[pd.DataFrame], tuple[float, float]]  # a models frame -> a 95% interval of brief vs long


@dataclass(frozen=True)
class Scenario:
    """Spaces of `models` re-run models each; per space the Spearman correlation (normal) or the brief run's noise
    in points (additive)."""

    name: str
    models: int
    params: tuple[float, ...]
    kind: str = "normal"

    @property
    def truth(self) -> float:
        """The estimand: the spaces' population Spearman correlations, averaged (equal sizes)."""
        if self.kind == "normal":
            return float(np.mean(self.params))
        return float(np.mean([_additive_spearman(noise) for noise in self.params]))


@lru_cache(maxsize=16)
def _additive_spearman(noise: float) -> float:
    """The population Spearman correlation of long ~ U(0, 10) and brief = long + N(0, noise), from a large sample."""
    long, brief = _additive(np.random.default_rng(7), TRUTH_SAMPLE, noise)
    return float(stats.spearmanr(brief, long).statistic)


def _additive(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    long = rng.uniform(0, 10, n)
    return long, long + rng.normal(0, noise, n)


def _pair(rng: np.random.Generator, n: int, param: float, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """One space's (brief, long) errors around 0."""
    if kind == "additive":
        long, brief = _additive(rng, n, param)
        return brief, long
    r = 2 * np.sin(np.pi * param / 6)  # the normal correlation whose Spearman correlation is param
    x, e = rng.standard_normal((2, n))
    return x, r * x + np.sqrt(1 - r * r) * e


def models_frame(s: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """One simulated fidelity check, as load_fidelity returns it (no long run re-seeded)."""
    pairs = [_pair(rng, s.models, param, s.kind) for param in s.params]
    offset = np.repeat(GAP * np.arange(len(s.params)), s.models)
    return pd.DataFrame(
        {
            "sweep": np.repeat([f"space{i}" for i in range(len(s.params))], s.models),
            "id": np.tile(np.arange(s.models), len(s.params)),
            "flops": 1e6,
            "brief": 40 + offset + np.concatenate([brief for brief, _ in pairs]),
            "reseed": 40 + offset + rng.standard_normal(len(offset)),
            "long": 30 + offset + np.concatenate([long for _, long in pairs]),
            "long_reseed": np.nan,
            "factor": 4.0,
        }
    )


def within_interval(draws: int = DRAWS, seed: int = 0) -> Interval:
    """The interval the fidelity check prints for brief vs long within the spaces."""

    def interval(models: pd.DataFrame) -> tuple[float, float]:
        w = within(models, "brief", "long", seed=seed, draws=draws)
        return w.low, w.high

    return interval


def coverage(s: Scenario, reps: int, seed: int, interval: Interval, truth: float | None = None) -> float:
    """The share of `reps` seeded simulated checks whose interval holds `truth` (default: the scenario's)."""
    rng = np.random.default_rng([seed, s.models, len(s.params)])
    truth = s.truth if truth is None else truth
    hits = 0
    for _ in range(reps):
        low, high = interval(models_frame(s, rng))
        hits += low <= truth <= high
    return hits / reps


QUICK = (
    Scenario("4 spaces x 5 models, rho 0", 5, (0.0,) * 4),
    Scenario("4 spaces x 5 models, rho 0.3", 5, (0.3,) * 4),
    Scenario("4 spaces x 5 models, rho 0.6", 5, (0.6,) * 4),
    Scenario("4 spaces x 5 models, rho 0.9", 5, (0.9,) * 4),
    Scenario("4 spaces x 5 models, rho 0.9/0.6/0.5/0.2", 5, (0.9, 0.6, 0.5, 0.2)),
    Scenario("4 spaces x 10 models, rho 0.8", 10, (0.8,) * 4),
)
FULL = (
    *QUICK,
    Scenario("2 spaces x 5 models, rho 0.6", 5, (0.6,) * 2),
    Scenario("8 spaces x 5 models, rho 0.6", 5, (0.6,) * 8),
    Scenario("4 spaces x 10 models, rho 0", 10, (0.0,) * 4),
    Scenario("4 spaces x 20 models, rho 0.5", 20, (0.5,) * 4),
    Scenario("4 spaces x 20 models, rho 0.9", 20, (0.9,) * 4),
    Scenario("4 spaces x 5 models, additive noise 1", 5, (1.0,) * 4, "additive"),
    Scenario("4 spaces x 5 models, additive noise 3", 5, (3.0,) * 4, "additive"),
    Scenario("4 spaces x 20 models, additive noise 3", 20, (3.0,) * 4, "additive"),
)


CLAIM_NULLS = (  # equal mean errors at the higher fidelity: a p below ALPHA for "better" is a false positive
    (normal(40, 3, 4), normal(40, 3, 4)),
    (normal(40, 3, 5), normal(40, 1, 5)),
    (skewed(40, 3, 5), skewed(40, 3, 5)),
)


def claim_rate(better: Space, worse: Space, reps: int, draws: int | None, seed: int) -> float:
    """How often claim_test keeps a claim's direction with p below ALPHA where the means are equal."""
    rng = np.random.default_rng(seed)
    lower, p = claim_test(better.draw(rng, reps), worse.draw(rng, reps), seed, draws)
    return float(np.mean(lower & (p < ALPHA)))


def checks(quick: bool = False, seed: int = 0) -> list[Check]:
    """Coverage of the within-space Spearman 95% interval (brief vs long; the seed reliabilities use the same
    function) per scenario, and the false-positive rate of a claim's p at a higher fidelity (CLAIM_NULLS): quick,
    2,000 repetitions of the QUICK scenarios and claims at 999 bootstrap draws; else 10,000 of the FULL ones and
    claims at the tool's draws."""
    reps = 2000 if quick else 10_000
    interval = within_interval(seed=seed)
    draws = 999 if quick else None
    claimed = [
        Check(
            f'fidelity: "better" kept at a higher fidelity, one-sided p at {ALPHA:g}',
            "false-positive rate",
            claim_rate(better, worse, reps, draws, seed + i),
            *RATE,
            reps,
            f"{better.words} vs {worse.words}; {f'{draws:,} draws' if draws else 'the tool draws'}",
        )
        for i, (better, worse) in enumerate(CLAIM_NULLS)
    ]
    return claimed + [
        Check(
            f"fidelity: within-space Spearman 95% interval, {s.name}",
            "coverage",
            coverage(s, reps, seed, interval),
            *TARGET,
            reps,
            f"true value {s.truth:.3f}; spaces' mean errors {GAP:g} points apart; {s.kind} errors",
        )
        for s in (QUICK if quick else FULL)
    ]
