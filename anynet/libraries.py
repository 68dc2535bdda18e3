"""A spec's network in pycls, timm or torchvision: the arguments each library takes, whether they rebuild exactly that
network (if not, one line naming what differs), the Python that builds it, and a check that builds it there and
compares its parameters, output shape and flops with anynet's own count.

What each library can express (as of pycls 0.1.1, timm 1.0.31, torchvision 0.28):

- pycls: every stem, block type, per-stage stride, bottleneck and group width (ANYNET form: per-stage lists; the
  REGNET form only where pycls's own rule and one stride rebuild the same stages), but only a 3-channel stem.
- torchvision: explicit `BlockParams` (per-stage depths, widths, group widths, bottleneck multipliers, strides) of
  X/Y bottleneck blocks; any stem and input channels through RegNet's `stem_type` argument and its
  `Conv2dNormActivation`.
- timm: a RegNet rule (depth, w0, wa, wm, in float32) of exactly 4 stages of stride 2, X/Y blocks, a 3x3 stride-2
  stem, any input channels.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import math
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from anynet.errors import AnynetError
from anynet.counting import complexity
from anynet.spec import BOTTLENECK, MBCONV, AnyNetSpec

LIBRARIES = ("anynet", "pycls", "timm", "torchvision")
TIMM_STAGES = 4


@dataclass(frozen=True)
class LibraryForm:
    """One network in one library's terms."""

    library: str
    form: str  # pycls: "regnet" or "anynet"; timm: "RegNetCfg"; torchvision: "BlockParams"; anynet: "spec"
    args: dict[str, Any] | None  # the library's arguments; None where it cannot build the network even approximately
    differs: str | None  # None: the library builds exactly this network; else what differs, in one line
    python: str  # self-contained code that leaves the built model in `model` ("" where args is None)

    @property
    def exact(self) -> bool:
        return self.differs is None


def library_form(spec: AnyNetSpec, library: str, explicit: bool = False) -> LibraryForm:
    """The spec's network in `library` (one of LIBRARIES); explicit: pycls's per-stage ANYNET form even where its
    REGNET form would rebuild the same network."""
    if library == "anynet":
        built = _call("AnyNetSpec", spec.to_dict())
        code = f"from anynet import AnyNet, AnyNetSpec\n\nspec = {built}\nmodel = AnyNet(spec)\n"
        return LibraryForm("anynet", "spec", spec.to_dict(), None, code)
    if library not in LIBRARIES:
        raise AnynetError(f"library: {library!r} is not one of {', '.join(LIBRARIES)}")
    if library == "pycls" and spec.block_type == MBCONV:
        return _pycls_effnet(spec)
    refused = library_refusal(spec, library)
    if refused:
        return LibraryForm(
            library, {"pycls": "anynet", "timm": "RegNetCfg"}.get(library, "BlockParams"), None, refused, ""
        )
    if library == "pycls":
        return _pycls(spec, explicit)
    if library == "timm":
        return _timm(spec)
    if library == "torchvision":
        return _torchvision(spec)
    raise AnynetError(f"library: {library!r} is not one of {', '.join(LIBRARIES)}")


def library_refusal(spec: AnyNetSpec, library: str) -> str | None:
    """Why `library`'s RegNet (timm, torchvision) or pycls 0.1.1's AnyNet cannot build the spec's network, in one
    line, for what they do not express: mb_conv, res_bottleneck_linear_block, head_w, an activation other than ReLU;
    None if none of these is used."""
    what = {"pycls": "pycls 0.1.1's AnyNet", "timm": "timm's RegNet", "torchvision": "torchvision's RegNet"}[library]
    if spec.block_type == "mb_conv":
        return f"not exportable to {library}: {what} has no mb_conv block" + (
            " (pycls's EffNet builds it: its 'effnet' form)" if library == "pycls" else ""
        )
    if spec.block_type == "res_bottleneck_linear_block":
        return f"not exportable to {library}: {what} has no res_bottleneck_linear_block (no activation after the add)"
    if spec.head_w:
        return f"not exportable to {library}: {what} has no head conv; the model has head_w {spec.head_w}"
    if spec.activation != "relu":
        return f"not exportable to {library}: {what} uses ReLU; the model uses {spec.activation}"
    return None


def _pycls_effnet(spec: AnyNetSpec) -> LibraryForm:
    """An mb_conv spec as pycls 0.1.1's EffNet: its cfg sections, None where EffNet builds exactly this network (else
    what differs, in one line), and the Python that leaves it in `model`. EffNet always has a
    3-channel StemIN (simple_stem_in), a head conv, swish activations and an SE (of squeeze width 0 where se_r = 0)."""
    differences = []
    if spec.in_channels != 3:
        differences.append(f"pycls builds a 3-channel stem; the model takes {spec.in_channels} channels")
    if spec.stem_type != "simple_stem_in":
        differences.append(f"pycls's EffNet stem is simple_stem_in; the model has {spec.stem_type}")
    if spec.activation != "silu":
        differences.append(f"pycls's EffNet uses swish (silu); the model uses {spec.activation}")
    if not spec.head_w:
        differences.append("pycls's EffNet always has a head conv (EN.HEAD_W); the model has none (head_w 0)")
    if not spec.se_r:
        differences.append(
            "pycls's EffNet with SE_R 0 keeps a squeeze-excite of width 0 (extra params); the model has none"
        )
    en = {
        "STEM_W": spec.stem_w,
        "DEPTHS": list(spec.depths),
        "WIDTHS": list(spec.widths),
        "EXP_RATIOS": [float(e) for e in spec.exp_rs],
        "SE_R": float(spec.se_r),
        "STRIDES": list(spec.strides),
        "KERNELS": list(spec.kernels),
        "HEAD_W": spec.head_w,
    }
    config = {
        "MODEL": {"TYPE": "effnet", "NUM_CLASSES": spec.num_classes},
        "EN": en,
        "TRAIN": {"IM_SIZE": spec.resolution},
    }
    lines = [f"cfg.{part}.{key} = {value!r}" for part in ("MODEL", "EN") for key, value in config[part].items()]
    imports = "from pycls.core.config import cfg\nfrom pycls.models.effnet import EffNet\n\n"
    python = imports + "\n".join(lines) + "\nmodel = EffNet()\n"
    return LibraryForm("pycls", "effnet", config, "; ".join(differences) or None, python)


def _call(name: str, kwargs: dict[str, Any]) -> str:
    """Python for name(key=value, ...) on one line, or one argument a line where one line is over 100 characters."""
    args = [f"{key}={value!r}" for key, value in kwargs.items()]
    line = f"{name}({', '.join(args)})"
    return line if len(line) <= 100 else f"{name}(\n" + "".join(f"    {a},\n" for a in args) + ")"


def _pycls(spec: AnyNetSpec, explicit: bool) -> LibraryForm:
    differs = None
    if spec.in_channels != 3:
        differs = f"pycls builds a 3-channel stem; the model takes {_channels(spec.in_channels)}"
    se = {"SE_ON": spec.se_r > 0, "SE_R": float(spec.se_r)}
    stem = {"STEM_TYPE": spec.stem_type, "STEM_W": spec.stem_w, "BLOCK_TYPE": spec.block_type}
    if not explicit and _pycls_regnet_is_exact(spec):
        r = spec.regnet
        section = "REGNET"
        body = {**stem, "STRIDE": spec.strides[0], **se, "DEPTH": r.depth, "W0": r.w0, "WA": float(r.wa)}
        body.update({"WM": float(r.wm), "GROUP_W": r.group_w, "BOT_MUL": float(r.bot_mul)})
    else:
        section = "ANYNET"
        bottleneck = spec.block_type == BOTTLENECK
        body = {
            **stem,
            "DEPTHS": list(spec.depths),
            "WIDTHS": list(spec.widths),
            "STRIDES": list(spec.strides),
            "BOT_MULS": [float(b) for b in spec.bot_muls] if bottleneck else [],
            "GROUP_WS": list(spec.group_ws) if bottleneck else [],
            **se,
        }
    model = {"TYPE": section.lower(), "NUM_CLASSES": spec.num_classes}
    config = {"MODEL": model, section: body, "TRAIN": {"IM_SIZE": spec.resolution}}
    module, name = ("regnet", "RegNet") if section == "REGNET" else ("anynet", "AnyNet")
    lines = [f"cfg.{part}.{key} = {value!r}" for part in ("MODEL", section) for key, value in config[part].items()]
    imports = f"from pycls.core.config import cfg\nfrom pycls.models.{module} import {name}\n\n"
    code = imports + "\n".join(lines) + f"\nmodel = {name}()\n"
    return LibraryForm("pycls", section.lower(), config, differs, code)


def _pycls_regnet_is_exact(spec: AnyNetSpec) -> bool:
    """Whether pycls's REGNET form (its rule, its compatibility adjustment, one stride) rebuilds the spec's stages."""
    r = spec.regnet
    if r is None or r.q != 8 or len(set(spec.strides)) != 1:
        return False
    ws, ds = r.rule.widths, r.rule.depths  # pycls's rule: the same numpy float64 arithmetic as anynet.regnet
    gs = [min(r.group_w, int(w * r.bot_mul)) for w in ws]
    ws = [int(int(round(int(w * r.bot_mul) / g) * g) / r.bot_mul) for w, g in zip(ws, gs)]
    same_b = set(spec.bot_muls) == {r.bot_mul}
    return same_b and (tuple(ds), tuple(ws), tuple(gs)) == (spec.depths, spec.widths, spec.group_ws)


def timm_stages(depth: int, w0: int, wa: float, wm: float, group_w: int, bot_mul: float) -> tuple[list[int], ...]:
    """The stage depths, widths and group widths timm's RegNet builds from these parameters: its rule in float32
    torch arithmetic (timm.models.regnet.generate_regnet) and its compatibility adjustment."""
    import torch

    widths_cont = torch.arange(depth, device="cpu", dtype=torch.float32) * wa + w0
    exps = torch.round(torch.log(widths_cont / w0) / math.log(wm))
    block_widths = (torch.round((w0 * torch.pow(wm, exps)) / 8) * 8).int().tolist()
    widths, depths = (t.tolist() for t in torch.unique(torch.tensor(block_widths), return_counts=True))
    inner = [int(w * bot_mul) for w in widths]
    groups = [min(group_w, v) for v in inner]
    widths = [int(int(round(v / g) * g) / bot_mul) for v, g in zip(inner, groups)]
    return depths, widths, groups


def _timm(spec: AnyNetSpec) -> LibraryForm:
    r = spec.regnet
    refused = None
    if spec.block_type != BOTTLENECK:
        refused = f"timm's RegNet builds res_bottleneck_block (X/Y) blocks only; the model uses {spec.block_type}"
    elif r is None:
        refused = "timm builds a RegNet from (depth, w0, wa, wm) only, and the model's stages follow no such rule"
    elif spec.num_stages != TIMM_STAGES:
        refused = f"timm's RegNet builds exactly 4 stages; the model has {spec.num_stages}"
    elif r.q != 8:
        refused = f"timm's RegNet quantizes widths to multiples of 8; the model's rule uses q={r.q}"
    if refused:
        return LibraryForm("timm", "RegNetCfg", None, refused, "")
    depths, widths, groups = timm_stages(r.depth, r.w0, r.wa, r.wm, r.group_w, r.bot_mul)
    if len(depths) != TIMM_STAGES:
        refused = f"timm's float32 rule gives these parameters {len(depths)} stages (widths {widths}); it builds 4"
        return LibraryForm("timm", "RegNetCfg", None, refused, "")
    differences = []
    studied = (list(spec.depths), list(spec.widths), list(spec.group_ws))
    if (depths, widths, groups) != studied:
        differences.append(
            f"timm's float32 rule gives stage depths, widths, group widths {depths}, {widths}, {groups}; the model "
            f"has {', '.join(map(str, studied))}"
        )
    if set(spec.bot_muls) != {r.bot_mul}:
        differences.append(f"timm uses bot_mul {r.bot_mul:g} in every stage; the model has {list(spec.bot_muls)}")
    if spec.stem_type != "simple_stem_in":
        differences.append(f"timm's stem is simple_stem_in (3x3 conv, stride 2); the model has {spec.stem_type}")
    if set(spec.strides) != {2}:
        differences.append(f"timm uses stride 2 in every stage; the model has strides {_dashed(spec.strides)}")
    cfg = {"depth": r.depth, "w0": r.w0, "wa": float(r.wa), "wm": float(r.wm), "group_size": r.group_w}
    cfg.update({"bottle_ratio": float(r.bot_mul), "se_ratio": float(spec.se_r), "stem_width": spec.stem_w})
    args = {"cfg": cfg, "in_chans": spec.in_channels, "num_classes": spec.num_classes}
    code = (
        "from timm.models.regnet import RegNet, RegNetCfg\n\n"
        f"cfg = {_call('RegNetCfg', cfg)}\n"
        f"model = RegNet(cfg, in_chans={spec.in_channels}, num_classes={spec.num_classes})\n"
    )
    return LibraryForm("timm", "RegNetCfg", args, "; ".join(differences) or None, code)


TORCHVISION_STEMS = {  # anynet stem -> (kernel, stride, max-pool after it)
    "simple_stem_in": (3, 2, False),
    "res_stem_cifar": (3, 1, False),
    "res_stem_in": (7, 2, True),
}


def _torchvision(spec: AnyNetSpec) -> LibraryForm:
    if spec.block_type != BOTTLENECK:
        refused = (
            f"torchvision's RegNet builds res_bottleneck_block (X/Y) blocks only; the model uses {spec.block_type}"
        )
        return LibraryForm("torchvision", "BlockParams", None, refused, "")
    params = {
        "depths": list(spec.depths),
        "widths": list(spec.widths),
        "group_widths": list(spec.group_ws),
        "bottleneck_multipliers": [float(b) for b in spec.bot_muls],
        "strides": list(spec.strides),
        "se_ratio": float(spec.se_r) or None,
    }
    custom = spec.stem_type != "simple_stem_in" or spec.in_channels != 3
    stem = {"type": spec.stem_type, "in_channels": spec.in_channels} if custom else None
    args = {"block_params": params, "num_classes": spec.num_classes, "stem_width": spec.stem_w, "stem": stem}
    imports = "from torchvision.models.regnet import BlockParams, RegNet\n"
    stem_def, stem_arg = "", ""
    if custom:
        k, s, pool = TORCHVISION_STEMS[spec.stem_type]
        conv = (
            f"Conv2dNormActivation({spec.in_channels}, w_out, kernel_size={k}, stride={s}, norm_layer=norm_layer, "
            "activation_layer=activation_layer)"
        )
        body = f"nn.Sequential(*{conv}, nn.MaxPool2d(3, stride=2, padding=1))" if pool else conv
        imports = ("from torch import nn\n" if pool else "") + imports
        imports += "from torchvision.ops.misc import Conv2dNormActivation\n"
        stem_def = (
            "\n\ndef stem(w_in, w_out, norm_layer, activation_layer):\n"
            f'    """{spec.stem_type} on {_channels(spec.in_channels)} (RegNet passes w_in=3)."""\n'
            f"    return {body}\n\n"
        )
        stem_arg = ", stem_type=stem"
    code = (
        f"{imports}{stem_def}\nblock_params = {_call('BlockParams', params)}\n"
        f"model = RegNet(block_params, num_classes={spec.num_classes}, stem_width={spec.stem_w}{stem_arg})\n"
    )
    return LibraryForm("torchvision", "BlockParams", args, None, code)


def _channels(n: int) -> str:
    return f"{n} input channel" + ("" if n == 1 else "s")


def _dashed(values: tuple[int, ...] | list[int]) -> str:
    return "-".join(map(str, values))


def version(library: str) -> str:
    """The installed version of a library ("" if unknown)."""
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return ""


def import_library(library: str) -> ModuleType:
    """Import a library's model module, or fail in one line where it is not installed or does not import.

    torchvision's registry wheels for Linux are CUDA builds; beside a CPU torch its C++ extension does not load, and
    its package __init__ then fails registering fake kernels for the extension's operators (timm imports torchvision
    and fails with it). Its models are pure Python: in that case the package is registered without running that
    __init__, and the models import and build as usual (only the extension's detection operators are missing).
    """
    modules = {"anynet": "anynet.model", "pycls": "pycls.models.anynet", "timm": "timm.models.regnet"}
    modules["torchvision"] = "torchvision.models.regnet"
    if library not in modules:
        raise AnynetError(f"library: {library!r} is not one of {', '.join(LIBRARIES)}")
    if importlib.util.find_spec(library) is None:
        raise AnynetError(f"{library} is not installed (anynet's tests/reference-libs.txt: pip install --no-deps)")
    if library in ("timm", "torchvision"):
        _import_torchvision()
    try:
        return importlib.import_module(modules[library])
    except Exception as e:  # a library's own import failure, whatever it raises, is one line
        raise AnynetError(f"{library} {version(library)} does not import here: {type(e).__name__}: {e}") from None


def _import_torchvision() -> None:
    """Import torchvision, or register its package without its __init__ where that fails (see import_library)."""
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is None:
        return
    try:
        importlib.import_module("torchvision")
    except Exception:  # its __init__ failed part-way: drop what it left and register the bare package
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        found = importlib.util.find_spec("torchvision")
        sys.modules["torchvision"] = importlib.util.module_from_spec(found)


@dataclass(frozen=True)
class Check:
    """A library's build of a network against anynet's count of it."""

    library: str
    params: tuple[int, int]  # (the library's model, anynet's count)
    output: tuple[tuple[int, ...], tuple[int, ...]]
    flops: tuple[int, int] | None  # fvcore's count in pycls's conventions; None where not counted
    error: str | None = None  # the forward pass failed on the spec's input (e.g. another number of channels)

    @property
    def exact(self) -> bool:
        pairs = [self.params, self.output] + ([self.flops] if self.flops else [])
        return self.error is None and all(a == b for a, b in pairs)

    def line(self) -> str:
        """One line: equal, or what differs."""
        if self.error:
            return f"{self.library}: {self.error}"
        parts = [("params", *self.params), ("output", *self.output)] + ([("flops", *self.flops)] if self.flops else [])
        said = [f"{k} {_count(a)}" + ("" if a == b else f" (anynet {_count(b)})") for k, a, b in parts]
        return f"{self.library}: {', '.join(said)}: " + ("exact" if self.exact else "DIFFERS")


def _count(value: int | tuple) -> str:
    return f"{value:,}" if isinstance(value, int) else "x".join(map(str, value))


def build(form: LibraryForm) -> Any:
    """The model the form's Python builds, in its library (imported as import_library does)."""
    if form.args is None:
        raise AnynetError(f"{form.library} cannot build it: {form.differs}")
    import_library(form.library)
    scope: dict[str, Any] = {}
    exec(compile(form.python, f"<{form.library} export>", "exec"), scope)
    return scope["model"]


def check(spec: AnyNetSpec, form: LibraryForm, flops: bool = True) -> Check:
    """Build the form in its library and compare parameters, output shape at the spec's input and (with fvcore,
    flops=True) flops with anynet's count of the spec."""
    import torch

    from anynet.crosscheck import fvcore_flops

    cx = complexity(spec)
    expected = (1, spec.num_classes)
    x = torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution)
    model = build(form).eval()
    params = (sum(p.numel() for p in model.parameters()), cx.params)
    try:
        with torch.no_grad():
            output = tuple(model(x).shape)
    except RuntimeError as e:
        message = str(e).splitlines()[0]
        error = f"does not run on a {_count(tuple(x.shape))} input ({message})"
        return Check(form.library, params, ((), expected), None, error)
    counted = (fvcore_flops(model, x), cx.flops) if flops else None
    return Check(form.library, params, (output, expected), counted)
