"""The declared distributions, AnyNetX_A's marginals, and D/E as conditional (not sorted) distributions."""

import itertools

import numpy as np
import pytest
from scipy.stats import chisquare

from anynet import SpecError
from sampler import DesignSpace, Distribution, get_space, sample
from sampler.draw import draw_candidates


def fit_pvalue(values: np.ndarray, pmf: dict[float, float]) -> float:
    """Chi-square goodness of fit of the values to pmf (cells with tiny expectations pooled)."""
    support = np.array(sorted(pmf))
    probs = np.array([pmf[v] for v in support])
    assert set(np.unique(values)) <= set(support.tolist()), "a value outside the declared support"
    counts = np.array([(values == v).sum() for v in support])
    expected = probs * len(values)
    small = expected < 5
    if small.any():  # pool the sparse cells into one
        counts = np.append(counts[~small], counts[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
    return chisquare(counts, expected).pvalue


@pytest.mark.parametrize(
    "dist",
    [
        Distribution("log_uniform", 1, 16, 1),
        Distribution("log_uniform", 8, 1024, 8),
        Distribution("log_uniform", 2.0, 3.0, 0.001),
        Distribution("uniform", 12, 28, 1),
        Distribution("power2", 1, 32),
        Distribution("power2_or_log_uniform", 1, 128, 8),
        Distribution("choice", values=(1, 2, 2, 4)),
    ],
    ids=lambda d: f"{d.kind}-{d.low}-{d.high}",
)
def test_draws_follow_the_pmf(dist):
    values = dist.draw(np.random.default_rng(1), 100_000)
    assert abs(sum(dist.pmf().values()) - 1) < 1e-9
    assert fit_pvalue(values, dist.pmf()) > 1e-3


def test_log_uniform_is_not_uniform():
    values = Distribution("log_uniform", 1, 16, 1).draw(np.random.default_rng(1), 20_000)
    uniform = Distribution("uniform", 1, 16, 1).pmf()
    assert fit_pvalue(values, uniform) < 1e-9
    assert Distribution("log_uniform", 1, 16, 1).pmf()[1.0] == pytest.approx(np.log(2) / np.log(32))


def test_decimal_steps_are_exact():
    values = Distribution("log_uniform", 8.0, 256.0, 0.1).draw(np.random.default_rng(0), 1000)
    assert 247 * 0.1 != 24.7  # so k * q would not do; values are k / 10, the float nearest the decimal
    assert all(float(v) == float(f"{v:.1f}") for v in values)


def test_anynetx_a_marginals_follow_the_declared_distributions():
    space = get_space("AnyNetX_A")
    # the raw draws (before the compatibility rule adjusts w and g), stage by stage
    rng = np.random.default_rng(5)
    raw = {name: p.dist.draw(rng, (50_000, space.stages)) for name, p in space.params.items()}
    for name, param in space.params.items():
        for stage in range(space.stages):
            assert fit_pvalue(raw[name][:, stage], param.dist.pmf()) > 1e-4, (name, stage)
    # d and b, which the compatibility rule leaves alone, in sampled specs (no band)
    specs = sample(space, 4000, seed=11)
    d = np.array([s.depths for s in specs]).ravel()
    b = 1 / np.array([s.bot_muls for s in specs]).ravel()
    assert fit_pvalue(d, space.params["d"].dist.pmf()) > 1e-4
    assert fit_pvalue(b, space.params["b"].dist.pmf()) > 1e-4
    assert fit_pvalue(d, Distribution("uniform", 1, 16, 1).pmf()) < 1e-9  # a wrong distribution fails


def tiny_space(order):
    return DesignSpace.from_dict(
        {
            "name": "tiny",
            "kind": "anynet",
            "stages": 3,
            "resolution": 32,
            "params": {
                "d": {"dist": "uniform", "low": 1, "high": 3, "q": 1},
                "w": {"dist": "choice", "values": [8, 16]},
                "b": {"dist": "choice", "values": [1], "shared": True},
                "g": {"dist": "choice", "values": [8], "shared": True},
            },
            "non_decreasing": order,
        }
    )


def test_ordered_space_is_the_conditional_distribution_not_sorted_draws():
    # d in {1, 2, 3} per stage: C's conditional law given d1 <= d2 <= d3 gives each of the 10 ordered triples
    # 1/10; sorting three free draws gives (1, 2, 3) 6/27 but (1, 1, 1) 1/27.
    triples = list(itertools.combinations_with_replacement([1, 2, 3], 3))
    conditional = {t: 1 / len(triples) for t in triples}
    sorted_law = dict.fromkeys(triples, 0.0)
    for t in itertools.product([1, 2, 3], repeat=3):
        sorted_law[tuple(sorted(t))] += 1 / 27
    cand = draw_candidates(tiny_space(["d"]), np.random.default_rng(3), 60_000)
    drawn = np.stack(cand.batch.depths, axis=1)
    codes = drawn @ np.array([100, 10, 1])
    code = {100 * a + 10 * b + c: (a, b, c) for a, b, c in triples}

    def pvalue(law):
        return fit_pvalue(codes, {k: law[t] for k, t in code.items()})

    assert len(drawn) == 60_000  # drawn from the conditional law directly: nothing rejected
    assert pvalue(conditional) > 1e-3
    assert pvalue(sorted_law) < 1e-12


def test_unordered_space_keeps_every_draw():
    assert len(draw_candidates(tiny_space([]), np.random.default_rng(3), 1000).batch) == 1000


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="gauss", low=1, high=2), "param.dist: 'gauss' is not one of uniform"),
        (dict(kind="log_uniform", low=0, high=2), "param.low: must be > 0 for log_uniform"),
        (dict(kind="uniform", low=3, high=2), "needs q > 0 and low <= high"),
        (dict(kind="uniform", low=1, high=10, q=4), "low and high must be multiples of q=4"),
        (dict(kind="power2", low=3, high=8), "must be powers of two"),
        (dict(kind="choice", values=()), "param.values: must be a non-empty list"),
    ],
)
def test_bad_distributions(kwargs, message):
    with pytest.raises(SpecError, match=message):
        Distribution(**kwargs)


def test_ordered_depths_match_the_exact_conditional_law_over_four_stages():
    # AnyNetX_E's d: log-uniform on 1..16 per stage. Enumerate all 16^4 tuples to get each stage's marginal
    # under the conditional law given d1 <= d2 <= d3 <= d4, and under sorting four free draws.
    dist = get_space("AnyNetX_E").params["d"].dist
    values, p = dist.support
    grid = np.array(list(itertools.product(range(len(values)), repeat=4)))
    weight = np.prod(p[grid], axis=1)
    ordered = np.all(grid[:, 1:] >= grid[:, :-1], axis=1)
    sorted_grid = np.sort(grid, axis=1)
    drawn = dist.draw_ordered(np.random.default_rng(8), 40_000, 4)
    assert np.all(drawn[:, 1:] >= drawn[:, :-1])
    for stage in range(4):
        conditional = {
            v: weight[ordered & (grid[:, stage] == k)].sum() / weight[ordered].sum() for k, v in enumerate(values)
        }
        by_sorting = {v: weight[sorted_grid[:, stage] == k].sum() for k, v in enumerate(values)}
        assert fit_pvalue(drawn[:, stage], conditional) > 1e-4, stage
        assert fit_pvalue(drawn[:, stage], by_sorting) < 1e-9, stage
