"""Reading and writing specs as YAML or JSON files; writing JSON-lines files atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from anynet.errors import SpecError
from anynet.spec import AnyNetSpec

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def spec_to_text(spec: AnyNetSpec, fmt: str = "yaml") -> str:
    """The spec as YAML or JSON text with pycls-style keys."""
    if fmt == "json":
        return json.dumps(spec.to_dict(), indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(spec.to_dict(), sort_keys=False, default_flow_style=None)
    raise SpecError(f"format: {fmt!r} is not one of yaml, json")


def parse_yaml(text: str, source: str) -> Any:
    """YAML (JSON is YAML too) into plain data; an error names the source and the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{source}: not valid YAML or JSON{where}: {getattr(e, 'problem', e)}") from None


def spec_from_text(text: str, source: str = "spec") -> AnyNetSpec:
    """Parse YAML (JSON is YAML too) into a spec; errors name the source."""
    return _spec(parse_yaml(text, source), source)


def _spec(data: Any, source: str) -> AnyNetSpec:
    if isinstance(data, dict) and isinstance(data.get("configs"), list) and data["configs"]:
        data = data["configs"][0].get("spec")  # an `anynet export` file: its first config
    try:
        return AnyNetSpec.from_dict(data)
    except SpecError as e:
        raise SpecError(f"{source}: {e}") from None


def read_yaml(path: str | Path, kind: str) -> Any:
    """A YAML (or JSON) file's contents; errors name the file and say what was wrong, e.g. the line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SpecError(f"{path}: cannot read {kind} file ({e.strerror})") from None
    return parse_yaml(text, str(path))


def load_spec(path: str | Path) -> AnyNetSpec:
    """Read a spec from a .yaml/.yml/.json file."""
    return _spec(read_yaml(path, "spec"), str(path))


def save_spec(spec: AnyNetSpec, path: str | Path) -> None:
    """Write a spec; the format follows the file's extension (.yaml, .yml or .json)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SpecError(f"{path}: extension must be one of {', '.join(FORMATS)}")
    path.write_text(spec_to_text(spec, fmt))


def cache_dir(name: str) -> Path:
    """A folder of the user's anynet cache: $ANYNET_CACHE/name, default ~/.cache/anynet/name."""
    return Path(os.environ.get("ANYNET_CACHE") or Path.home() / ".cache" / "anynet") / name


def write_text_atomic(path: str | Path, text: str | bytes) -> None:
    """Replace a file atomically: write a temporary file in the same folder, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(rows: list[dict], path: str | Path) -> None:
    """One JSON object per line, written atomically."""
    write_text_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))


def resolve_spec(model: str, overrides: dict[str, Any] | None = None) -> AnyNetSpec:
    """A spec from a zoo name or a spec file, with overrides applied."""
    from anynet.zoo import zoo_spec

    overrides = overrides or {}
    if Path(model).suffix.lower() in FORMATS or Path(model).is_file():
        spec = load_spec(model)
        return spec.with_fields(**overrides) if overrides else spec
    return zoo_spec(model, **overrides)
