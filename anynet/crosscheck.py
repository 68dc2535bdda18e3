"""An independent count of a spec's complexity: trace the built model with fvcore, in pycls's conventions."""

from __future__ import annotations

import torch
from torch import nn

from anynet.counting import Complexity
from anynet.model import AnyNet
from anynet.spec import AnyNetSpec


def _uncounted(inputs: list, outputs: list) -> int:
    return 0


def _biases(model: nn.Module) -> int:
    layers = (m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None)
    return sum(m.bias.numel() for m in layers)


def _input(spec: AnyNetSpec) -> torch.Tensor:
    return torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution)


def fvcore_flops(model: nn.Module, x: torch.Tensor | None = None) -> int:
    """fvcore's flop count of the model on x (default: an AnyNet's input at batch 1), in pycls's convention.

    batch_norm and adaptive_avg_pool2d count no flops (in fvcore 0.1.5 a None handle does not replace a
    default one, so they get a handle that counts 0); each bias adds its w_out, which fvcore leaves out. Any
    torch model counts (pycls's, timm's and torchvision's RegNets too: anynet.libraries.check).
    """
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model.eval(), _input(model.spec) if x is None else x)
    analysis.set_op_handle("aten::batch_norm", _uncounted, "aten::adaptive_avg_pool2d", _uncounted)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return int(analysis.total()) + _biases(model)


def fvcore_acts(model: AnyNet) -> int:
    """fvcore's activation count (conv and linear outputs) plus max-pool outputs, which pycls counts too."""
    from fvcore.nn import ActivationCountAnalysis

    x = _input(model.spec)
    analysis = ActivationCountAnalysis(model.eval(), x)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    total = int(analysis.total())  # traces the model
    pooled = 0

    def count_pool(_module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        nonlocal pooled
        pooled += out.numel()

    hooks = [m.register_forward_hook(count_pool) for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return total + pooled


def fvcore_complexity(spec: AnyNetSpec) -> Complexity:
    """Build the spec's model and count it independently: flops and acts via fvcore, params from the model."""
    model = AnyNet(spec)
    return Complexity(fvcore_flops(model), sum(p.numel() for p in model.parameters()), fvcore_acts(model))
