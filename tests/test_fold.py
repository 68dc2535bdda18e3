"""Evaluation with BatchNorm folded into the convolutions: the same outputs as the eval-mode model, for every
block type and stem, without touching the model that trains on."""

import numpy as np
import pytest
import torch
from torch import nn

from anynet.fold import AddReLU, fold_batchnorm
from anynet.layers import BatchNorm2d
from anynet.model import AnyNet
from random_specs import random_spec


def trained_looking(spec) -> AnyNet:
    """A model whose BatchNorms hold non-trivial statistics and affine parameters, as after training."""
    torch.manual_seed(0)
    model = AnyNet(spec)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.3, 3.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_()
    return model.to(memory_format=torch.channels_last)


@pytest.mark.parametrize("seed", range(12))
def test_the_folded_model_computes_what_the_eval_model_computes(seed):
    spec = random_spec(np.random.default_rng(seed))
    model = trained_looking(spec)
    x = torch.randn(4, spec.in_channels, spec.resolution, spec.resolution).contiguous(memory_format=torch.channels_last)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batchnorm(model)
    assert model.training and all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert not any(isinstance(m, BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, AddReLU) for m in folded.modules()) == sum(
        isinstance(m, BatchNorm2d) for m in model.modules()
    )
    with torch.inference_mode():
        expected = model.eval()(x)
        assert torch.allclose(folded(x), expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
