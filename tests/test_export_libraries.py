"""Exports built in the libraries they are for: pycls 0.1.1, timm and torchvision (CI installs them with --no-deps
from tests/reference-libs.txt; a library that is not installed or does not import is skipped, saying why).

Over 105 sampled models (RegNetX/Y and AnyNetX_A..E; Fashion-MNIST-like, CIFAR-like and ImageNet-scale spaces),
each as its RegNet form and as studied: an export that says it is exact builds a model with anynet's parameter
count, output shape and fvcore flops; one that is not exact says so in one line and does differ; one the library
cannot build at all is refused in one line. Then `anynet export --check` on sweep folders, the pycls YAML through
pycls's own config, and trained weights carried across with equal outputs.
"""

import functools
from collections import Counter

import pytest
import torch
import yaml

from analysis.export import RegNetForm, regnet_forms
from anynet.cli import main
from anynet.convert import convert_state_dict, load_weights
from anynet.errors import AnynetError
from anynet.libraries import build, check, import_library, library_form
from anynet.counting import complexity
from anynet.model import AnyNet
from anynet.spec import AnyNetSpec
from anynet.zoo import zoo_spec
from sampler import get_space, sample
from test_export import sweep_folder

SPACES = ("RegNetX", "RegNetY", "AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E")
PER_SPACE = 5
FLOPS_EVERY = 3  # fvcore traces every third exact build (and every inexact one): its trace is the slow part


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the models are tiny, and two threads on a machine busy with other work wait on each other
    (15x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def require(library: str) -> None:
    try:
        import_library(library)
    except AnynetError as e:
        pytest.skip(str(e))


@functools.cache
def sampled() -> list[AnyNetSpec]:
    """5 models of each of 7 spaces at three scales: 1 channel at 28 px and 3 channels at 32 px (3 stages, strides
    1-2-2, res_stem_cifar), and ImageNet's 4 stages at 64 px (under 4M params)."""
    specs = []
    for space in SPACES:
        scales = (({}, None), ({"in_channels": 3, "resolution": 32}, None), ({"resolution": 64}, 4e6))
        for seed, (overrides, band) in enumerate(scales):
            name = space if band else f"{space}-small"
            found = sample(get_space(name).with_overrides(overrides), PER_SPACE, seed=seed, params=(None, band))
            specs += found.specs
    return specs


@functools.cache
def targets() -> list[tuple[str, AnyNetSpec, bool]]:
    """(label, network, explicit): each sampled model's RegNet form (sampled, or fitted with its stages) and the
    studied network itself."""
    specs = sampled()
    out = []
    for i, (spec, form) in enumerate(zip(specs, regnet_forms(specs))):
        if isinstance(form, RegNetForm):
            out.append((f"{i} {form.source}", form.spec, False))
        out.append((f"{i} studied", spec, True))
    return out


def test_the_sample_covers_every_kind():
    specs = sampled()
    assert len(specs) == 105
    assert {s.num_stages for s in specs} == {3, 4} and {s.in_channels for s in specs} == {1, 3}
    assert {s.stem_type for s in specs} == {"res_stem_cifar", "simple_stem_in"}
    assert sum(s.se_r > 0 for s in specs) == 15 and sum(s.regnet is None for s in specs) == 75
    assert len(targets()) > 160  # the RegNet forms of 100+ models, and the models as studied


@pytest.mark.parametrize("library", ["pycls", "timm", "torchvision"])
def test_every_export_is_exact_where_it_says_so_and_differs_where_it_says_so(library):
    require(library)
    counts: Counter = Counter()
    seen = set()  # a sampled RegNet as studied is often the very same export as its RegNet form: checked once
    for i, (label, spec, explicit) in enumerate(targets()):
        form = library_form(spec, library, explicit)
        if form.args is None:
            assert form.differs and "\n" not in form.differs
            counts["refused"] += 1
            continue
        if (form.python, spec) in seen:
            continue
        seen.add((form.python, spec))
        result = check(spec, form, flops=not form.exact or i % FLOPS_EVERY == 0)
        assert result.exact == form.exact, (label, form.differs, result.line(), form.python)
        counts["exact" if form.exact else "approximate"] += 1
    print(f"{library}: {dict(counts)}; {len(seen)} distinct exports built, of {len(targets())}")
    assert counts["exact"] > 0
    if library != "timm":  # pycls and torchvision build every network here (X/Y blocks), exactly or not
        assert counts["refused"] == 0
    if library == "torchvision":  # and torchvision exactly: its stem_type builds every stem and channel count
        assert counts["exact"] == len(seen)


def test_timm_builds_a_cifar_stem_model_only_approximately_and_says_so():
    require("timm")
    spec = zoo_spec("RegNetY-200MF", resolution=32).with_fields(stem_type="res_stem_cifar", strides=(1, 2, 2, 2))
    form = library_form(spec, "timm")
    result = check(spec, form)
    assert not form.exact and not result.exact and result.params[0] == result.params[1]  # same stages, other stem
    assert result.flops[0] < result.flops[1] and "stride 2" in form.differs


def test_anynet_export_check_builds_a_sweeps_exports_in_each_library(tmp_path, capsys):
    for library, space, overrides in (
        ("torchvision", "AnyNetX_E-small", {}),
        ("torchvision", "RegNetY-small", {}),
        ("pycls", "AnyNetX_B-small", {"in_channels": 3, "resolution": 32}),
        ("timm", "RegNetY", {"resolution": 64, "params.w0.high": 64, "params.wa.high": 64}),
    ):
        require(library)
        path, _ = sweep_folder(tmp_path, space, name=f"{library}-{space}", overrides=overrides)
        assert main(["export", str(path), "--top", "3", "--format", library, "--check"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 3 and all(line.endswith(": exact") and ", flops " in line for line in lines), lines
    require("pycls")
    path, _ = sweep_folder(tmp_path, "RegNetX-small", name="gray")
    assert main(["export", str(path), "--format", "pycls", "--approximate", "--check"]) == 1
    assert "pycls: does not run on a 1x1x28x28 input" in capsys.readouterr().out


def test_pycls_reads_the_exported_yaml_with_its_own_config(tmp_path):
    require("pycls")
    from pycls.core.config import cfg
    from pycls.models.anynet import AnyNet as PyclsAnyNet
    from pycls.models.regnet import RegNet as PyclsRegNet
    from yacs.config import CfgNode

    from analysis.export import export

    default = cfg.clone()
    for space in ("AnyNetX_D", "RegNetX"):  # ANYNET and REGNET forms
        path, _ = sweep_folder(tmp_path, space, name=space, overrides={"resolution": 64, "params.d.high": 14})
        for as_studied in (False, True):
            configs, text = export(path, 2, "pycls", as_studied=as_studied)
            try:
                for config, doc in zip(configs, text.split("---\n")):
                    cfg.merge_from_other_cfg(CfgNode(yaml.safe_load(doc)))  # yacs checks every key and type
                    model = PyclsRegNet() if cfg.MODEL.TYPE == "regnet" else PyclsAnyNet()
                    assert sum(p.numel() for p in model.parameters()) == config["regnet_complexity"]["params"]
            finally:
                cfg.merge_from_other_cfg(default)


def randomized(model: torch.nn.Module) -> torch.nn.Module:
    """The model in eval mode with random BatchNorm parameters and statistics too (its convolutions are random
    already), so that its outputs tell any two wirings apart."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
    return model.eval()


def weight_specs(library: str) -> list[AnyNetSpec]:
    specs = [zoo_spec("RegNetY-200MF", in_channels=1, num_classes=10, resolution=32)]
    if library == "torchvision":  # its stem_type builds every stem
        specs += [sample("RegNetY-small", 1, seed=0).specs[0]]
        specs += [zoo_spec("ResNeXt-50-32x4d", resolution=64).with_fields(depths=(1, 1, 2, 1))]
    return specs


@pytest.mark.parametrize("library", ["timm", "torchvision"])
def test_weights_renamed_for_the_library_give_the_same_outputs(library):
    require(library)
    for spec in weight_specs(library):
        ours = randomized(AnyNet(spec))
        theirs = build(library_form(spec, library)).eval()
        theirs.load_state_dict(convert_state_dict(ours.state_dict(), library), strict=True)
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(2, spec.in_channels, spec.resolution, spec.resolution, generator=gen)
        with torch.no_grad():
            torch.testing.assert_close(theirs(x), ours(x), rtol=1e-4, atol=1e-5)


def test_a_pycls_checkpoint_loads_into_anynet(tmp_path):
    require("pycls")
    spec = sample("AnyNetX_A-small", 1, seed=0).specs[0].with_fields(in_channels=3)
    spec = AnyNetSpec.from_dict({**spec.to_dict(), "se_r": 0.25, "stem_type": "res_stem_in"})
    theirs = randomized(build(library_form(spec, "pycls")))
    torch.save({"epoch": 1, "model_state": theirs.state_dict()}, tmp_path / "model_epoch_0001.pyth")
    ours = AnyNet(spec).eval()
    ours.load_state_dict(load_weights(tmp_path / "model_epoch_0001.pyth"), strict=True)
    x = torch.randn(2, 3, spec.resolution, spec.resolution, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)
    assert complexity(spec).params == sum(p.numel() for p in theirs.parameters())
