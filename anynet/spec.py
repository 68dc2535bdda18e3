"""AnyNetSpec: the one object that fully describes a network (stem -> stages -> head)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from anynet.group_rule import adjust_block_compatibility
from anynet.errors import SpecError, check_keys
from anynet.regnet import RegNetParams
from anynet.validate import check_choice, check_int, check_ints, check_list, check_real, check_reals

STEM_TYPES = ("simple_stem_in", "res_stem_cifar", "res_stem_in")
BLOCK_TYPES = ("res_bottleneck_block", "res_basic_block", "vanilla_block", "res_bottleneck_linear_block", "mb_conv")
BOTTLENECK = "res_bottleneck_block"
BOTTLENECKS = (BOTTLENECK, "res_bottleneck_linear_block")  # the blocks that take bot_muls and group_ws
MBCONV = "mb_conv"
ACTIVATIONS = ("relu", "relu6", "silu", "gelu")
KERNELS = (3, 5)
SPEC_KEYS = (
    "stem_type",
    "stem_w",
    "block_type",
    "depths",
    "widths",
    "strides",
    "bot_muls",
    "group_ws",
    "se_r",
    "exp_rs",
    "kernels",
    "head_w",
    "activation",
    "num_classes",
    "in_channels",
    "resolution",
    "regnet",
)
STAGE_KEYS = ("depths", "widths", "strides", "bot_muls", "group_ws", "exp_rs", "kernels")
# fields that to_dict leaves out at their default, so the specs made before them keep their dicts (and identities)
DEFAULTS_LEFT_OUT = {"head_w": 0, "activation": "relu"}


@dataclass(frozen=True, kw_only=True)
class AnyNetSpec:
    """One AnyNet, with pycls's field names. Validated on creation; lists become tuples.

    bot_muls (bot_mul = 1/b: inner width round(w * bot_mul)) and group_ws apply to res_bottleneck_block
    (and res_bottleneck_linear_block, the same block with no activation after its residual add) only; se_r > 0
    adds squeeze-excite to it (an X block becomes a Y block). exp_rs (expansion ratios >= 1) and kernels (3 or 5,
    the depthwise conv's) apply to mb_conv only, which takes se_r too (pycls EN.EXP_RATIOS, EN.KERNELS, EN.SE_R).
    head_w > 0 puts a 1x1 conv + BN + activation of that width before the pooling (pycls EN.HEAD_W);
    `activation` is every block's, the stem's and the head's. `regnet` carries the RegNet parameters a spec
    was generated from, if any.
    """

    stem_type: str = "simple_stem_in"
    stem_w: int = 32
    block_type: str = BOTTLENECK
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    strides: tuple[int, ...]
    bot_muls: tuple[float, ...] | None = None
    group_ws: tuple[int, ...] | None = None
    se_r: float = 0.0
    exp_rs: tuple[float, ...] | None = None
    kernels: tuple[int, ...] | None = None
    head_w: int = 0
    activation: str = "relu"
    num_classes: int = 1000
    in_channels: int = 3
    resolution: int = 224
    regnet: RegNetParams | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("stem_type", check_choice("stem_type", self.stem_type, STEM_TYPES))
        put("block_type", check_choice("block_type", self.block_type, BLOCK_TYPES))
        if self.regnet is not None and self.block_type != BOTTLENECK:
            raise SpecError(f"block_type: a RegNet uses {BOTTLENECK}, got {self.block_type}")
        put("stem_w", check_int("stem_w", self.stem_w, minimum=1))
        depths = check_list("depths", self.depths)
        if not depths:
            raise SpecError("depths: must list at least one stage, got []")
        n = len(depths)
        put("depths", check_ints("depths", depths, minimum=1))
        for name in ("widths", "strides"):
            put(name, check_ints(name, check_list(name, getattr(self, name), n), minimum=1))
        for name in ("num_classes", "in_channels", "resolution"):
            put(name, check_int(name, getattr(self, name), minimum=1))
        put("se_r", check_real("se_r", self.se_r, low=0.0))
        put("head_w", check_int("head_w", self.head_w, minimum=0))
        put("activation", check_choice("activation", self.activation, ACTIVATIONS))
        self._check_block_fields()
        if self.block_type in BOTTLENECKS:
            self._check_bottleneck(n)
        elif self.block_type == MBCONV:
            self._check_mbconv(n)
        if isinstance(self.regnet, Mapping):
            put("regnet", regnet_from_dict(self.regnet))
        if self.regnet is not None:
            self._check_regnet()

    def _check_block_fields(self) -> None:
        """Refuse fields the block type does not take, naming the block types that do."""
        takers = {
            "bot_muls": BOTTLENECKS,
            "group_ws": BOTTLENECKS,
            "se_r": BOTTLENECKS + (MBCONV,),
            "exp_rs": (MBCONV,),
            "kernels": (MBCONV,),
        }
        for name, blocks in takers.items():
            if getattr(self, name) and self.block_type not in blocks:
                also = f" (likewise {', '.join(blocks[1:])})" if len(blocks) > 1 else ""
                raise SpecError(
                    f"{name}: applies to {blocks[0]} only{also}, and block_type is {self.block_type}; leave {name} out"
                )

    def _check_mbconv(self, n: int) -> None:
        for name in ("exp_rs", "kernels"):
            if getattr(self, name) is None:
                raise SpecError(f"{name}: required for mb_conv, one value per stage")
        exp_rs = check_reals("exp_rs", check_list("exp_rs", self.exp_rs, n), low=1.0)
        kernels = check_ints("kernels", check_list("kernels", self.kernels, n))
        for i, k in enumerate(kernels):
            if k not in KERNELS:
                raise SpecError(f"kernels[{i}]: must be 3 or 5 (the depthwise conv's kernel size), got {k!r}")
        object.__setattr__(self, "exp_rs", exp_rs)
        object.__setattr__(self, "kernels", kernels)
        if self.se_r:
            # pycls's EffNet: the squeeze width int(w_in * se_r) from each block's input width
            w_ins = (self.stem_w,) + tuple(w for d, w in zip(self.depths, self.widths) if d > 1)
            w_ins += self.widths[:-1]
            w_in = min(w_ins)
            if int(w_in * self.se_r) < 1:
                raise SpecError(
                    f"se_r: {self.se_r!r} gives a block of input width {w_in} a squeeze-excite width of "
                    f"int({w_in} * {self.se_r!r}) = 0; use se_r >= {1 / w_in:.3g} or 0 for none"
                )

    def _check_bottleneck(self, n: int) -> None:
        for name in ("bot_muls", "group_ws"):
            if getattr(self, name) is None:
                raise SpecError(f"{name}: required for res_bottleneck_block, one value per stage")
        bot_muls = check_reals("bot_muls", check_list("bot_muls", self.bot_muls, n), low=0.0, strict=True)
        for i, b in enumerate(bot_muls):
            if b > 1 and not b.is_integer():
                raise SpecError(f"bot_muls[{i}]: must be at most 1 or a whole number, got {b!r}")
        object.__setattr__(self, "bot_muls", bot_muls)
        object.__setattr__(
            self, "group_ws", check_ints("group_ws", check_list("group_ws", self.group_ws, n), minimum=1)
        )
        self._check_compatibility()
        if self.se_r:
            w_ins = (self.stem_w,) + self.widths
            for i, w_in in enumerate(w_ins[:-1]):
                if int(round(w_in * self.se_r)) < 1:
                    raise SpecError(
                        f"se_r: {self.se_r!r} gives stage {i + 1} a squeeze-excite width of "
                        f"round({w_in} * {self.se_r!r}) = 0; use se_r >= {0.5 / w_in:.3g} or 0 for none"
                    )

    def _check_compatibility(self) -> None:
        """Refuse stages that adjust_block_compatibility would change, proposing its values."""
        if all(_compatible(w, b, g) for w, b, g in zip(self.widths, self.bot_muls, self.group_ws)):
            return
        ws, _, gs = adjust_block_compatibility(self.widths, self.bot_muls, self.group_ws)
        for i, (w, b, g) in enumerate(zip(self.widths, self.bot_muls, self.group_ws)):
            if (ws[i], gs[i]) != (w, g):
                raise SpecError(
                    f"widths/group_ws: stage {i + 1} (width {w}, bot_mul {b:g}, group width {g}) breaks the "
                    f"group/bottleneck compatibility rule: the inner width w*bot_mul = {w * b:g} must be a whole "
                    f"multiple of the group width, which must not exceed it; adjusted values: widths={ws}, "
                    f"group_ws={gs}"
                )

    def _check_regnet(self) -> None:
        r = self.regnet
        if not isinstance(r, RegNetParams):
            raise SpecError(f"regnet: must be RegNet parameters (depth, w0, wa, wm, group_w), got {r!r}")
        k = len(r.rule.widths)
        ws, bs, gs = adjust_block_compatibility(r.rule.widths, [r.bot_mul] * k, [r.group_w] * k)
        expected = {"depths": r.rule.depths, "widths": tuple(ws), "bot_muls": tuple(bs), "group_ws": tuple(gs)}
        for name, value in expected.items():
            if getattr(self, name) != value:
                raise SpecError(
                    f"{name}: the RegNet parameters {r.to_dict()} generate {name}={list(value)}, "
                    f"but the spec gives {list(getattr(self, name))}"
                )

    @classmethod
    def from_regnet(cls, regnet: RegNetParams, *, stride: int = 2, **fields: Any) -> AnyNetSpec:
        """The spec of a RegNet: stages from the quantized linear rule, then the compatibility rule."""
        k = len(regnet.rule.widths)
        ws, bs, gs = adjust_block_compatibility(regnet.rule.widths, [regnet.bot_mul] * k, [regnet.group_w] * k)
        return cls(
            depths=regnet.rule.depths,
            widths=ws,
            strides=[stride] * k,
            bot_muls=bs,
            group_ws=gs,
            regnet=regnet,
            **fields,
        )

    @classmethod
    def from_dict(cls, data: Any) -> AnyNetSpec:
        """Read a spec from a dict with pycls-style keys (SPEC_KEYS). A `regnet` entry alone
        (depth, w0, wa, wm, group_w[, bot_mul, q]) generates the stages."""
        if not isinstance(data, Mapping):
            raise SpecError(f"spec: must be a mapping with keys {', '.join(SPEC_KEYS)}, got {type(data).__name__}")
        check_keys(data, SPEC_KEYS)
        fields = dict(data)
        if fields.get("regnet") is not None:
            fields["regnet"] = regnet_from_dict(fields["regnet"])
            if not any(k in fields for k in STAGE_KEYS):
                return cls.from_regnet(**fields)
        for key in ("depths", "widths", "strides"):
            if key not in fields:
                raise SpecError(f"{key}: required, one value per stage (or give `regnet` parameters instead)")
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with pycls-style keys; lists for per-stage values; fields that do not apply left out."""
        out: dict[str, Any] = {}
        for key in SPEC_KEYS:
            value = getattr(self, key)
            if value is None or (key in DEFAULTS_LEFT_OUT and value == DEFAULTS_LEFT_OUT[key]):
                continue
            out[key] = value.to_dict() if key == "regnet" else list(value) if isinstance(value, tuple) else value
        return out

    def with_fields(self, **fields: Any) -> AnyNetSpec:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **fields)

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def block_widths(self) -> tuple[int, ...]:
        """The width of every block, in order (stage i's width repeated d_i times)."""
        return tuple(w for d, w in zip(self.depths, self.widths) for _ in range(d))

    @property
    def inner_widths(self) -> tuple[int, ...] | None:
        """Per-stage inner (bottleneck) width round(w * bot_mul), for res_bottleneck_block."""
        if self.bot_muls is None:
            return None
        return tuple(int(round(w * b)) for w, b in zip(self.widths, self.bot_muls))

    @property
    def groups(self) -> tuple[int, ...] | None:
        """Per-stage number of groups of the 3x3 conv: inner width // group width."""
        if self.inner_widths is None or self.group_ws is None:
            return None
        return tuple(v // g for v, g in zip(self.inner_widths, self.group_ws))


def _compatible(w: int, b: float, g: int) -> bool:
    """A sufficient condition for adjust_block_compatibility to leave a stage unchanged: the inner width v = w*b
    is whole, v / b gives w back, g <= v, and v is a multiple of g (of lcm(g, b) when b > 1)."""
    v = w * b
    if v != int(v) or int(v / b) != w or not 1 <= g <= v:
        return False
    return int(v) % (math.lcm(g, int(b)) if b > 1 else g) == 0


def regnet_from_dict(data: Any) -> RegNetParams:
    """RegNetParams from a dict with keys depth, w0, wa, wm, group_w and optional bot_mul, q."""
    if isinstance(data, RegNetParams):
        return data
    keys = tuple(RegNetParams.__dataclass_fields__)
    if not isinstance(data, Mapping):
        raise SpecError(f"regnet: must be a mapping with keys {', '.join(keys)}, got {data!r}")
    check_keys(data, keys, "regnet")
    missing = [k for k in keys[:5] if k not in data]
    if missing:
        raise SpecError(f"regnet.{missing[0]}: required (RegNet parameters: {', '.join(keys)})")
    return RegNetParams(**data)
