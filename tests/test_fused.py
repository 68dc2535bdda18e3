"""The fused CPU BatchNorm[+residual]+ReLU kernel against float64 references, ATen's path, and where it must not
be used."""

import pytest
import torch

from anynet import AnyNet, fused
from anynet.layers import BatchNorm2d

pytestmark = pytest.mark.skipif(fused.extension() is None, reason="the fused kernel could not be compiled here")


def reference(x: torch.Tensor, s: torch.Tensor | None, bn: BatchNorm2d, g: torch.Tensor, relu: bool):
    """Output, input/residual/weight/bias gradients and running statistics in float64 with ATen's BatchNorm."""
    ref = torch.nn.BatchNorm2d(x.shape[1]).double()
    ref.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in bn.state_dict().items()})
    x64 = x.detach().double().requires_grad_()
    s64 = s.detach().double().requires_grad_() if s is not None else None
    y = ref(x64) if s is None else ref(x64) + s64
    y = torch.relu(y) if relu else y
    y.backward(g.double())
    ds = s64.grad if s is not None else None
    return y, x64.grad, ds, ref.weight.grad, ref.bias.grad, ref.running_mean, ref.running_var


@pytest.mark.parametrize("shape", [(64, 32, 28, 28), (32, 64, 7, 7), (8, 3, 5, 5), (16, 24, 1, 1), (2, 1, 3, 3)])
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("residual", [True, False])
def test_matches_float64(shape, relu, residual):
    torch.manual_seed(0)
    x = (torch.randn(*shape) * 3 + 1.5).contiguous(memory_format=torch.channels_last).requires_grad_()
    s = torch.randn(*shape).contiguous(memory_format=torch.channels_last).requires_grad_() if residual else None
    bn = BatchNorm2d(shape[1], relu=relu)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    g = torch.randn(*shape).contiguous(memory_format=torch.channels_last)
    assert fused.can_fuse(bn, x)
    expected = reference(x, s, bn, g, relu)
    y = bn(x, s)
    y.backward(g)
    got = (y, x.grad, s.grad if residual else None, bn.weight.grad, bn.bias.grad, bn.running_mean, bn.running_var)
    for name, a, b in zip(("y", "dx", "dresidual", "dweight", "dbias", "running_mean", "running_var"), got, expected):
        if b is None:
            continue
        scale = max(b.abs().max().item(), 1.0)
        assert (a.double() - b).abs().max().item() / scale < 2e-5, name
    assert y.is_contiguous(memory_format=torch.channels_last) and bn.num_batches_tracked.item() == 1


def test_only_where_it_applies():
    bn = BatchNorm2d(8)
    x = torch.randn(4, 8, 6, 6)
    cl = x.contiguous(memory_format=torch.channels_last)
    assert fused.can_fuse(bn, cl) and not fused.can_fuse(bn, x)  # NCHW: ATen
    assert not fused.can_fuse(bn, cl.double())
    with torch.no_grad():
        assert not fused.can_fuse(bn, cl)
    bn.eval()
    assert not fused.can_fuse(bn, cl)  # evaluation uses the running statistics: ATen


def test_training_with_and_without_the_kernel_agree(monkeypatch):
    from anynet import AnyNetSpec

    spec = AnyNetSpec(
        stem_type="res_stem_cifar",
        stem_w=16,
        depths=[1, 2, 2],
        widths=[32, 64, 128],
        strides=[1, 2, 2],
        bot_muls=[1.0] * 3,
        group_ws=[16] * 3,
        se_r=0.25,
        num_classes=10,
        resolution=32,
    )
    torch.manual_seed(0)
    x = torch.randn(32, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (32,))

    def losses(dtype):
        torch.manual_seed(0)
        model = AnyNet(spec).to(dtype=dtype, memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        out = []
        for _ in range(4):
            loss = torch.nn.functional.cross_entropy(model(x.to(dtype)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
        return out

    exact = losses(torch.float64)  # ATen in float64: the reference trajectory
    with_kernel = losses(torch.float32)
    monkeypatch.setattr(fused, "extension", lambda: None)
    with_aten = losses(torch.float32)
    assert with_kernel == pytest.approx(exact, rel=1e-4)
    assert with_aten == pytest.approx(exact, rel=1e-4)
