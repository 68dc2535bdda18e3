"""One flat row per spec: per-stage and shared values, RegNet parameters, complexity (for DataFrames)."""

from __future__ import annotations

from typing import Any

from anynet.model import Complexity, complexity
from anynet.spec import AnyNetSpec


def spec_row(spec: AnyNetSpec, cx: Complexity | None = None) -> dict[str, Any]:
    """d1.., w1.., b1.., g1.. per stage (b = 1/bot_mul, the paper's bottleneck ratio); b and g when one value
    serves every stage; total depth d; the RegNet's w0, wa, wm; flops, params, acts."""
    row: dict[str, Any] = {"stages": spec.num_stages, "d": sum(spec.depths)}
    per_stage = {"d": spec.depths, "w": spec.widths}
    if spec.bot_muls is not None:
        per_stage["b"] = tuple(1 / b for b in spec.bot_muls)
        per_stage["g"] = spec.group_ws
    for name, values in per_stage.items():
        for i, v in enumerate(values):
            row[f"{name}{i + 1}"] = v
        if name in ("b", "g") and len(set(values)) == 1:
            row[name] = values[0]
    if spec.regnet is not None:
        row.update(w0=spec.regnet.w0, wa=spec.regnet.wa, wm=spec.regnet.wm, g=spec.regnet.group_w)
    row.update((cx or complexity(spec))._asdict())
    return row
