"""Trained weights across libraries: an anynet state dict (whose names are pycls's, so a pycls checkpoint's
`model_state` loads into anynet's model as it is) renamed for timm's or torchvision's RegNet of the same network.

The network must be one the library builds exactly (`anynet export --format F` says which); the renamed state
dict then loads into that library's model with load_state_dict(strict=True) and gives the same outputs.

mb_conv networks: pycls 0.1.1 builds them as its EffNet (anynet.libraries), whose names are anynet's, so their
weights need no renaming; timm's and torchvision's RegNets build none of them (anynet.libraries.library_refusal).
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from anynet.errors import AnynetError

WEIGHT_LIBRARIES = ("pycls", "timm", "torchvision")
_BLOCK = re.compile(r"s(\d+)\.b(\d+)\.(.+)")
_BN = "(weight|bias|running_mean|running_var|num_batches_tracked)"
# anynet's name inside a block (after s{i}.b{j}.) -> the library's
_TIMM_BLOCK = {
    r"proj\.weight": "downsample.conv.weight",
    rf"bn\.{_BN}": r"downsample.bn.\1",
    r"f\.a\.weight": "conv1.conv.weight",
    rf"f\.a_bn\.{_BN}": r"conv1.bn.\1",
    r"f\.b\.weight": "conv2.conv.weight",
    rf"f\.b_bn\.{_BN}": r"conv2.bn.\1",
    r"f\.c\.weight": "conv3.conv.weight",
    rf"f\.c_bn\.{_BN}": r"conv3.bn.\1",
    r"f\.se\.f_ex\.0\.(weight|bias)": r"se.fc1.\1",
    r"f\.se\.f_ex\.2\.(weight|bias)": r"se.fc2.\1",
}
_TORCHVISION_BLOCK = {
    r"proj\.weight": "proj.0.weight",
    rf"bn\.{_BN}": r"proj.1.\1",
    r"f\.(a|b|c)\.weight": r"f.\1.0.weight",
    rf"f\.(a|b|c)_bn\.{_BN}": r"f.\1.1.\2",
    r"f\.se\.f_ex\.0\.(weight|bias)": r"f.se.fc1.\1",
    r"f\.se\.f_ex\.2\.(weight|bias)": r"f.se.fc2.\1",
}
_TOP = {  # names outside the stages: stem and head
    "timm": {
        r"stem\.conv\.weight": "stem.conv.weight",
        rf"stem\.bn\.{_BN}": r"stem.bn.\1",
        r"head\.fc\.(weight|bias)": r"head.fc.\1",
    },
    "torchvision": {
        r"stem\.conv\.weight": "stem.0.weight",
        rf"stem\.bn\.{_BN}": r"stem.1.\1",
        r"head\.fc\.(weight|bias)": r"fc.\1",
    },
}


def library_name(name: str, library: str) -> str:
    """A parameter or buffer name of anynet's (and pycls's) model, as `library` names it in its RegNet."""
    if library not in WEIGHT_LIBRARIES:
        raise AnynetError(f"--format: weights convert to {', '.join(WEIGHT_LIBRARIES)}, not {library!r}")
    if library == "pycls":
        return name
    block = _BLOCK.fullmatch(name)
    if block:
        i, j, rest = block.groups()
        table = _TIMM_BLOCK if library == "timm" else _TORCHVISION_BLOCK
        prefix = f"s{i}.b{j}." if library == "timm" else f"trunk_output.block{i}.block{i}-{int(j) - 1}."
        rules = table.items()
    else:
        prefix, rest, rules = "", name, _TOP[library].items()
    for pattern, replacement in rules:
        if re.fullmatch(pattern, rest):
            return prefix + re.sub(pattern, replacement, rest)
    raise AnynetError(
        f"weights: {name!r} is not a name of anynet's X/Y-block RegNet (stem.*, s<i>.b<j>.*, head.fc.*); "
        f"{library} has no counterpart"
    )


def convert_state_dict(state: Mapping[str, Any], library: str) -> dict[str, Any]:
    """anynet's (pycls's) state dict with every name as `library` names it; the tensors are the same objects."""
    return {library_name(name, library): tensor for name, tensor in state.items()}


def load_weights(path: str | Path) -> dict[str, Any]:
    """A state dict from a file torch.save wrote: a state dict itself, or a pycls checkpoint (its `model_state`)."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as e:
        raise AnynetError(f"--weights: {path}: not a file torch.load reads ({str(e).splitlines()[0]})") from None
    if isinstance(data, Mapping) and isinstance(data.get("model_state"), Mapping):
        data = data["model_state"]
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise AnynetError(f"--weights: {path}: holds no state dict (or a pycls checkpoint with model_state)")
    return dict(data)


def convert_weights(source: str | Path, library: str, out: str | Path) -> int:
    """Read an anynet state dict (or pycls checkpoint), rename it for `library` and torch.save it to out; returns the
    number of entries."""
    import torch

    state = convert_state_dict(load_weights(source), library)
    torch.save(state, out)
    return len(state)
