"""The zoo's ResNets, ResNeXts, MobileNetV2, EfficientNet-B0 and D2L's RegNetX32: parameters against the libraries'
own models (built here and counted), flops against fvcore, and their spec fields."""

import importlib

import pytest
import torch

from anynet import AnyNet, complexity, zoo_names, zoo_spec
from anynet.crosscheck import fvcore_complexity
from anynet.libraries import import_library

NEW = [
    "ResNet-18",
    "ResNet-34",
    "ResNet-101",
    "ResNet-152",
    "ResNeXt-101-32x4d",
    "ResNeXt-101-32x8d",
    "MobileNetV2",
    "EfficientNet-B0",
    "RegNetX32",
]
# (library, module, builder): the library's model of the same network
LIBRARY_MODELS = {
    "ResNet-18": ("torchvision", "torchvision.models.resnet", "resnet18"),
    "ResNet-34": ("torchvision", "torchvision.models.resnet", "resnet34"),
    "ResNet-50": ("torchvision", "torchvision.models.resnet", "resnet50"),
    "ResNet-101": ("torchvision", "torchvision.models.resnet", "resnet101"),
    "ResNet-152": ("torchvision", "torchvision.models.resnet", "resnet152"),
    "ResNeXt-50-32x4d": ("torchvision", "torchvision.models.resnet", "resnext50_32x4d"),
    "ResNeXt-101-32x8d": ("torchvision", "torchvision.models.resnet", "resnext101_32x8d"),
    "ResNeXt-101-32x4d": ("timm", "timm.models.resnet", "resnext101_32x4d"),  # torchvision has no 32x4d
    "MobileNetV2": ("torchvision", "torchvision.models.mobilenetv2", "mobilenet_v2"),
}
PUBLISHED_PARAMS = {"MobileNetV2": 3_504_872, "ResNet-18": 11_689_512, "ResNeXt-101-32x8d": 88_791_336}


def test_new_names_are_in_the_zoo():
    assert set(NEW) <= set(zoo_names())
    assert zoo_spec("efficientnet_b0") == zoo_spec("EfficientNet-B0")
    assert zoo_spec("regnetx32") != zoo_spec("RegNetX-32GF")


@pytest.mark.parametrize("name", LIBRARY_MODELS)
def test_params_equal_the_librarys_model(name):
    library, module, builder = LIBRARY_MODELS[name]
    import_library(library)
    model = getattr(importlib.import_module(module), builder)()
    params = sum(p.numel() for p in model.parameters())
    assert complexity(zoo_spec(name)).params == params == sum(p.numel() for p in AnyNet(zoo_spec(name)).parameters())
    if name in PUBLISHED_PARAMS:
        assert params == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", NEW)
def test_fvcore_agrees(name):
    # the large ones at 64 px: the same layers, a quicker trace (`anynet info NAME --fvcore` agrees at 224 px too)
    small = name in ("MobileNetV2", "EfficientNet-B0", "RegNetX32", "ResNet-18")
    spec = zoo_spec(name) if small else zoo_spec(name, resolution=64)
    torch.manual_seed(0)
    assert fvcore_complexity(spec) == complexity(spec)


def test_mobilenet_v2_layout():
    spec = zoo_spec("MobileNetV2")
    assert (spec.depths, spec.widths, spec.strides) == (
        (1, 2, 3, 4, 3, 3, 1),
        (16, 24, 32, 64, 96, 160, 320),
        (1, 2, 2, 2, 1, 2, 1),
    )
    assert spec.exp_rs == (1.0,) + (6.0,) * 6 and spec.kernels == (3,) * 7
    assert (spec.stem_w, spec.head_w, spec.activation, spec.se_r) == (32, 1280, "relu6", 0.0)


def test_d2l_regnetx32():
    spec = zoo_spec("RegNetX32")
    assert (spec.depths, spec.widths, spec.group_ws, spec.bot_muls) == ((4, 6), (32, 80), (16, 16), (1.0, 1.0))
    assert (spec.in_channels, spec.num_classes, spec.resolution, spec.strides) == (1, 10, 96, (2, 2))
    out = AnyNet(spec).eval()(torch.zeros(2, 1, 96, 96))
    assert out.shape == (2, 10)
