"""How faithfully a sweep's brief budget ranks models: rank correlations between the sweep's errors and those of
its fidelity re-runs (sweeps.fidelity), measured within the spaces; the re-seeded runs give each budget's seed
reliability; and whether each pair of spaces keeps its order at the longer budget.

What the within-space Spearman correlation estimates: inside one space, the population Spearman correlation of
two runs' errors over the space's models (the correlation of each model's percentile under one run with its
percentile under the other), averaged over the spaces, each weighted by its share of the re-run models. The gaps
between the spaces' mean errors do not enter it; they do enter the pooled correlation, which ranks all re-run
models together (two spaces with mean errors 40 and 60 and random order inside each pool to about 0.75).

The estimate is unbiased: per space a U-statistic (`spearman_u`), where a sample's own Spearman correlation of 5
models is biased toward Kendall's tau (its mean is (3 rho + 3 tau) / 6). The 95% interval inverts the estimate's
distribution under a Gaussian copula (inside each space the two runs' errors jointly normal after monotone
transforms, with one common Spearman correlation): every rho whose simulated distribution (`DRAWS` seeded draws,
the same draws for every rho, at the spaces' sizes) leaves the estimate inside its central 95%, each tail's
probability taken with ties counted half (mid-p). Its coverage is measured by analysis/calibration/fidelity.py.
Below `MIN_INTERVAL` models no interval is given."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from math import sqrt
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats import AnalysisError
from sweeps import REFERENCE, RESEED, SweepFolder, fidelity_folders, load_results, long_name

# The pairs of runs compared: the sweep's own errors (brief), the re-seeded run (same budget), the long run, and
# where they were run (sweeps.fidelity's reseed_long and reference) the long run re-seeded and a reference recipe.
COMPARISONS = (
    ("brief", "long"),
    ("reseed", "long"),
    ("brief", "reseed"),
    ("brief", "reference"),
    ("long", "reference"),
)
LONG_RELIABILITY = ("long", "long_reseed")
RUNS = ("brief", "reseed", "long", "long_reseed", "reference")
HIGHER = ("long", "reference")  # the higher fidelities a claim of the brief budget is checked at
HOLDS = 0.5  # the order of a space's models "held" where the within-space Spearman's 95% lower end is above it
MIN_INTERVAL = 10  # fewer re-run models get no interval
MIN_SPACE = 3  # a space's Spearman estimate needs 3 models (triples)
DRAWS = 10_000  # simulated draws of the estimate per candidate correlation (fewer for large spaces: PAIRS)
PAIRS = 1_000_000  # at most this many model pairs (draws x sum of a space's models squared) per candidate
GRID = np.linspace(-1, 1, 81)  # the candidate correlations simulated; an interval's ends interpolate between them
LEVEL = 0.95


@dataclass(frozen=True)
class Within:
    """The within-space Spearman correlation of runs a and b (see the module's docstring) over n re-run models
    in `spaces` spaces, with its 95% interval (None below MIN_INTERVAL models)."""

    a: str
    b: str
    n: int
    spaces: int
    spearman: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Pooled:
    """Spearman's and Kendall's correlation of runs a and b over all n re-run models together: it includes the
    gaps between the spaces' mean errors, so it does not say how well the budget ranks the models of a space."""

    a: str
    b: str
    n: int
    spearman: float
    kendall: float


@dataclass(frozen=True)
class Fidelity:
    """The re-run models of every sweep (one row each: sweep, id, flops and the error of each run), the factor of
    the long run, the within-space correlations (COMPARISONS, then LONG_RELIABILITY where the long run was
    re-seeded), brief vs long pooled and per sweep, and the order of each pair of spaces."""

    models: pd.DataFrame
    factor: float
    reference: str | None  # the reference recipe's changed fields (key=value, ...), where one was run
    within: list[Within]
    pooled: Pooled
    per_sweep: dict[str, Within]
    orders: pd.DataFrame

    def find(self, a: str, b: str) -> Within | None:
        """The within-space correlation of runs a and b, if measured."""
        return next((w for w in self.within if (w.a, w.b) == (a, b)), None)

    @property
    def headline(self) -> Within | None:
        """Brief vs long within the spaces: how well the brief budget ranks a space's models (None where no space
        has MIN_SPACE re-run models)."""
        return self.find("brief", "long")

    @property
    def bound(self) -> float | None:
        """The most brief vs long can reach with seed noise alone, sqrt(brief's x long's seed reliability) (the
        attenuation of a correlation by noise in both runs; 0 where a reliability is not above 0), where the long
        run's reliability was measured."""
        brief, long = self.find("brief", "reseed"), self.find(*LONG_RELIABILITY)
        if brief is None or long is None:
            return None
        return sqrt(max(brief.spearman, 0) * max(long.spearman, 0))


def load_fidelity(
    dirs: list[str | Path], names: list[str], factor: float | None = None, sources: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per model re-run ok in the re-seeded and the long re-run: sweep, id, flops, brief, reseed, long,
    long_reseed, reference (errors in %; NaN where that run was not made), factor, reference_recipe (the reference
    recipe's changed fields, key=value, ...). `factor` picks the
    long run (default: the largest one each sweep has). `sources`: the sweeps' results already loaded
    (analysis.load.Sweeps.frame, its `sweep` column holding `names`), so their results files are not read again."""
    columns = ["sweep", "id", "flops", *RUNS, "factor", "reference_recipe"]
    frames = []
    for path, name in zip(dirs, names):
        runs = fidelity_folders(path)
        longs = {f: runs[n] for n in runs if (f := _long_factor(n)) is not None}
        if RESEED not in runs or not longs or (factor is not None and factor not in longs):
            continue
        chosen = factor if factor is not None else max(longs)
        source = load_results(path) if sources is None else sources[sources.sweep == name].drop(columns="sweep")
        frame = _errors(source, "brief")[["id", "flops", "brief"]]
        for run, folder in ((RESEED, runs[RESEED]), ("long", longs[chosen])):
            frame = frame.merge(_errors(load_results(folder.path), run)[["id", run]], on="id")
        twin = runs.get(long_name(chosen, reseeded=True))
        if twin is not None:
            frame = frame.merge(_errors(load_results(twin.path), "long_reseed")[["id", "long_reseed"]], "left", "id")
        changes = None
        if REFERENCE in runs:
            frame = frame.merge(_errors(load_results(runs[REFERENCE].path), REFERENCE)[["id", REFERENCE]], "left", "id")
            changes = _changes(runs[REFERENCE])
        frames.append(frame.assign(sweep=name, factor=chosen, reference_recipe=changes))
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).reindex(columns=columns)


def _changes(folder: SweepFolder) -> str:
    """The fields a reference re-run changed in its sweep's recipe, as key=value, ..."""
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in folder.settings()["reference"].items()
    )


def _long_factor(name: str) -> float | None:
    """The budget multiple of a long re-run's folder (x4: 4.0); None for any other folder (reseed, x4-reseed)."""
    try:
        return float(name[1:]) if name.startswith("x") else None
    except ValueError:
        return None


def _errors(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    frame = frame[(frame.status == "ok") & frame.error.notna()]
    return frame.rename(columns={"error": column})


def spearman_u(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The unbiased estimate (a U-statistic) of the population Spearman correlation of paired samples along the
    last axis (3 or more): 3 x the mean over ordered triples of distinct models (i, j, k) of sign(x_i - x_j) x
    sign(y_i - y_k). Without ties it equals ((n + 1) r_s - 3 tau) / (n - 2), r_s and tau the sample's Spearman
    and Kendall correlations."""
    n = x.shape[-1]
    i, j = np.triu_indices(n, 1)
    sx, sy = np.sign(x[..., i] - x[..., j]), np.sign(y[..., i] - y[..., j])  # per pair i < j
    ends = np.zeros((len(i), n))  # pair -> its models: +1 for i, -1 for j
    ends[np.arange(len(i)), i], ends[np.arange(len(i)), j] = 1, -1
    # per model i: the sums over j of sign(x_i - x_j) and of sign(y_i - y_j); less the pairs' own (j = k) terms
    return 3 * (((sx @ ends) * (sy @ ends)).sum(-1) - 2 * (sx * sy).sum(-1)) / (n * (n - 1) * (n - 2))


@lru_cache(maxsize=16)
def _nulls(sizes: tuple[int, ...], seed: int, draws: int) -> np.ndarray:
    """Sorted simulated draws of the within-space estimate (one row per rho of GRID) for spaces of these sizes whose
    two runs' errors are jointly normal with Spearman correlation rho in each (the same normal draws for every
    rho, so that the rows change smoothly with it)."""
    rng = np.random.default_rng([seed, *sizes])
    draws = min(draws, max(PAIRS // sum(n * n for n in sizes), 2000))  # large spaces: a near-continuous estimate
    r = 2 * np.sin(np.pi * GRID / 6)  # the normal correlations whose Spearman correlations are GRID
    total = np.zeros((len(GRID), draws))
    for n in sizes:
        x, e = rng.standard_normal((2, draws, n))
        chunk = max(PAIRS // (n * n), 1)  # draws at once: bounded memory
        for k, c in enumerate(r):
            y = c * x + sqrt(max(1 - c * c, 0.0)) * e
            for start in range(0, draws, chunk):
                part = slice(start, start + chunk)
                total[k, part] += n / sum(sizes) * spearman_u(x[part], y[part])
    return np.sort(total, axis=1)


def interval(estimate: float, sizes: tuple[int, ...], seed: int = 0, draws: int = DRAWS) -> tuple[float, float]:
    """The 95% interval of the within-space Spearman correlation: the rhos whose simulated distribution of the
    estimate (spaces of these sizes, Gaussian copula) puts more than 2.5% on each side of `estimate`, ties counted
    half (mid-p); its ends interpolated linearly between the rhos of GRID."""
    tail = (1 - LEVEL) / 2
    nulls = _nulls(sizes, seed, draws)
    under = np.array([np.searchsorted(row, estimate - 1e-9) for row in nulls]) / nulls.shape[1]
    tied = np.array([np.searchsorted(row, estimate + 1e-9, "right") for row in nulls]) / nulls.shape[1] - under
    above, below = 1 - under - tied / 2, under + tied / 2  # per rho of GRID: rising, falling
    return _crossing(above, tail), -_crossing(below[::-1], tail)


def _crossing(rising: np.ndarray, tail: float) -> float:
    """The rho (of GRID, or -rho for a reversed row) where a tail probability rising with it first exceeds `tail`,
    interpolated linearly; -1 when it does at once."""
    k = int(np.argmax(rising > tail))
    if k == 0:
        return -1.0
    share = (tail - rising[k - 1]) / (rising[k] - rising[k - 1])
    return float(GRID[k - 1] + share * (GRID[k] - GRID[k - 1]))


def within(models: pd.DataFrame, a: str, b: str, seed: int = 0, draws: int = DRAWS) -> Within | None:
    """The within-space Spearman correlation of runs a and b over the models that have both errors, in the sweeps
    with at least MIN_SPACE of them (None if none has), with its interval from MIN_INTERVAL models."""
    x, y, sweep = models[a].to_numpy(dtype=float), models[b].to_numpy(dtype=float), models.sweep.to_numpy()
    both = ~(np.isnan(x) | np.isnan(y))
    masks = [both & (sweep == name) for name in dict.fromkeys(sweep)]
    groups = [(x[m], y[m]) for m in masks if m.sum() >= MIN_SPACE]
    if not groups:
        return None
    sizes = tuple(len(x) for x, _ in groups)
    n = sum(sizes)
    estimate = sum(len(x) / n * float(spearman_u(x, y)) for x, y in groups)
    low, high = interval(estimate, sizes, seed, draws) if n >= MIN_INTERVAL else (None, None)
    return Within(a, b, n, len(sizes), estimate, low, high)


def pooled(models: pd.DataFrame, a: str, b: str) -> Pooled:
    """Spearman's and Kendall's correlation of runs a and b over all the models together."""
    x, y = models[a].to_numpy(dtype=float), models[b].to_numpy(dtype=float)
    return Pooled(a, b, len(x), float(stats.spearmanr(x, y).statistic), float(stats.kendalltau(x, y).statistic))


def order_of_pairs(models: pd.DataFrame) -> pd.DataFrame:
    """For each pair of sweeps, on the re-run models: which is better by mean error, by median error, and by the
    KS direction (the side of the largest gap between the EDFs), at the brief budget and at each higher fidelity
    run (long; reference where it was), and whether each order is kept there (columns mean_brief, mean_long,
    mean_kept for long, mean_reference, mean_kept_reference, and the same for median and ks)."""
    rows = []
    names = list(dict.fromkeys(models.sweep))
    runs = [run for run in HIGHER if models[run].notna().any()]
    for a, b in combinations(names, 2):
        ea, eb = models[models.sweep == a], models[models.sweep == b]
        row = {"a": a, "b": b, "n_a": len(ea), "n_b": len(eb)}
        for how in ("mean", "median", "ks"):
            row[f"{how}_brief"] = a if _better(how, ea.brief.to_numpy(), eb.brief.to_numpy()) else b
            for run in runs:
                x, y = ea[run].dropna().to_numpy(), eb[run].dropna().to_numpy()
                row[f"{how}_{run}"] = (a if _better(how, x, y) else b) if len(x) and len(y) else None
                kept = None if row[f"{how}_{run}"] is None else row[f"{how}_{run}"] == row[f"{how}_brief"]
                row[f"{how}_kept" if run == "long" else f"{how}_kept_{run}"] = kept
        rows.append(row)
    return pd.DataFrame(rows)


def _better(how: str, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether errors a are at least as good as b: by mean, by median, or (ks) a's EDF lies above b's at the
    largest gap between them (more of a's models at low error)."""
    if how != "ks":
        fn = np.mean if how == "mean" else np.median
        return fn(a) <= fn(b)
    points = np.concatenate([a, b])
    gap = (a[:, None] <= points).mean(0) - (b[:, None] <= points).mean(0)
    return gap[np.argmax(np.abs(gap))] >= 0


def analyse(models: pd.DataFrame, seed: int = 0, draws: int = DRAWS) -> Fidelity:
    """The within-space correlations, brief vs long pooled and per sweep, and the orders of the pairs of sweeps.
    `seed` and `draws`: the intervals' simulation."""
    if len(models) < 3:
        raise AnalysisError(f"fidelity: {len(models)} model(s) re-run in both runs; at least 3 are needed")
    missing = [c for c in (*RUNS, "reference_recipe") if c not in models]  # runs not made (a frame of an older
    models = models.reindex(columns=[*models.columns, *missing])  # anynet, or built by hand): NaN
    factors = sorted(set(models.factor))
    if len(factors) > 1:
        raise AnalysisError(f"fidelity: the sweeps' long re-runs differ in factor ({factors}); give --factor")
    found = [within(models, a, b, seed, draws) for a, b in (*COMPARISONS, LONG_RELIABILITY)]
    per_sweep = {n: within(f, "brief", "long", seed, draws) for n, f in models.groupby("sweep", sort=False)}
    recipes = models.reference_recipe.dropna().unique()
    return Fidelity(
        models,
        factors[0],
        recipes[0] if len(recipes) else None,
        [w for w in found if w is not None],
        pooled(models, "brief", "long"),
        {n: w for n, w in per_sweep.items() if w is not None},
        order_of_pairs(models),
    )


def gate(result: Fidelity, minimum: float) -> str | None:
    """The warning when the brief budget's within-space Spearman correlation is not shown to reach `minimum`: its
    interval's lower end is below it, or there are too few models for an interval; None when it passes."""
    h = result.headline
    if h is None or h.low is None:
        few = f"{h.n} re-run models" if h else f"no space has {MIN_SPACE} re-run models"
        return (
            f"WARNING: the fidelity check cannot pass --min-fidelity {minimum:g}: {few}, too few for an interval "
            f"(at least {MIN_INTERVAL})"
        )
    if h.low < minimum:
        return (
            f"WARNING: the brief budget may rank each space's models worse than --min-fidelity {minimum:g} asks: "
            f"within-space Spearman {h.spearman:.2f}, 95% interval [{h.low:.2f}, {h.high:.2f}], lower end below "
            f"{minimum:g}"
        )
    return None


def check_gate(minimum: float | None, strict: bool) -> None:
    """Raise (naming the flag) unless --min-fidelity is a correlation in [-1, 1] and --strict comes with it."""
    if minimum is not None and not -1 <= minimum <= 1:
        raise AnalysisError(f"--min-fidelity: a rank correlation from -1 to 1, got {minimum:g}")
    if strict and minimum is None:
        raise AnalysisError("--strict: exits 1 when the fidelity check fails --min-fidelity R; give --min-fidelity")


LABELS = {
    "brief": "brief",
    "reseed": "brief re-seeded",
    "long": "long",
    "long_reseed": "long re-seeded",
    "reference": "reference recipe",
}


def label(run: str, factor: float) -> str:
    """A run's name in words: brief, brief re-seeded, 4x budget, reference recipe."""
    return {"long": f"{factor:g}x budget", "long_reseed": f"{factor:g}x budget re-seeded"}.get(run, LABELS[run])


def _value(w: Within) -> str:
    """A within-space correlation in words: value, interval or why none, n."""
    if w.low is None:
        return f"Spearman {w.spearman:.2f}, n = {w.n} (too few models for an interval)"
    return f"Spearman {w.spearman:.2f} [{w.low:.2f}, {w.high:.2f}], n = {w.n}"


def _name(w: Within, factor: float) -> str:
    """What a within-space comparison measures."""
    if (w.a, w.b) == ("brief", "reseed"):
        return "seed reliability of the brief budget (brief vs brief re-seeded)"
    if (w.a, w.b) == LONG_RELIABILITY:
        return f"seed reliability of the {factor:g}x budget ({factor:g}x vs {factor:g}x re-seeded)"
    return f"{label(w.a, factor)} vs {label(w.b, factor)}"


def _run_words(run: str, factor: float) -> str:
    """Where a claim was checked, in words: at 4x the budget, under the reference recipe."""
    return f"at {factor:g}x the budget" if run == "long" else "under the reference recipe"


def _runs(result: Fidelity) -> list[str]:
    """The higher fidelities the check ran (long always; reference where it was)."""
    return [run for run in HIGHER if result.models[run].notna().any()]


def claim_test(
    better: np.ndarray, worse: np.ndarray, seed: int = 0, draws: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A claim "better has the lower mean error" at a higher fidelity (errors with the models on the last axis, any
    leading axes): whether its mean error is still the lower, and the one-sided p of the verdict's test
    (studentized bootstrap, analysis.pairtest) that it is lower there, 1 where it is not. Its false-positive rate
    at 4 and 5 models per space: analysis/calibration/fidelity.py."""
    from analysis.pairtest import DRAWS as TEST_DRAWS
    from analysis.pairtest import mean_test

    test = mean_test(better, worse, draws=draws or TEST_DRAWS, seed=seed)
    return test.a_lower, np.where(test.a_lower, test.pvalue, 1.0)


def claims(result: Fidelity, separated: list[tuple[str, str]], seed: int = 0) -> list[str]:
    """Which kinds of claim held at the higher fidelities, in words first: the order of the spaces (each pair the
    verdict separated, better first, keeping the direction of its mean error on the re-run models; its one-sided
    studentized bootstrap p there, not adjusted, the same test as the verdict's at the re-run sizes) and the order
    of the models within a space (the within-space Spearman of brief vs each: held where its 95% interval's lower
    end is above HOLDS)."""
    m, f, runs = result.models, result.factor, _runs(result)
    details, reversed_at = [], {run: [] for run in runs}
    for better, worse in separated:
        parts = []
        for run in runs:
            a, b = (m[(m.sweep == s)][run].dropna().to_numpy() for s in (better, worse))
            if len(a) < 2 or len(b) < 2:
                parts.append(f"{_run_words(run, f)}: too few re-run models")
                continue
            lower, p = claim_test(a, b, seed)
            gap = b.mean() - a.mean()
            if bool(lower):
                parts.append(f"{_run_words(run, f)} lower by {gap:.1f} points (one-sided p {float(p):.2g})")
            else:
                reversed_at[run].append(f"{better} vs {worse}")
                parts.append(f"{_run_words(run, f)} REVERSED, higher by {-gap:.1f} points")
        details.append(
            f"  {better} better than {worse} (the verdict): on {len(a)} + {len(b)} re-run models, " + "; ".join(parts)
        )
    if separated:
        held = [run for run in runs if not reversed_at[run]]
        failed = [
            f"not {_run_words(run, f)} ({', '.join(reversed_at[run])} reversed)" for run in runs if reversed_at[run]
        ]
        where = " and ".join(_run_words(run, f) for run in held)
        spaces = (
            (f"The order of the spaces held {where}" if held else "The order of the spaces did not hold")
            + (f", {'; '.join(failed)}" if failed else "")
            + (
                f" (the verdict's {len(separated)} claim(s), each keeping its direction on the re-run models)"
                if held and not failed
                else ""
            )
        )
    else:
        spaces = "The verdict separated no pair of spaces, so there is no order of the spaces to check"
    found = {run: result.find("brief", run) for run in runs}
    shown = [run for run, w in found.items() if w is not None and w.low is not None and w.low > HOLDS]
    figures = "; ".join(f"brief vs {label(run, f)}: {_value(w)}" for run, w in found.items() if w is not None)
    if not any(w is not None for w in found.values()):
        models = "the order of models within a space could not be checked (no space has 3 re-run models)"
        advice = "treat the best models below as candidates, not winners"
    elif len(shown) == len(runs):
        models = f"the order of models within a space held too (within spaces, {figures})"
        advice = "the best models below are likely among the best of their spaces"
    else:
        verb = (
            "did not hold" if all(w is None or w.spearman < HOLDS for w in found.values()) else "was not shown to hold"
        )
        models = f"the order of models within a space {verb} (within spaces, {figures})"
        advice = "treat the best models below as candidates, not winners"
    return [f"{spaces}; {models}: {advice}.", *details]


def describe(result: Fidelity, separated: list[tuple[str, str]] | None = None, seed: int = 0) -> list[str]:
    """The check in a few lines: with the verdict's `separated` pairs (better, worse), first which kinds of claim
    held (claims); then what was re-run, the within-space correlations (with the seed-noise bound where the long run
    was re-seeded), the pooled figure, each space's, and the pairs' orders."""
    m, f = result.models, result.factor
    counts = ", ".join(f"{n} {c}" for n, c in m.groupby("sweep", sort=False).size().items())
    twice = f", and at {f:g}x the budget twice" if result.find(*LONG_RELIABILITY) else f", and at {f:g}x the budget"
    if result.reference is not None:
        twice += f", and under a reference recipe (the sweep's with {result.reference})"
    lines = [
        *(claims(result, separated, seed) if separated is not None else []),
        f"fidelity: {len(m)} models re-run ({counts}), a seeded uniform random subsample of each sweep; errors at "
        f"the sweep's budget, re-seeded at the same budget{twice}",
        *(f"  within spaces, {_name(w, f)}: {_value(w)}" for w in result.within),
    ]
    if result.headline is None:
        lines.insert(
            len(lines) - len(result.within),
            f"  within spaces, brief vs {f:g}x budget: none, no space has {MIN_SPACE} re-run models",
        )
    if result.bound is not None:
        b, r = result.find("brief", "reseed"), result.find(*LONG_RELIABILITY)
        lines.append(
            f"  seed-noise bound on brief vs {f:g}x budget: sqrt({b.spearman:.2f} x {r.spearman:.2f}) = "
            f"{result.bound:.2f} (about the most two runs with this much seed noise can agree)"
        )
    p = result.pooled
    lines += [
        f"  (within spaces: the population rank correlation inside each space, averaged over the spaces by their "
        f"re-run models; an unbiased estimate; 95% intervals exact where a space's errors are jointly normal after "
        f"monotone transforms, none below {MIN_INTERVAL} models)",
        f"  pooled over the spaces (including the gaps between their mean errors), {label(p.a, f)} vs "
        f"{label(p.b, f)}: Spearman {p.spearman:.2f}, Kendall {p.kendall:.2f}, n = {p.n}",
        *(f"  inside {name}: brief vs {f:g}x budget: {_value(w)}" for name, w in result.per_sweep.items()),
    ]
    return lines + _orders(result.orders, f, _runs(result))


def _orders(o: pd.DataFrame, f: float, runs: list[str]) -> list[str]:
    """Whether the pairs of spaces keep their order at each higher fidelity, and which do not."""
    if not len(o):
        return []
    lines = []
    for run in runs:
        kept = {how: o[f"{how}_kept" if run == "long" else f"{how}_kept_{run}"] for how in ("mean", "median", "ks")}
        counts = ", ".join(f"{how} {int(k.eq(True).sum())} of {int(k.notna().sum())}" for how, k in kept.items())
        lines.append(f"  pairs of spaces keeping their order {_run_words(run, f)} (on the re-run models): {counts}")
        for i, row in o.iterrows():
            changed = [how for how, k in kept.items() if k[i] is not None and not k[i]]
            if changed:
                lines.append(
                    f"    {row.a} vs {row.b}: order changed by {', '.join(changed)} (better at the brief budget by "
                    f"mean: {row.mean_brief}; {_run_words(run, f)}: {row[f'mean_{run}']})"
                )
    return lines
