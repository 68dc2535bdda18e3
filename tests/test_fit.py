"""Fitting the quantized linear rule: recovery of rule-made widths, a poor fit for random ones."""

import numpy as np

from analysis.fit import fit_rule
from anynet.errors import SpecError
from anynet.regnet import RegNetParams, quantized_linear


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
