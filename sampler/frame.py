"""One flat row per spec: per-stage and shared values, RegNet parameters, complexity (for DataFrames)."""

from __future__ import annotations

from typing import Any

from anynet.counting import Complexity, complexity
from anynet.spec import AnyNetSpec


def spec_row(spec: AnyNetSpec, cx: Complexity | None = None) -> dict[str, Any]:
    """d1.., w1.., b1.., g1.. per stage (b = 1/bot_mul, the paper's bottleneck ratio), e1.., k1.. for mb_conv
    blocks (expansion ratio, kernel size); b and g when one value serves every stage; total depth d; se_r for
    mb_conv blocks; the RegNet's w0, wa, wm; flops, params, acts."""
    row: dict[str, Any] = {"stages": spec.num_stages, "d": sum(spec.depths)}
    per_stage = {"d": spec.depths, "w": spec.widths}
    if spec.bot_muls is not None:
        per_stage["b"] = tuple(1 / b for b in spec.bot_muls)
        per_stage["g"] = spec.group_ws
    for name, key in (("e", "exp_rs"), ("k", "kernels")):  # mb_conv blocks' expansion ratios and kernel sizes
        if getattr(spec, key, None) is not None:
            per_stage[name] = getattr(spec, key)
    for name, values in per_stage.items():
        for i, v in enumerate(values):
            row[f"{name}{i + 1}"] = v
        if name in ("b", "g") and len(set(values)) == 1:
            row[name] = values[0]
    if "e" in per_stage:
        row["se_r"] = spec.se_r
    if spec.regnet is not None:
        row.update(w0=spec.regnet.w0, wa=spec.regnet.wa, wm=spec.regnet.wm, g=spec.regnet.group_w)
    row.update((cx or complexity(spec))._asdict())
    return row
