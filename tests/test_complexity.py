"""Analytic complexity against golden values and pycls's published model zoo."""

import pytest

from anynet import AnyNetSpec, complexity, complexity_breakdown, zoo_names, zoo_spec

GOLDEN = {  # from the issue: (flops, params, acts) at 224 px, 3 channels, 1000 classes
    "RegNetX-400MF": (397_678_568, 5_157_512, 3_143_272),
    "RegNetY-200MF": (199_519_076, 3_162_996, 2_168_052),
}

# pycls MODEL_ZOO.md: flops (B), params (M), acts (M), rounded to one decimal.
PYCLS_ZOO = {
    "RegNetX-200MF": (0.2, 2.7, 2.2),
    "RegNetX-400MF": (0.4, 5.2, 3.1),
    "RegNetX-600MF": (0.6, 6.2, 4.0),
    "RegNetX-800MF": (0.8, 7.3, 5.1),
    "RegNetX-1.6GF": (1.6, 9.2, 7.9),
    "RegNetX-3.2GF": (3.2, 15.3, 11.4),
    "RegNetX-4.0GF": (4.0, 22.1, 12.2),
    "RegNetX-6.4GF": (6.5, 26.2, 16.4),
    "RegNetX-8.0GF": (8.0, 39.6, 14.1),
    "RegNetX-12GF": (12.1, 46.1, 21.4),
    "RegNetX-16GF": (15.9, 54.3, 25.5),
    "RegNetX-32GF": (31.7, 107.8, 36.3),
    "RegNetY-200MF": (0.2, 3.2, 2.2),
    "RegNetY-400MF": (0.4, 4.3, 3.9),
    "RegNetY-600MF": (0.6, 6.1, 4.3),
    "RegNetY-800MF": (0.8, 6.3, 5.2),
    "RegNetY-1.6GF": (1.6, 11.2, 8.0),
    "RegNetY-3.2GF": (3.2, 19.4, 11.3),
    "RegNetY-4.0GF": (4.0, 20.6, 12.3),
    "RegNetY-6.4GF": (6.4, 30.6, 16.4),
    "RegNetY-8.0GF": (8.0, 39.2, 18.0),
    "RegNetY-12GF": (12.1, 51.8, 21.4),
    "RegNetY-16GF": (15.9, 83.6, 23.0),
    "RegNetY-32GF": (32.3, 145.0, 30.3),
}


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_regnets(name):
    assert tuple(complexity(zoo_spec(name))) == GOLDEN[name]


def test_regnetx_400mf_stages():
    spec = zoo_spec("RegNetX-400MF")
    assert spec.widths == (32, 64, 160, 384)
    assert spec.depths == (1, 2, 7, 12)
    assert spec.group_ws == (16, 16, 16, 16)


def test_resnet56_cifar_golden():
    spec = AnyNetSpec(
        stem_type="res_stem_cifar",
        stem_w=16,
        block_type="res_basic_block",
        depths=[9, 9, 9],
        widths=[16, 32, 64],
        strides=[1, 2, 2],
        num_classes=10,
        resolution=32,
    )
    assert tuple(complexity(spec)) == (125_747_850, 855_770, 544_778)
    assert spec == zoo_spec("ResNet-56")


@pytest.mark.parametrize("name", PYCLS_ZOO)
def test_zoo_matches_pycls_table(name):
    flops, params, acts = complexity(zoo_spec(name))
    assert (round(flops / 1e9, 1), round(params / 1e6, 1), round(acts / 1e6, 1)) == PYCLS_ZOO[name]


def test_zoo_covers_every_regnet_of_the_paper():
    regnets = [n for n in zoo_names() if n.startswith(("RegNetX-", "RegNetY-"))]  # not D2L's RegNetX32
    assert sorted(regnets) == sorted(PYCLS_ZOO)


@pytest.mark.parametrize(
    "name, params",  # torchvision's published parameter counts of the same architectures
    [("ResNet-50", 25_557_032), ("ResNeXt-50-32x4d", 25_028_904)],
)
def test_imagenet_resnets_match_published_params(name, params):
    assert complexity(zoo_spec(name)).params == params


@pytest.mark.parametrize("name", ["RegNetY-400MF", "ResNet-50", "ResNet-20"])
def test_breakdown_sums_to_total(name):
    spec = zoo_spec(name)
    parts = complexity_breakdown(spec)
    assert [p[0] for p in parts] == ["stem"] + [f"s{i + 1}" for i in range(spec.num_stages)] + ["head"]
    assert tuple(sum(p[1][k] for p in parts) for k in range(3)) == tuple(complexity(spec))
    assert parts[-1][2] == (1, 1)


def test_resolution_changes_flops_not_params():
    small, big = zoo_spec("RegNetX-200MF", resolution=32), zoo_spec("RegNetX-200MF")
    assert complexity(small).params == complexity(big).params
    assert complexity(small).flops < complexity(big).flops / 40
