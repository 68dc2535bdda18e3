"""The built-in design spaces: YAML files in sampler/spaces/, in the same format as user spaces."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from anynet.errors import SpecError
from sampler.space import DesignSpace, load_space_file

SPACES_DIR = Path(__file__).parent / "spaces"


def space_names() -> list[str]:
    """Names of the built-in spaces: the paper's (ImageNet scale) and their -small variants."""
    return sorted(p.stem for p in SPACES_DIR.glob("*.yaml"))


@cache
def _builtin(key: str) -> DesignSpace:
    return load_space_file(SPACES_DIR / f"{key}.yaml")


def get_space(name_or_file: str | DesignSpace) -> DesignSpace:
    """A built-in space by name (case-insensitive), or a user space from a YAML file."""
    if isinstance(name_or_file, DesignSpace):
        return name_or_file
    path = Path(name_or_file)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        return load_space_file(path)
    match = {n.lower(): n for n in space_names()}.get(str(name_or_file).lower())
    if match is None:
        raise SpecError(f"space: unknown space {name_or_file!r}; built-in spaces: {', '.join(space_names())}")
    return _builtin(match)
