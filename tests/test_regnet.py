"""The quantized linear rule and the compatibility rule."""

import numpy as np
import pytest

from anynet import AnyNetSpec, RegNetParams, SpecError, adjust_block_compatibility, quantized_linear


def test_rule_for_regnetx_400mf():
    rule = quantized_linear(22, 24, 24.48, 2.54)
    assert rule.widths == (24, 64, 152, 392) and rule.depths == (1, 2, 7, 12)
    # The compatibility rule with group width 16 then rounds 24/16 = 1.5 -> 2, 152/16 = 9.5 -> 10 and
    # 392/16 = 24.5 -> 24 (half to even): the stage widths of RegNetX-400MF.
    ws, _, _ = adjust_block_compatibility(rule.widths, [1.0] * 4, [16] * 4)
    assert ws == [32, 64, 160, 384]
    assert rule.ws_cont[:3] == pytest.approx((24.0, 48.48, 72.96))
    assert rule.ss == (0,) + (1,) * 2 + (2,) * 7 + (3,) * 12
    assert len(rule.ws_all) == 22 and sum(rule.depths) == 22


def test_stage_index_rounds_half_to_even():
    # log(16/8)/log(4) is exactly 0.5: numpy rounds it to 0 (half to even), so both blocks stay in stage 0.
    assert np.log(16 / 8) / np.log(4) == 0.5
    assert quantized_linear(2, 8, 8, 4.0).ws_all == (8, 8)


def test_width_quantization_rounds_half_to_even():
    # 8 * 2.5 / 8 = 2.5 rounds to 2 (half to even), so the width is 16, not 24.
    rule = quantized_linear(2, 8, 12, 2.5)
    assert rule.ss == (0, 1)
    assert rule.ws_all == (8, 16)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(wa=-1.0), "regnet.wa: must be a number >= 0"),
        (dict(w0=0), "regnet.w0: must be an integer >= 1"),
        (dict(w0=20), "regnet.w0: must be a multiple of q=8, got 20"),
        (dict(wm=1.0), "regnet.wm: must be a number > 1"),
        (dict(depth=0), "regnet.depth: must be an integer >= 1"),
        (dict(group_w=0), "regnet.group_w: must be an integer >= 1"),
        (dict(depth=2.5), "regnet.depth: must be an integer >= 1, got 2.5"),
    ],
)
def test_invalid_regnet_parameters(fields, message):
    base = dict(depth=13, w0=24, wa=36.44, wm=2.49, group_w=8)
    with pytest.raises(SpecError, match=message.replace(".", r"\.")):
        RegNetParams(**{**base, **fields})


def test_skipped_stage_is_invalid():
    # u = [8, 72]: s = [0, 2] with wm = 3 (72/8 = 9 = 3^2), so stage index 1 is skipped.
    assert quantized_linear(2, 8, 64, 3.0).ss == (0, 2)
    with pytest.raises(SpecError, match="skips a stage index"):
        RegNetParams(depth=2, w0=8, wa=64, wm=3.0, group_w=8)


def test_compatibility_clips_group_width_and_rounds_width():
    ws, bs, gs = adjust_block_compatibility([24, 40, 8], [1.0, 1.0, 1.0], [16, 16, 16])
    assert gs == [16, 16, 8]  # clipped to the inner width 8
    assert ws == [32, 32, 8]  # 24/16 = 1.5 -> 2 (half to even), 40/16 = 2.5 -> 2


def test_compatibility_uses_lcm_with_an_inverted_bottleneck():
    ws, bs, gs = adjust_block_compatibility([10], [2.0], [6])
    # inner width 20, group width 6, lcm(6, 2) = 6: 20 -> 18 inner, width 9
    assert (ws, gs) == ([9], [6])


def test_compatibility_keeps_compatible_values():
    ws, bs, gs = [32, 64, 96], [0.25, 0.5, 1.0], [8, 16, 32]
    assert adjust_block_compatibility(ws, bs, gs) == (ws, bs, gs)


def test_regnet_spec_applies_compatibility():
    # RegNetX-8.0GF's first stage is 80 wide with group width 120: the group width is clipped to 80.
    params = RegNetParams(depth=23, w0=80, wa=49.56, wm=2.88, group_w=120)
    spec = AnyNetSpec.from_regnet(params)
    assert spec.group_ws == (80, 120, 120, 120)
    assert spec.widths == (80, 240, 720, 1920)
    assert spec.regnet == params


def test_column_and_list_forms_of_the_rule_agree():
    from anynet.group_rule import adjust_columns

    rng = np.random.default_rng(0)
    n = 20_000
    ws = rng.integers(1, 600, n)
    bs = rng.choice([0.125, 0.25, 0.5, 1.0, 2.0, 4.0], n)
    gs = rng.integers(1, 80, n)
    col_ws, col_gs = adjust_columns(ws, bs, gs)
    for i in range(0, n, 4):
        w4, _, g4 = adjust_block_compatibility(ws[i : i + 4].tolist(), bs[i : i + 4].tolist(), gs[i : i + 4].tolist())
        assert (w4, g4) == (col_ws[i : i + 4].tolist(), col_gs[i : i + 4].tolist())


def test_a_spec_is_accepted_exactly_when_the_rule_leaves_it_unchanged():
    rng = np.random.default_rng(1)
    accepted = refused = 0
    for _ in range(5000):
        w, b, g = int(rng.integers(1, 200)), float(rng.choice([0.25, 0.5, 1.0, 2.0])), int(rng.integers(1, 40))
        unchanged = adjust_block_compatibility([w], [b], [g])[0::2] == ([w], [g])
        try:
            AnyNetSpec(depths=[1], widths=[w], strides=[1], bot_muls=[b], group_ws=[g], resolution=8)
            accepted += 1
            assert unchanged, (w, b, g)
        except SpecError:
            refused += 1
            assert not unchanged, (w, b, g)
    assert accepted > 200 and refused > 200
