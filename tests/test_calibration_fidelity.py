"""The fidelity check's within-space Spearman interval holds its coverage in seeded simulation on the real code
path (analysis/calibration/fidelity.py), and the simulation can fail an interval: the pooled one the check printed
before, over all spaces' models together, misses the within-space value."""

import numpy as np
from scipy import stats

from analysis.calibration.fidelity import TARGET, Scenario, checks, coverage


def test_the_within_space_interval_covers_its_value():
    for check in checks(quick=True):
        assert check.passed, check.line()


def pooled_interval(models):
    """The old headline's interval: Spearman over all re-run models, percentile bootstrap of the models."""
    boot = stats.bootstrap(
        (models.brief.to_numpy(), models.long.to_numpy()),
        lambda u, v: stats.spearmanr(u, v).statistic,
        paired=True,
        vectorized=False,
        n_resamples=300,
        method="percentile",
        random_state=0,
    )
    return tuple(np.nanpercentile(boot.bootstrap_distribution, [2.5, 97.5]))


def test_the_simulation_fails_the_pooled_interval_which_includes_the_gaps_between_spaces():
    scenario = Scenario("4 spaces x 5 models, rho 0.6", 5, (0.6,) * 4)
    assert coverage(scenario, 50, 0, pooled_interval) < 0.5 < TARGET[0]


def test_the_simulation_fails_a_claim_check_that_takes_the_observed_directions_p():
    """Counting a p below 0.05 in whichever direction the re-run models fall (not the claim's) doubles the rate."""
    from analysis.calibration.fidelity import CLAIM_NULLS
    from analysis.calibration.pairs import ALPHA, RATE
    from analysis.pairtest import mean_test

    better, worse = CLAIM_NULLS[0]
    rng = np.random.default_rng(0)
    naive = mean_test(better.draw(rng, 2000), worse.draw(rng, 2000), draws=999, seed=0).pvalue
    assert np.mean(naive < ALPHA) > RATE[1]
