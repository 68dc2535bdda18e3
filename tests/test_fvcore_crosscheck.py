"""The analytic count against fvcore and the built model, on random specs of every kind."""

import numpy as np
import pytest
import torch
from random_specs import random_regnet, random_spec

from anynet import AnyNet, complexity
from anynet.crosscheck import fvcore_complexity

SPECS = [random_spec(np.random.default_rng(seed)) for seed in range(60)]
SPECS += [random_regnet(np.random.default_rng(seed), resolution=32, num_classes=10) for seed in range(8)]


def test_random_specs_cover_the_space():
    assert {s.block_type for s in SPECS} == {"res_bottleneck_block", "res_basic_block", "vanilla_block"}
    assert {s.stem_type for s in SPECS} == {"simple_stem_in", "res_stem_cifar", "res_stem_in"}
    assert {s.num_stages for s in SPECS} == {1, 2, 3, 4, 5}
    assert any(s.se_r for s in SPECS) and len({s.resolution for s in SPECS}) >= 5


@pytest.mark.parametrize("spec", SPECS, ids=range(len(SPECS)))
def test_analytic_count_matches_fvcore_and_model(spec):
    assert fvcore_complexity(spec) == complexity(spec)
    with torch.no_grad():
        out = AnyNet(spec).eval()(torch.randn(1, spec.in_channels, spec.resolution, spec.resolution))
    assert out.shape == (1, spec.num_classes)


def test_crosscheck_would_see_a_wrong_count():
    spec = SPECS[0]
    # One more stage block changes the model; the two counts must then disagree with the old analytic value.
    bigger = spec.with_fields(depths=[d + 1 for d in spec.depths])
    assert fvcore_complexity(bigger) != complexity(spec)


@pytest.mark.parametrize("spec", SPECS[:10], ids=range(10))
def test_training_forward_and_backward(spec):
    model = AnyNet(spec).train()
    out = model(torch.randn(2, spec.in_channels, spec.resolution, spec.resolution))
    assert out.shape == (2, spec.num_classes)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
