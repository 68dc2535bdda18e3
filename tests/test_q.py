"""One RegNet quantum q carried everywhere: a space's q -> its w0 grid and the sampled RegNetParams(q=...) -> the
spec -> the fitted rule -> the export."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis.export import export, regnet_forms, sweep_q, top_models
from analysis.fit import fit_rule, with_fits
from anynet.cli import main
from anynet.errors import SpecError
from anynet.regnet import RegNetParams, quantized_linear
from anynet.spec import AnyNetSpec
from sampler import get_space, sample
from test_export import sweep_folder

BAND = (360e6, 400e6)


def test_sample_set_q_16_gives_multiples_of_16_and_valid_specs(tmp_path, capsys):
    out = tmp_path / "q16.jsonl"
    assert (
        main(["sample", "--space", "RegNetX", "--set", "q=16", "--n", "60", "--flops", "360M:400M", "--out", str(out)])
        == 0
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 60
    for record in records:
        fields = {k: v for k, v in record.items() if k not in ("id", "space", "flops", "params", "acts")}
        spec = AnyNetSpec.from_dict(fields)  # validates, the RegNet's widths included
        r = spec.regnet
        assert r.q == 16 and r.w0 % 16 == 0 and all(w % 16 == 0 for w in r.rule.widths)
        assert all(w % 16 == 0 or w % g == 0 for w, g in zip(spec.widths, spec.group_ws))  # the group rule may move one
        assert AnyNetSpec.from_dict({"regnet": record["regnet"]}).widths == spec.widths


def test_q_16_with_group_widths_dividing_16_keeps_every_width_a_multiple_of_16():
    space = get_space("RegNetX-small").with_overrides({"q": 16, "params.g": {"dist": "power2", "low": 1, "high": 16}})
    assert space.params["w0"].dist.q == 16 and space.params["w0"].dist.low == 16
    specs = sample(space, 200, seed=3, flops=(2e6, 40e6))
    assert all(s.regnet.q == 16 and all(w % 16 == 0 for w in s.widths) for s in specs)
    assert sample(space, 50, seed=3, flops=(2e6, 40e6)).specs == specs.specs[:50]  # seeded, prefix kept


def test_a_q_that_w0_cannot_take_is_refused_naming_the_field():
    with pytest.raises(SpecError, match=r"params.w0: values must be multiples of 16 \(q\); the distribution gives 8"):
        get_space("RegNetX").with_overrides({"q": 16, "params.w0.low": 8})
    assert get_space("RegNetX").to_dict()["q"] == 8 and "head_w" not in get_space("RegNetX").to_dict()


def test_fit_with_q_recovers_rule_made_widths():
    rng = np.random.default_rng(0)
    found = 0
    while found < 6:
        try:
            p = RegNetParams(
                depth=int(rng.integers(6, 20)),
                w0=16 * int(rng.integers(1, 6)),
                wa=round(float(rng.uniform(8, 64)), 1),
                wm=round(float(rng.uniform(1.8, 2.8)), 3),
                group_w=16,
                q=16,
            )
        except SpecError:
            continue
        found += 1
        fit = fit_rule(p.rule.ws_all, q=16)
        assert fit.e_fit < 1e-9 and fit.w0 % 16 == 0, (p, fit)
        assert quantized_linear(p.depth, fit.w0, fit.wa, fit.wm, 16).ws_all == p.rule.ws_all
    with pytest.raises(ValueError, match="q must be an integer >= 1"):
        fit_rule([16, 32], q=0)


def test_with_fits_uses_each_regnets_own_q():
    specs = sample(get_space("RegNetX-small").with_overrides({"q": 16}), 6, seed=1, flops=(2e6, 40e6)).specs
    fitted = with_fits(pd.DataFrame({"spec": specs}))
    assert (fitted.fit_w0 % 16 == 0).all() and (fitted.e_fit < 0.05).all()


def test_fitted_exports_keep_the_space_q(tmp_path):
    specs = sample("AnyNetX_E-small", 8, seed=2, flops=(2e6, 40e6)).specs
    for form in regnet_forms(specs, q=16):
        if not isinstance(form, str):
            assert form.spec.regnet.q == 16 and all(w % 16 == 0 for w in form.spec.regnet.rule.widths)
    path, _ = sweep_folder(tmp_path, "AnyNetX_E-small", name="e16", overrides={"q": 16})
    assert sweep_q(path) == 16 and (top_models(path, 3).q == 16).all()
    configs, _ = export(path, top=3, fmt="yaml")
    assert all(c["regnet"]["q"] == 16 for c in configs if c["source"] == "fitted")


def test_sampled_regnets_export_with_their_q(tmp_path):
    path, plan = sweep_folder(tmp_path, "RegNetX-small", name="x16", overrides={"q": 16})
    assert all(row.spec.regnet.q == 16 for row in plan)
    configs, _ = export(path, top=2, fmt="json")
    assert [c["source"] for c in configs] == ["sampled", "sampled"] and all(c["regnet"]["q"] == 16 for c in configs)
    assert AnyNetSpec.from_dict(configs[0]["spec"]).regnet.q == 16
