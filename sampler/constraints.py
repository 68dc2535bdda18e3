"""Constraints as data: small, named, serializable edits of a design space, and the size of a space, for an
automated version of the RegNet paper's refinement loop (AnyNetX_A -> B -> C -> D -> E -> RegNet).

A Constraint is one of: share a per-stage parameter across stages ("shared b"), order it across stages
("w non-decreasing"), narrow a parameter's range ("d in [2, 6]"), fix it to one value ("b = 1"), or switch an
anynet space of X blocks to the quantized linear rule ("regnet"). Each has a written form (parse_constraint), a
dict form (to_dict, Constraint.from_dict) and says whether it applies to a space; applying it gives the child
space, which writes as an ordinary space YAML (space_yaml).

Sizes (log10_size) count parameter settings exactly, as the paper's section 3.1 does: a per-stage parameter with
n values over s stages gives n**s settings, n if shared, and C(n + s - 1, s) if non-decreasing (the number of
non-decreasing sequences, ties included). Against the paper's figures for the built-in ImageNet-scale spaces
(d 16 values, w 128, b 3, g 6, four stages):

    A  (16*128*3*6)**4            = 1.847e18   paper 1.8e18
    B  3 * (16*128*6)**4          = 6.840e16   paper 6.8e16
    C  18 * (16*128)**4           = 3.167e14   paper 3.2e14
    D  18 * 16**4 * C(131, 4)     = 1.382e13   paper 1.3e13
    E  18 * C(19, 4) * C(131, 4)  = 8.174e11   paper 5.5e11
    RegNetX  17*32*2481*1001*19*1 = 2.567e10   paper 3.0e8 (its section 3.3 RegNet)
    E's regnet child  61*128*2481*1501*3*6 = 5.234e11 (d 4..64, w0 8..1024, wa 8..256, wm 1.5..3; b, g as E's)

The paper divides by 4! for each ordered parameter (the share of 4-tuples of distinct values that are in order,
C / 24 = 1.32e13, D / 24 = 5.5e11). That leaves out ties, which a non-decreasing sequence may have: the exact
count C(n + 3, 4) exceeds n**4 / 4! by (1 + 1/n)(1 + 2/n)(1 + 3/n), 1.05 for w's 128 values but 1.42 for d's 16,
so D is 6% above the paper's and E 49%. The built-in RegNetX space is not the paper's section 3.3 RegNet: it is pycls's
refined sampler (d in [12, 28], b = 1, g 19 values) and its wa and wm steps (0.1 and 0.001) give 2481 * 1001
(wa, wm) pairs, where the paper's 3.0e8 over d < 64, w0 < 256 (32 multiples of 8), b and g as in E (3 * 6) leaves
about 3.0e8 / (64 * 32 * 18) = 8e3 pairs, a far coarser grid that the paper does not state. A regnet space's count
is a parameter grid and an upper bound on its networks: the quantized rule maps several settings to one network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml

from anynet.errors import SpecError, check_keys
from anynet.spec import BOTTLENECK
from anynet.validate import check_choice, check_real
from sampler.distributions import Distribution
from sampler.space import ANYNET_PARAMS, MODEL_PARAMS, REGNET_PARAMS, DesignSpace, Param

KINDS = ("share", "order", "narrow", "fix", "regnet")
CONSTRAINT_KEYS = ("kind", "param", "low", "high", "value")
FIELDS = {"share": ("param",), "order": ("param",), "narrow": ("param", "low", "high"), "fix": ("param", "value")}
PARAMS = tuple(dict.fromkeys(ANYNET_PARAMS + REGNET_PARAMS + MODEL_PARAMS))
FORMS = "shared P, P shared, P non-decreasing, P in [low, high], P = value, regnet"
REGNET_WORD = "parameter grid (upper bound: the quantized rule maps several settings to one network)"
# The written forms, on text with single spaces: (pattern, kind).
NUMBER = r"([^\s,\[\]=]+)"
WRITTEN = (
    (re.compile(r"shared (\w+)"), "share"),
    (re.compile(r"(\w+) shared"), "share"),
    (re.compile(r"(\w+) non-decreasing"), "order"),
    (re.compile(rf"(\w+) in \[ ?{NUMBER} ?, ?{NUMBER} ?\]"), "narrow"),
    (re.compile(rf"(\w+) ?= ?{NUMBER}"), "fix"),
    (re.compile(r"regnet"), "regnet"),
)


def log10_size(space: DesignSpace) -> tuple[float, str]:
    """log10 of the number of distinct parameter settings of the space, and how it was counted: "exact",
    "estimated: lr continuous, left out" where a continuous parameter has no finite count, or for a regnet space
    REGNET_WORD (its grid of d, w0, wa, wm, g, b)."""
    s = space.stages
    count = 1
    continuous = []
    for name, param in space.params.items():
        if param.dist.kind == "log_uniform_real":
            continuous.append(name)
            continue
        n = len(param.dist.pmf())
        if space.kind == "regnet" or name in MODEL_PARAMS or param.shared:
            count *= n
        elif name in space.non_decreasing:
            count *= math.comb(n + s - 1, s)
        else:
            count *= n**s
    left_out = f"{', '.join(continuous)} continuous, left out" if continuous else ""
    if space.kind == "regnet":
        word = f"{REGNET_WORD}; {left_out}" if left_out else REGNET_WORD
    else:
        word = f"estimated: {left_out}" if left_out else "exact"
    return math.log10(count), word


@dataclass(frozen=True)
class Constraint:
    """One named edit of a design space: kind share or order (param), narrow (param, low, high), fix (param,
    value) or regnet (no fields). Validated on creation; errors name the field (constraint.kind, ...)."""

    kind: str
    param: str | None = None
    low: float | None = None
    high: float | None = None
    value: float | None = None

    def __post_init__(self) -> None:
        check_choice("constraint.kind", self.kind, KINDS)
        needed = FIELDS.get(self.kind, ())
        for name in ("param", "low", "high", "value"):
            given = getattr(self, name) is not None
            if name in needed and not given:
                raise SpecError(f"constraint.{name}: required for kind {self.kind}")
            if given and name not in needed:
                takes = ", ".join(needed) or "no other field"
                raise SpecError(f"constraint.{name}: not a field of kind {self.kind} (it takes {takes})")
        if self.param is not None:
            check_choice("constraint.param", self.param, ANYNET_PARAMS if self.kind in ("share", "order") else PARAMS)
        for name in ("low", "high", "value"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _number(check_real(f"constraint.{name}", getattr(self, name))))
        if self.kind == "narrow" and self.low > self.high:
            raise SpecError(f"constraint.low: {self.low!r} is above high {self.high!r}")

    @property
    def name(self) -> str:
        """The written form: "shared b", "w non-decreasing", "d in [2, 6]", "b = 1" or "regnet"."""
        p = self.param
        return {
            "share": f"shared {p}",
            "order": f"{p} non-decreasing",
            "narrow": f"{p} in [{self.low!r}, {self.high!r}]",
            "fix": f"{p} = {self.value!r}",
            "regnet": "regnet",
        }[self.kind]

    @property
    def suffix(self) -> str:
        """What a child space's name adds to its parent's, e.g. AnyNetX_A-shared-b."""
        p = self.param
        return {
            "share": f"shared-{p}",
            "order": f"ordered-{p}",
            "narrow": f"{p}-{self.low!r}-{self.high!r}",
            "fix": f"{p}{self.value!r}",
            "regnet": "regnet",
        }[self.kind]

    def applies_to(self, space: DesignSpace) -> bool:
        """Whether the edit is possible on the space and changes it."""
        try:
            self._child_data(space)
        except SpecError:
            return False
        return True

    def apply(self, space: DesignSpace) -> DesignSpace:
        """The child space, named after the parent and the edit; raises SpecError saying why it does not apply."""
        try:
            data = self._child_data(space)
        except SpecError as e:
            raise SpecError(f"constraint {self.name!r} does not apply to {space.name}: {e}") from None
        return DesignSpace.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The dict form that from_dict reads: kind and the kind's fields."""
        return {"kind": self.kind, **{k: getattr(self, k) for k in FIELDS.get(self.kind, ())}}

    @classmethod
    def from_dict(cls, data: Any) -> Constraint:
        """Read and validate a constraint; errors name the field."""
        if not isinstance(data, Mapping):
            raise SpecError(f"constraint: must be a mapping with keys {', '.join(CONSTRAINT_KEYS)}, got {data!r}")
        check_keys(data, CONSTRAINT_KEYS, "constraint")
        if "kind" not in data:
            raise SpecError(f"constraint.kind: required, one of {', '.join(KINDS)}")
        return cls(**data)

    def _child_data(self, space: DesignSpace) -> dict[str, Any]:
        """The child's dict form, or SpecError with the reason the edit does not apply."""
        data = space.to_dict()
        data.update(name=f"{space.name}-{self.suffix}", description=f"{space.name} with {self.name}")
        if self.kind == "regnet":
            return _regnet_data(space, data)
        p = self.param
        if p not in space.params:
            raise SpecError(f"{space.name} has no parameter {p} (it has {', '.join(space.params)})")
        param = space.params[p]
        order = [x for x in space.non_decreasing if x != p]
        if self.kind == "narrow":
            data["params"][p] = Param(_narrowed(p, param.dist, self.low, self.high), param.shared).to_dict()
            return data
        if self.kind == "fix":
            per_stage = space.kind == "anynet" and p in ANYNET_PARAMS  # shared: one value for all stages
            data["params"][p] = Param(_fixed(p, param.dist, self.value), per_stage).to_dict()
            data["non_decreasing"] = order
            return data
        if space.kind != "anynet":
            raise SpecError(f"{space.name} is a {space.kind} space: its parameters take one value per model")
        if param.shared:
            raise SpecError(f"{p} is shared already")
        if len(param.dist.pmf()) == 1:
            raise SpecError(f"{p} takes one value only")
        if self.kind == "share":
            data["params"][p]["shared"] = True
            data["non_decreasing"] = order
        elif p in space.non_decreasing:
            raise SpecError(f"{p} is non-decreasing already")
        else:
            data["non_decreasing"] = [*order, p]
        return data


def _regnet_data(space: DesignSpace, data: dict[str, Any]) -> dict[str, Any]:
    """The regnet child of an anynet space of X blocks whose b and g are shared or fixed. Its ranges follow the
    paper's section 3.3 (d < 64, w0 and wa < 256, 1.5 <= wm <= 3 for AnyNetX_E's d <= 16 and w <= 1024), scaled to
    the parent's d and w ranges: d uniform over [stages * d_low, stages * d_high] (a network has d_low to d_high
    blocks per stage), w0 log-uniform over the parent's w range (its multiples of q, step q), wa log-uniform over
    [w_low, w_high / 4] step 0.1, wm log-uniform over [1.5, 3] step 0.001; b and g keep their distributions (now
    one value per model) and so do se_r, lr and weight_decay.

    The paper's w0 < 256 is w_high / 4 like wa's; here w0 spans all of w's range, so the child of AnyNetX_E has w0
    in [8, 1024] and that of AnyNetX_E-small [8, 256]. The built-in RegNetX spaces are narrower still: they are
    the paper's section 4 refinement as pycls's sweeps draw it (RegNetX: d in [12, 28], w0 and wa in [8, 256];
    RegNetX-small: d in [6, 16], w0 and wa in [8, 64]; both wm in [2, 3], b = 1 and g a power of two below 8 or a
    multiple of 8 above). Narrowing d, w0 and wm and fixing b = 1 leads from this child to them, all but g."""
    if space.kind != "anynet" or space.block_type != BOTTLENECK:
        raise SpecError(f"applies to anynet spaces of {BOTTLENECK}; {space.name} is {space.kind} of {space.block_type}")
    params = space.params
    for p in ("b", "g"):
        if not (params[p].shared or len(params[p].dist.pmf()) == 1):
            raise SpecError(f"{p} takes a value per stage: share or fix it first ('shared {p}' or '{p} = 1')")
    ds, ws = sorted(params["d"].dist.pmf()), sorted(params["w"].dist.pmf())
    s, q = space.stages, space.q
    w0_low, w0_high = max(q, math.ceil(ws[0] / q) * q), math.floor(ws[-1] / q) * q
    wa_low, wa_high = _number(ws[0]), _number(math.floor(ws[-1] / 4 * 10) / 10)
    if w0_low > w0_high:
        raise SpecError(f"w's range [{ws[0]:g}, {ws[-1]:g}] holds no multiple of q={q} for w0")
    if wa_low > wa_high:
        raise SpecError(f"w's range [{ws[0]:g}, {ws[-1]:g}] is too narrow for wa in [w_low, w_high / 4]")
    data["kind"] = "regnet"
    data["non_decreasing"] = []
    data["params"] = {
        "d": {"dist": "uniform", "low": s * _number(ds[0]), "high": s * _number(ds[-1]), "q": 1},
        "w0": {"dist": "log_uniform", "low": w0_low, "high": w0_high, "q": q},
        "wa": {"dist": "log_uniform", "low": wa_low, "high": wa_high, "q": 0.1},
        "wm": {"dist": "log_uniform", "low": 1.5, "high": 3.0, "q": 0.001},
        "g": Param(params["g"].dist).to_dict(),
        "b": Param(params["b"].dist).to_dict(),
        **{p: params[p].to_dict() for p in MODEL_PARAMS if p in params},
    }
    return data


def _narrowed(p: str, dist: Distribution, low: float, high: float) -> Distribution:
    """dist on [low, high], its kind and step kept: low and high must lie inside its range and are snapped inward
    to its grid (multiples of q; powers of two for power2 and power2_or_log_uniform; the values of a choice)."""
    if dist.kind == "log_uniform_real":
        _check_inside(p, low, high, dist.low, dist.high)
        if (low, high) == (dist.low, dist.high):
            raise SpecError(f"{p} in [{low!r}, {high!r}] is {p}'s whole range")
        return replace(dist, low=low, high=high)
    support = sorted(dist.pmf())
    _check_inside(p, low, high, support[0], support[-1])
    if dist.kind == "choice":
        values = tuple(v for v in dist.values if not (_below(v, low) or _below(high, v)))
        if not values:
            raise SpecError(f"no value of {p} ({_show(support)}) lies in [{low!r}, {high!r}]")
        new = replace(dist, values=values)
    else:
        if dist.kind in ("uniform", "log_uniform"):
            k_low, k_high = math.ceil(low / dist.q - 1e-9), math.floor(high / dist.q + 1e-9)
            new_low, new_high = _number(round(k_low * dist.q, 12)), _number(round(k_high * dist.q, 12))
        else:
            new_low, new_high = 2 ** math.ceil(math.log2(low) - 1e-9), 2 ** math.floor(math.log2(high) + 1e-9)
        if new_low > new_high:
            raise SpecError(f"no value on {p}'s grid lies in [{low!r}, {high!r}] ({_show(support)})")
        new = replace(dist, low=new_low, high=new_high)
    if sorted(new.pmf()) == support:
        raise SpecError(f"{p} in [{low!r}, {high!r}] keeps all of {p}'s values ({_show(support)})")
    return new


def _fixed(p: str, dist: Distribution, value: float) -> Distribution:
    """A choice of the one value, which must be one of dist's (inside its range, if continuous)."""
    if dist.kind == "log_uniform_real":
        _check_inside(p, value, value, dist.low, dist.high)
    else:
        support = sorted(dist.pmf())
        if len(support) == 1:
            raise SpecError(f"{p} takes one value only")
        if not any(math.isclose(v, value, rel_tol=1e-9) for v in support):
            raise SpecError(f"{value!r} is not a value of {p} ({_show(support)})")
    return Distribution("choice", values=(value,))


def _check_inside(p: str, low: float, high: float, lowest: float, highest: float) -> None:
    if _below(low, lowest) or _below(highest, high):
        raise SpecError(f"[{low!r}, {high!r}] is not inside {p}'s range [{lowest:g}, {highest:g}]")


def _below(a: float, b: float) -> bool:
    """a < b beyond rounding."""
    return a < b and not math.isclose(a, b, rel_tol=1e-9)


def _number(x: float) -> int | float:
    """x as an int where it is integral (so names read "d in [2, 6]"), else as a float."""
    return int(x) if float(x).is_integer() else float(x)


def _show(support: list[float]) -> str:
    """A parameter's values in a few words."""
    if len(support) <= 8:
        return "values " + ", ".join(f"{v:g}" for v in support)
    return f"{len(support)} values {support[0]:g} to {support[-1]:g}"


def parse_constraint(text: str) -> Constraint:
    """A constraint from its written form: "shared b", "b shared", "w non-decreasing", "d in [2, 6]", "b = 1" or
    "regnet"; errors name the text and the allowed forms."""
    if not isinstance(text, str):
        raise SpecError(f"constraint: must be text, one of the forms {FORMS}; got {text!r}")
    words = " ".join(text.split())
    for pattern, kind in WRITTEN:
        match = pattern.fullmatch(words)
        if match is None:
            continue
        found: list[Any] = list(match.groups())
        for i in range(1, len(found)):
            try:
                found[i] = float(found[i])
            except ValueError:
                raise SpecError(f"constraint {text!r}: {found[i]!r} is not a number") from None
        try:
            return Constraint(kind, **dict(zip(FIELDS.get(kind, ()), found)))
        except SpecError as e:
            raise SpecError(f"constraint {text!r}: {e}") from None
    raise SpecError(f"constraint {text!r}: not one of the forms {FORMS} (P a parameter: {', '.join(PARAMS)})")


def candidates(space: DesignSpace) -> list[Constraint]:
    """Every applicable edit of the paper's refinement steps, in a stable order: share, then order, each per-stage
    parameter (d, w, b, g, e, k), then b = 1 and g = 1 (the paper's section 5 ends with b = 1 for RegNetX), then the
    switch to the quantized linear rule."""
    per_stage = [p for p in ANYNET_PARAMS if p in space.params]
    options = [Constraint("share", p) for p in per_stage] + [Constraint("order", p) for p in per_stage]
    options += [Constraint("fix", "b", value=1), Constraint("fix", "g", value=1), Constraint("regnet")]
    return [c for c in options if c.applies_to(space)]


def space_yaml(space: DesignSpace) -> str:
    """The space as the YAML that get_space(path) and load_space_file read back to an equal space."""
    return yaml.safe_dump(space.to_dict(), sort_keys=False)
