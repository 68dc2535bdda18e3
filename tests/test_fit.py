"""Fitting the quantized linear rule: recovery of rule-made widths, a poor fit for random ones."""

import numpy as np

from analysis.fit import fit_rule
from anynet.errors import SpecError
from anynet.regnet import RegNetParams, quantized_linear
from anynet.spec import AnyNetSpec


def valid_params(rng, count):
    found = []
    while len(found) < count:
        d, w0 = int(rng.integers(4, 20)), 8 * int(rng.integers(1, 9))
        wa, wm = round(float(rng.uniform(4, 64)), 1), round(float(rng.uniform(1.6, 2.9)), 3)
        try:
            found.append(RegNetParams(depth=d, w0=w0, wa=wa, wm=wm, group_w=8))
        except SpecError:
            continue
    return found


def test_fit_recovers_widths_made_by_the_rule():
    for p in valid_params(np.random.default_rng(0), 12):
        widths = p.rule.ws_all
        fit = fit_rule(widths)
        assert fit.e_fit < 1e-9, (p, fit)
        assert quantized_linear(p.depth, fit.w0, fit.wa, fit.wm).ws_all == widths
        assert fit.w0 % 8 == 0 and fit.wm > 1 and fit.e_cont > 0


def test_random_widths_fit_poorly():
    rng = np.random.default_rng(1)
    errors = [fit_rule(rng.choice([8, 16, 32, 64, 128, 256], 10)).e_fit for _ in range(5)]
    assert min(errors) > 0.2


def test_with_fits_adds_the_fit_columns():
    import pandas as pd

    from analysis.fit import with_fits

    p = valid_params(np.random.default_rng(2), 1)[0]

    def spec(depths: list[int], widths: list[int]) -> AnyNetSpec:
        return AnyNetSpec(block_type="res_basic_block", depths=depths, widths=widths, strides=[2] * len(depths))

    specs = [spec(list(p.rule.depths), list(p.rule.widths)), spec([1, 1, 1], [64, 8, 256])]
    frame = with_fits(pd.DataFrame({"id": [7, 8], "spec": specs}))
    assert {"e_fit", "e_cont", "fit_w0", "fit_wa", "fit_wm"} <= set(frame.columns)
    assert frame.e_fit.iloc[0] < 1e-9 < frame.e_fit.iloc[1]


def test_models_fitted_together_get_the_fits_they_get_alone():
    from analysis.fit import fit_rules

    rng = np.random.default_rng(3)
    made = [list(p.rule.ws_all) for p in valid_params(rng, 3)]
    random = [sorted(rng.choice([8, 16, 24, 48, 96, 200], int(rng.integers(2, 12)))) for _ in range(4)]
    together = fit_rules(made + random + [made[0]])
    assert together == [fit_rule(w) for w in made + random + [made[0]]]
    assert all(fit.e_fit < 1e-9 for fit in together[:3])


def test_fit_rules_needs_a_model():
    import pytest

    from analysis.fit import fit_rules

    with pytest.raises(ValueError, match="at least one model"):
        fit_rules([])


def test_a_fit_given_the_stage_count_is_a_valid_regnet_with_that_many_stages():
    import math

    rng = np.random.default_rng(4)
    found = 0
    for _ in range(30):
        k = int(rng.integers(1, 5))
        widths = sorted(rng.choice([8, 16, 24, 32, 48, 64, 96, 128, 192, 256], k))
        blocks = [w for w, d in zip(widths, rng.integers(1, 5, k)) for _ in range(d)]
        fit = fit_rule(blocks, stages=k)
        if math.isfinite(fit.e_fit):  # RegNetParams refuses a rule that skips or merges a stage
            found += 1
            params = RegNetParams(depth=len(blocks), w0=fit.w0, wa=fit.wa, wm=fit.wm, group_w=8)
            assert len(params.rule.widths) == k, (blocks, fit)
    assert found >= 25


def test_the_stage_count_constraint_keeps_a_downsampling_the_free_fit_adds():
    blocks = [16, 16, 48, 48, 104, 104]  # 3 stages (the README's AnyNetX_E-19)
    free, kept = fit_rule(blocks), fit_rule(blocks, stages=3)
    assert len(quantized_linear(6, free.w0, free.wa, free.wm).widths) == 4
    assert len(quantized_linear(6, kept.w0, kept.wa, kept.wm).widths) == 3 and kept.e_fit >= free.e_fit
    assert fit_rule([8 * 2**i for i in range(8)], stages=8).e_fit == float("inf")  # a stage per block: no rule


def test_fit_rules_needs_a_stage_count_per_model():
    import pytest

    from analysis.fit import fit_rules

    with pytest.raises(ValueError, match="one count per model, each between 1 and the model's blocks"):
        fit_rules([[8, 16], [8]], stages=[2, 2])
