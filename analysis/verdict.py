"""The verdict of a comparison, in words: for every pair of design spaces, which has the lower mean error, by how
much (with a 95% bootstrap interval), and whether the two-sample KS test on their errors separates them once the
p-values are Holm-corrected across the pairs."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats

from analysis.stats import holm, ks_test


@dataclass(frozen=True)
class PairVerdict:
    """One pair of spaces: `better` has the lower mean error; `difference` is its mean error's lead in points."""

    better: str
    worse: str
    n_better: int
    n_worse: int
    mean_better: float
    mean_worse: float
    difference: float  # mean error of `worse` minus that of `better`, percentage points
    low: float  # 95% bootstrap interval of the difference
    high: float
    statistic: float  # KS D
    pvalue: float
    p_holm: float  # Holm-adjusted across the pairs

    @property
    def resolved(self) -> bool:
        return self.p_holm < 0.05

    @property
    def confidence(self) -> str:
        if self.p_holm < 0.01:
            return "separated at p < 0.01"
        if self.p_holm < 0.05:
            return "separated at p < 0.05"
        return f"not resolved at this n (p = {self.p_holm:.2g}, Holm-adjusted)"


@dataclass(frozen=True)
class Verdict:
    pairs: list[PairVerdict]  # in the order of the sweeps' pairs
    headline: list[str]  # the answer: the ranking, the pairs separated and those not resolved
    details: list[str]  # one sentence group per pair, most certain first, then what p means

    @property
    def lines(self) -> list[str]:
        return [*self.headline, *self.details]


def verdict(errors: dict[str, np.ndarray], measured: dict[str, str], seed: int = 0, draws: int = 10_000) -> Verdict:
    """The verdict on the errors per sweep name; `measured` names each sweep's error ("validation", "test")."""
    names = list(errors)
    pairs = list(combinations(names, 2))
    tests = [ks_test(errors[a], errors[b]) for a, b in pairs]
    adjusted = holm(np.array([t.pvalue for t in tests]))
    results = [
        _pair(errors, a, b, test.statistic, test.pvalue, float(p), seed, draws)
        for (a, b), test, p in zip(pairs, tests, adjusted, strict=True)
    ]
    by_mean = sorted(names, key=lambda n: np.mean(errors[n]))
    ranking = ", ".join(f"{n} {np.mean(errors[n]):.2f}% (n = {len(errors[n])})" for n in by_mean)
    headline = [f"Mean {_error_words(measured, names)}, lowest first: {ranking}."]
    if not results:
        return Verdict([], [*headline, "One sweep alone: no pair to test."], [])
    for level in ("p < 0.01", "p < 0.05"):
        separated = [r for r in results if r.confidence == f"separated at {level}"]
        worse = {b: sorted((r.worse for r in separated if r.better == b), key=by_mean.index) for b in by_mean}
        groups = [f"{b} better than {', '.join(w)}" for b, w in worse.items() if w]
        if groups:
            headline.append(f"Separated at {level} (Holm-adjusted): {'; '.join(groups)}.")
    unresolved = [f"{r.better} vs {r.worse} (p = {r.p_holm:.2g})" for r in results if not r.resolved]
    headline.append(
        f"Not resolved at this n: {'; '.join(unresolved)}." if unresolved else "Every pair is separated at p < 0.05."
    )
    details = []
    for r in sorted(results, key=lambda r: r.p_holm):
        lead = f"{r.better} better than {r.worse}" if r.resolved else f"{r.better} vs {r.worse}"
        details.append(
            f"{lead}: {r.confidence}. Mean {_error_words(measured, [r.better, r.worse])} {r.difference:.2f} points "
            f"lower for {r.better} (95% bootstrap {r.low:.2f} to {r.high:.2f}), n = {r.n_better} vs {r.n_worse}. "
            f"KS D = {r.statistic:.2f}, p = {r.pvalue:.2g}, Holm p = {r.p_holm:.2g}."
        )
    details.append(f"p: two-sample KS test on the errors; Holm p: adjusted across the {len(results)} pair(s).")
    return Verdict(results, headline, details)


def _pair(
    errors: dict[str, np.ndarray], a: str, b: str, statistic: float, pvalue: float, p_holm: float, seed: int, draws: int
) -> PairVerdict:
    """The pair's verdict, `better` first; the difference's interval from resampling each space's models."""
    better, worse = (a, b) if np.mean(errors[a]) <= np.mean(errors[b]) else (b, a)
    eb, ew = np.asarray(errors[better], dtype=float), np.asarray(errors[worse], dtype=float)
    interval = stats.bootstrap(
        (ew, eb),
        lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis),
        vectorized=True,
        n_resamples=draws,
        batch=1000,
        method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return PairVerdict(
        better=better,
        worse=worse,
        n_better=len(eb),
        n_worse=len(ew),
        mean_better=float(eb.mean()),
        mean_worse=float(ew.mean()),
        difference=float(ew.mean() - eb.mean()),
        low=float(interval.low),
        high=float(interval.high),
        statistic=statistic,
        pvalue=pvalue,
        p_holm=p_holm,
    )


def _error_words(measured: dict[str, str], names: list[str]) -> str:
    """'validation error' when the named sweeps all measure the same error, else which each measures."""
    kinds = {measured[n] for n in names}
    if len(kinds) == 1:
        return f"{kinds.pop()} error"
    return f"error ({', '.join(f'{measured[n]} for {n}' for n in names)})"
