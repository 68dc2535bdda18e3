"""DesignSpace: a distribution over specs (per-parameter distributions) plus constraints, read from YAML."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anynet.errors import SpecError, check_keys
from anynet.files import read_yaml
from anynet.spec import ACTIVATIONS, BLOCK_TYPES, BOTTLENECK, BOTTLENECKS, KERNELS, MBCONV, STEM_TYPES
from anynet.validate import check_choice, check_int, check_list, check_real
from sampler.distributions import Distribution

KINDS = ("anynet", "regnet")
MB_CONV = MBCONV
# Parameter names (the paper's) per kind: anynet per-stage d, w, b, g (X blocks) or d, w, e, k (mb_conv blocks:
# expansion ratio and kernel size); regnet d, w0, wa, wm, g, b. Either kind may also draw one value per model of
# se_r (squeeze-excite ratio) and of the recipe's lr and weight_decay (MODEL_PARAMS), drawn after the others, so a
# space without them draws the same stream as before.
ANYNET_PARAMS = ("d", "w", "b", "g", "e", "k")
REGNET_PARAMS = ("d", "w0", "wa", "wm", "g", "b")
MODEL_PARAMS = ("se_r", "lr", "weight_decay")
HYPER_PARAMS = ("lr", "weight_decay")  # recipe fields: per model, they override the sweep's recipe
SPACE_KEYS = (
    "name",
    "description",
    "kind",
    "stages",
    "stem_type",
    "stem_w",
    "block_type",
    "strides",
    "se_r",
    "resolution",
    "in_channels",
    "num_classes",
    "params",
    "non_decreasing",
    "q",
    "head_w",
    "activation",
)
# Space fields newer than the first sweep folders: to_dict leaves them out at their defaults, so a sweep folder's
# recorded space (part of its identity) reads the same as before they existed.
NEWER_KEYS = {"head_w": 0, "activation": "relu"}
PARAM_KEYS = ("dist", "low", "high", "q", "values", "shared")


@dataclass(frozen=True)
class Param:
    """One parameter's distribution; a shared anynet parameter takes one value for all stages."""

    dist: Distribution
    shared: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = self.dist
        out: dict[str, Any] = {"dist": d.kind}
        if d.kind == "choice":
            out["values"] = list(d.values)
        else:
            out.update(low=d.low, high=d.high)
            if d.kind not in ("power2", "log_uniform_real"):
                out["q"] = d.q
        if self.shared:
            out["shared"] = True
        return out


@dataclass(frozen=True)
class DesignSpace:
    """A design space. `params` maps the paper's names to distributions; `non_decreasing` lists anynet
    parameters constrained to w_{i+1} >= w_i across stages (drawn from their ordered law directly, without
    rejection: sampler/draw.py). params.se_r, params.lr and params.weight_decay (MODEL_PARAMS) take one value per
    model: the spec's se_r, and recipe fields that override a sweep's recipe for that model."""

    name: str
    kind: str
    stages: int
    params: Mapping[str, Param]
    description: str = ""
    stem_type: str = "simple_stem_in"
    stem_w: int = 32
    block_type: str = BOTTLENECK
    strides: tuple[int, ...] = ()
    se_r: float = 0.0
    resolution: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    non_decreasing: tuple[str, ...] = ()
    q: int = 8  # the RegNet rule's width quantum: widths round(w0 * wm**s / q) * q, w0 a multiple of q
    head_w: int = 0  # a 1x1 conv of this width before the pooling (0: none), EfficientNet's head
    activation: str = "relu"
    _source: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> DesignSpace:
        """Read and validate a space; every error names its field."""
        if not isinstance(data, Mapping):
            raise SpecError(f"space: must be a mapping with keys {', '.join(SPACE_KEYS)}")
        check_keys(data, SPACE_KEYS)
        for key in ("name", "kind", "stages", "params"):
            if key not in data:
                raise SpecError(f"{key}: required")
        name = data["name"]
        if not isinstance(name, str) or not name:
            raise SpecError(f"name: must be a non-empty string, got {name!r}")
        kind = check_choice("kind", data["kind"], KINDS)
        stages = check_int("stages", data["stages"], minimum=1)
        block_type = check_choice("block_type", data.get("block_type", BOTTLENECK), BLOCK_TYPES)
        strides = data.get("strides", 2)
        strides = [strides] * stages if isinstance(strides, (int, float)) else check_list("strides", strides, stages)
        fields = dict(
            name=name,
            kind=kind,
            stages=stages,
            block_type=block_type,
            description=str(data.get("description", "")),
            stem_type=check_choice("stem_type", data.get("stem_type", "simple_stem_in"), STEM_TYPES),
            stem_w=check_int("stem_w", data.get("stem_w", 32), minimum=1),
            strides=tuple(check_int(f"strides[{i}]", s, minimum=1) for i, s in enumerate(strides)),
            se_r=check_real("se_r", data.get("se_r", 0.0), low=0.0),
            resolution=check_int("resolution", data.get("resolution", 224), minimum=1),
            in_channels=check_int("in_channels", data.get("in_channels", 3), minimum=1),
            num_classes=check_int("num_classes", data.get("num_classes", 1000), minimum=1),
            q=check_int("q", data.get("q", 8), minimum=1),
            head_w=check_int("head_w", data.get("head_w", 0), minimum=0),
            activation=check_choice("activation", data.get("activation", "relu"), ACTIVATIONS),
        )
        if fields["se_r"] and block_type not in (*BOTTLENECKS, MB_CONV):
            raise SpecError(f"se_r: applies to {', '.join(BOTTLENECKS)} and {MB_CONV} only, not {block_type}")
        if kind == "regnet" and block_type != BOTTLENECK:
            raise SpecError(f"block_type: a regnet space uses {BOTTLENECK}, got {block_type}")
        params = _read_params(kind, block_type, data["params"])
        if "se_r" in params:
            if fields["se_r"]:
                raise SpecError("se_r: give either the space's se_r or params.se_r (drawn per model), not both")
            if block_type not in (*BOTTLENECKS, MB_CONV):
                raise SpecError(
                    f"params.se_r: applies to {', '.join(BOTTLENECKS)} and {MB_CONV} only, not {block_type}"
                )
        if kind == "regnet":
            q = fields["q"]
            bad = [v for v in sorted(params["w0"].dist.pmf()) if v % q]
            if bad:
                raise SpecError(f"params.w0: values must be multiples of {q} (q); the distribution gives {bad[0]:g}")
        order = data.get("non_decreasing") or []
        order = check_list("non_decreasing", order)
        allowed = [p for p in ANYNET_PARAMS if p in params] if kind == "anynet" else []
        for p in order:
            if p not in allowed:
                raise SpecError(f"non_decreasing: {p!r} is not one of the space's per-stage parameters {allowed}")
        source = copy.deepcopy(dict(data))
        return cls(params=params, non_decreasing=tuple(order), _source=source, **fields)

    def to_dict(self) -> dict[str, Any]:
        """The space in the YAML form that from_dict reads."""
        out = {k: getattr(self, k) for k in SPACE_KEYS if k not in ("params", "non_decreasing", "strides")}
        for key, default in NEWER_KEYS.items():
            if out[key] == default:
                del out[key]
        out["strides"] = list(self.strides)
        out["params"] = {k: p.to_dict() for k, p in self.params.items()}
        out["non_decreasing"] = list(self.non_decreasing)
        return out

    def with_overrides(self, overrides: Mapping[str, Any]) -> DesignSpace:
        """A copy with dotted keys replaced, e.g. {"stages": 3, "params.d.high": 8}; validated again."""
        data = copy.deepcopy(self._source or self.to_dict())
        for key, value in overrides.items():
            *path, last = key.split(".")
            node = data
            for part in path:
                if not isinstance(node.get(part), dict):
                    raise SpecError(f"{key}: no such field in space {self.name}")
                node = node[part]
            node[last] = value
        w0 = data.get("params", {}).get("w0")
        if "q" in overrides and isinstance(w0, dict) and not any(k.startswith("params.w0") for k in overrides):
            _requantize(w0, data["q"])
        if "stages" in overrides and "strides" not in overrides and isinstance(data.get("strides"), list):
            strides = data["strides"]  # keep the pattern: the first stride, then the rest repeated
            data["strides"] = (strides[:1] + strides[1:2] * (data["stages"] - 1))[: data["stages"]]
        return DesignSpace.from_dict(data)


def _requantize(w0: dict, q: Any) -> None:
    """w0 drawn on the grid of a new q (pycls's rule needs w0 % q == 0): its step becomes q and its range the
    multiples of q inside the old one (at least the first multiple of q at or above low)."""
    if w0.get("dist") not in ("uniform", "log_uniform") or isinstance(q, bool) or not isinstance(q, int) or q < 1:
        return  # choices are the user's to give; a bad q is reported by from_dict
    low = max(q, math.ceil(w0.get("low", q) / q) * q)
    w0.update(q=q, low=low, high=max(low, math.floor(w0.get("high", low) / q) * q))


def _read_params(kind: str, block_type: str, data: Any) -> dict[str, Param]:
    names = (ANYNET_PARAMS if kind == "anynet" else REGNET_PARAMS) + MODEL_PARAMS
    if not isinstance(data, Mapping):
        raise SpecError(f"params: must map parameter names ({', '.join(names)}) to distributions")
    for name in data:
        if name not in names:
            raise SpecError(f"params.{name}: unknown parameter for a {kind} space; allowed: {', '.join(names)}")
    if kind == "regnet":
        required = ["d", "w0", "wa", "wm", "g"]
    else:
        required = ["d", "w"] + (
            ["b", "g"] if block_type in BOTTLENECKS else ["e", "k"] if block_type == MB_CONV else []
        )
    for name in required:
        if name not in data:
            raise SpecError(f"params.{name}: required for a {kind} space of {block_type}")
    if kind == "anynet":
        for name, only in (("b", BOTTLENECKS), ("g", BOTTLENECKS), ("e", (MB_CONV,)), ("k", (MB_CONV,))):
            if name in data and block_type not in only:
                raise SpecError(f"params.{name}: applies to {', '.join(only)} only, and block_type is {block_type}")
    params = {name: _read_param(kind, f"params.{name}", data[name]) for name in names if name in data}
    if kind == "regnet" and "b" not in params:
        params = {**params, "b": Param(Distribution("choice", values=(1,), field="params.b"))}
        params = {name: params[name] for name in names if name in params}  # the drawing order: names'
    for name, param in params.items():
        if name in MODEL_PARAMS and param.shared:
            raise SpecError(f"params.{name}.shared: {name} takes one value per model already")
        _check_support(name, param.dist)
    return params


def _read_param(kind: str, where: str, data: Any) -> Param:
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: must be a mapping with keys {', '.join(PARAM_KEYS)}, got {data!r}")
    check_keys(data, PARAM_KEYS, where)
    if "dist" not in data:
        raise SpecError(f"{where}.dist: required")
    shared = data.get("shared", False)
    if not isinstance(shared, bool):
        raise SpecError(f"{where}.shared: must be true or false, got {shared!r}")
    if shared and kind == "regnet":
        raise SpecError(f"{where}.shared: regnet parameters are single values already")
    values = data.get("values")
    if data["dist"] == "choice":
        values = check_list(f"{where}.values", values)
    elif values is not None:
        raise SpecError(f"{where}.values: only for dist choice")
    dist = Distribution(
        data["dist"], data.get("low"), data.get("high"), data.get("q", 1), values and tuple(values), field=where
    )
    return Param(dist, shared)


def _check_support(name: str, dist: Distribution) -> None:
    """Every value the distribution can produce must be valid for the parameter."""
    where = f"params.{name}"
    if dist.kind == "log_uniform_real":  # real-valued: its range is its support
        if name not in HYPER_PARAMS:
            raise SpecError(f"{where}: log_uniform_real is for the real-valued {' and '.join(HYPER_PARAMS)} only")
        return
    support = sorted(dist.pmf())
    if name in ("d", "w", "g", "w0"):
        bad = [v for v in support if v < 1 or v != int(v)]
        if bad:
            raise SpecError(f"{where}: values must be integers >= 1; the distribution gives {bad[0]}")
    if name == "b":
        bad = [v for v in support if not (v > 0 and math.log2(v).is_integer())]
        if bad:
            raise SpecError(f"{where}: bottleneck ratios must be powers of two (0.25, 1, 2, 4, ...); got {bad[0]}")
    if name == "e" and support[0] < 1:
        raise SpecError(f"{where}: expansion ratios must be >= 1; the distribution gives {support[0]}")
    if name == "k":
        bad = [v for v in support if v not in KERNELS]
        if bad:
            raise SpecError(f"{where}: kernel sizes must be one of {KERNELS}; the distribution gives {bad[0]:g}")
    if name in ("se_r", "weight_decay") and support[0] < 0:
        raise SpecError(f"{where}: values must be >= 0; the distribution gives {support[0]}")
    if name == "lr" and support[0] <= 0:
        raise SpecError(f"{where}: values must be > 0; the distribution gives {support[0]}")
    if name == "wa" and support[0] < 0:
        raise SpecError(f"{where}: values must be >= 0; the distribution gives {support[0]}")
    if name == "wm" and support[0] <= 1:
        raise SpecError(f"{where}: values must be > 1; the distribution gives {support[0]}")


def load_space_file(path: str | Path) -> DesignSpace:
    """Read a design space from a YAML file."""
    data = read_yaml(path, "space")
    try:
        return DesignSpace.from_dict(data)
    except SpecError as e:
        raise SpecError(f"{path}: {e}") from None
