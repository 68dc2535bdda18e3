"""The sweep file: one design space, n sampled models, one recipe, one dataset, and how to run the trials.

A sweep file is YAML with these fields (only name, space and n are required):

    name: fmnist-anynetx-a          # also the default output folder, runs/<name>
    out_dir: runs/fmnist-anynetx-a  # where the plan, the results and Ray's files go
    space: AnyNetX_A-small          # a built-in space or a space YAML file (relative to the sweep file), or
                                    # the space itself as a mapping (as a sweep folder records it)
    overrides: {params.d.high: 4}   # dotted overrides of the space's fields; e.g. params.lr: {dist: log_uniform_real,
                                    # low: 0.01, high: 1.0} draws lr per model (likewise params.weight_decay)
    n: 32                           # models to sample and train
    seed: 0
    flops: 2M:8M                    # complexity bands, LO:HI (either side may be empty) or [lo, hi]
    params: null
    acts: null
    dataset: fashion-mnist          # a built-in set, or a path (relative to the sweep file): an image folder (one
                                    # sub-folder per class, optionally under train/ and test/), an .npz file or a
                                    # folder of .npy files (sweeps.image_source says which arrays)
    images: {resolution: null, resize: true, test_split: 0.2, per_class: null, strict: false}
                                    # a path's decoding (sweeps.image_source.ImageOptions); resolution null: an
                                    # array's own, an image folder's at the space's resolution
    data_dir: null
    val_split: null                 # e.g. 0.1: select on a validation split carved from the training set
    recipe: {images: 30000}         # the brief-training recipe (sweeps.recipe.Recipe's fields)
    resources: {cpus: 1, gpus: 0}   # per trial; gpus may be a fraction such as 0.25
    measure: {device: null, threads: null}  # where each trained model's latency and throughput are timed (null: the
                                    # trial's device and threads; e.g. {device: cpu, threads: 1} while training on
                                    # a GPU); {enabled: false} measures nothing
    max_concurrent: null            # at most this many trials at once (default: as many as the resources allow)
    retries: 1                      # a model that fails or diverges is trained again up to this many times
    address: null                   # null: start a local Ray; auto, HOST:PORT or ray://HOST:PORT: join that cluster
    stream: 0                       # training seeds' stream; re-runs of a sweep's models (anynet fidelity) use others

A space may draw the recipe's lr and weight_decay per model (params.lr, params.weight_decay, as pycls's cifar_optim
sweep does): each planned model then records its own values (`recipe` in plan.jsonl and results.jsonl), which
override the sweep's recipe for that model. Their ranges are part of the space, hence of the sweep's identity; a
sweep that draws none keeps its identity and records as before.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from anynet.errors import AnynetError, SpecError, check_keys
from anynet.files import read_yaml
from anynet.validate import check_int, parse_band, parse_number
from sampler import DesignSpace, get_space
from sweeps.data import NAMES as DATASETS
from sweeps.image_source import DataError, ImageOptions, is_path
from sweeps.recipe import Recipe, RecipeError

CONFIG_DIR = Path(__file__).parent / "configs"
BANDS = ("flops", "params", "acts")
# The fields that decide which models a sweep trains and how: a sweep folder keeps them, and running it again
# with any of them changed would mix two experiments. n may grow; everything else is about where and how to run.
IDENTITY = ("space", "seed", "flops", "params", "acts", "dataset", "images", "val_split", "recipe", "stream")


class SweepError(AnynetError):
    """A sweep file or sweep folder that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Resources:
    """What one trial gets: CPUs (its torch threads) and GPUs (a fraction shares a GPU)."""

    cpus: float = 1.0
    gpus: float = 0.0

    @property
    def threads(self) -> int:
        return max(1, math.floor(self.cpus))


@dataclass(frozen=True)
class Measuring:
    """Where a trial times its trained models (sweeps.measure): None takes the trial's own device and threads."""

    enabled: bool = True
    device: str | None = None
    threads: int | None = None


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep file; `space` is the resolved design space (overrides applied), None only in a study's
    template (sweep_from_dict's template=True), whose sweeps each get their own name, space and folder."""

    name: str
    space: DesignSpace | None
    n: int
    out_dir: Path
    seed: int = 0
    flops: tuple[float | None, float | None] | None = None
    params: tuple[float | None, float | None] | None = None
    acts: tuple[float | None, float | None] | None = None
    dataset: str = "fashion-mnist"  # a built-in name, or the absolute path of the user's own data
    data_dir: str | None = None
    images: ImageOptions = field(default_factory=ImageOptions)  # how a path's images are decoded
    val_split: float | None = None
    recipe: Recipe = field(default_factory=Recipe)
    resources: Resources = field(default_factory=Resources)
    measure: Measuring = field(default_factory=Measuring)  # how fast a model runs: no part of the sweep's identity
    max_concurrent: int | None = None
    retries: int = 1
    address: str | None = None
    stream: int = 0  # training seeds' stream: 0 for a sweep's own training, others for re-runs of its models

    @property
    def bands(self) -> dict[str, tuple[float | None, float | None]]:
        return {m: getattr(self, m) for m in BANDS if getattr(self, m) is not None}

    def identity(self) -> dict[str, Any]:
        """The fields a sweep folder is bound to, as plain data."""
        data = {**self.to_dict(), "recipe": self.recipe.identity(), "images": self.images.identity()}
        # folders before streams (and before a user's own data) had neither field
        return {k: data[k] for k in IDENTITY if (k != "stream" or self.stream) and (k != "images" or self.own_data)}

    @property
    def own_data(self) -> bool:
        """Whether the dataset is a path to the user's images or arrays, not a built-in set."""
        return is_path(self.dataset)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML data (lists, not tuples); the space by its resolved contents."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(
            space=None if self.space is None else self.space.to_dict(),
            out_dir=str(self.out_dir),
            recipe=self.recipe.to_dict(),
            resources=asdict(self.resources),
            measure=asdict(self.measure),
            images=self.images.to_dict(),
        )
        return json.loads(json.dumps(data))

    def with_n(self, n: int) -> SweepConfig:
        return replace(self, n=check_int("n", n, minimum=1))


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """'field: old -> new' for each identity field that differs (the space by its changed keys)."""
    out = []
    if isinstance(old.get("recipe"), dict):
        old = {**old, "recipe": Recipe.identity_of(old["recipe"])}
    # A space's description is prose: rewording it changes no model.
    old, new = ({**d, "space": _without_description(d.get("space"))} for d in (old, new))
    for key in IDENTITY:
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            changed = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            out.extend(f"{key}.{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in changed)
        else:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def _without_description(space: Any) -> Any:
    return {k: v for k, v in space.items() if k != "description"} if isinstance(space, dict) else space


def config_names() -> list[str]:
    """The ready-made sweep files shipped in sweeps/configs."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_sweep(name_or_path: str | Path) -> SweepConfig:
    """Read and validate a sweep file (a path, or the name of a ready-made one)."""
    path = Path(name_or_path)
    if not path.is_file() and str(name_or_path) in config_names():
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise SweepError(f"{path}: no such sweep file; ready-made sweeps: {', '.join(config_names())}")
    try:
        data = read_yaml(path, "sweep")
    except SpecError as e:
        raise SweepError(str(e)) from None
    try:
        return sweep_from_dict(data, base=path.parent)
    except SweepError as e:
        raise SweepError(f"{path}: {e}") from None


def sweep_from_dict(data: Any, base: Path = Path("."), template: bool = False) -> SweepConfig:
    """Validate a sweep file's contents; a space file is looked up relative to `base` (the sweep file's folder). A
    template (a study's: the settings every space's sweep shares) may leave out name and space."""
    try:
        return _from_dict(data, base, template)
    except SpecError as e:  # the shared field checks (counts, bands, spaces) raise SpecErrors
        raise SweepError(str(e)) from None


def _from_dict(data: Any, base: Path, template: bool) -> SweepConfig:
    if not isinstance(data, dict):
        raise SweepError(f"must be a mapping of fields, got {type(data).__name__}")
    allowed = [f.name for f in fields(SweepConfig)] + ["overrides"]
    check_keys(data, allowed, error=SweepError)
    if template:
        data = {"name": "template", **data}
    for key in ("name", "n") if template else ("name", "space", "n"):
        if data.get(key) is None:
            raise SweepError(f"{key}: required")
    name = data["name"]
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise SweepError(f"name: must be a non-empty string without '/', got {name!r}")
    space = None if data.get("space") is None else _space(data["space"], data.get("overrides") or {}, base)
    dataset = data.get("dataset", "fashion-mnist")
    if not isinstance(dataset, str) or not (dataset in DATASETS or is_path(dataset, base)):
        raise SweepError(
            f"dataset: {dataset!r} is not one of {', '.join(DATASETS)}, nor a path to an image folder, an .npz file "
            f"or a folder of .npy files"
        )
    if dataset not in DATASETS:  # a path: relative to the sweep file's folder, kept absolute
        dataset = os.path.abspath(base / Path(dataset).expanduser())
    try:
        images = ImageOptions.from_dict(data.get("images") or {})
    except DataError as e:
        raise SweepError(str(e).removeprefix("dataset: ")) from None
    val_split = data.get("val_split")
    if val_split is not None and not (isinstance(val_split, (int, float)) and 0 < val_split < 1):
        raise SweepError(f"val_split: must be a number between 0 and 1 (exclusive) or null, got {val_split!r}")
    recipe = data.get("recipe") or {}
    if not isinstance(recipe, dict):
        raise SweepError(f"recipe: must be a mapping of recipe fields, got {recipe!r}")
    try:
        recipe = Recipe.from_dict(recipe)
    except RecipeError as e:
        message = str(e)
        raise SweepError(message if message.startswith("recipe.") else f"recipe.{message}") from None
    address = data.get("address")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise SweepError(
            f"address: must be auto, HOST:PORT or ray://HOST:PORT (or null for a local Ray), got {address!r}"
        )
    max_concurrent = data.get("max_concurrent")
    return SweepConfig(
        name=name,
        space=space,
        n=check_int("n", _count("n", data["n"]), minimum=1),
        out_dir=Path(data.get("out_dir") or Path("runs") / name),
        seed=check_int("seed", data.get("seed", 0), minimum=0),
        **{m: _band(m, data.get(m)) for m in BANDS},
        dataset=dataset,
        data_dir=str(data["data_dir"]) if data.get("data_dir") else None,
        images=images,
        val_split=float(val_split) if val_split is not None else None,
        recipe=recipe,
        resources=_resources(data.get("resources") or {}),
        measure=_measuring(data.get("measure") or {}),
        max_concurrent=None if max_concurrent is None else check_int("max_concurrent", max_concurrent, minimum=1),
        retries=check_int("retries", data.get("retries", 1), minimum=0),
        address=address,
        stream=check_int("stream", data.get("stream", 0), minimum=0),
    )


def _count(field_name: str, value: Any) -> Any:
    """n written as 100, 1e3 or 1k."""
    return int(parse_number(field_name, value)) if isinstance(value, str) else value


def _space(value: Any, overrides: Any, base: Path) -> DesignSpace:
    if isinstance(value, dict):  # a resolved space, as a sweep folder records it
        space = DesignSpace.from_dict(value)
    elif isinstance(value, str):
        local = base / value
        space = get_space(str(local) if local.is_file() else value)
    else:
        raise SweepError(f"space: must be a built-in space name, a space YAML file or a space mapping, got {value!r}")
    if not isinstance(overrides, dict):
        raise SweepError(f"overrides: must be a mapping of dotted space fields to values, got {overrides!r}")
    return space.with_overrides(overrides) if overrides else space


def _band(name: str, value: Any) -> tuple[float | None, float | None] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_band(name, value)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return tuple(None if v is None else parse_number(name, v) for v in value)
    raise SweepError(
        f"{name}: must be LO:HI (e.g. 360M:400M) or [lo, hi], either side empty/null for open, got {value!r}"
    )


def _measuring(value: Any) -> Measuring:
    if not isinstance(value, dict):
        raise SweepError(f"measure: must be a mapping with enabled, device and threads, got {value!r}")
    check_keys(value, ("enabled", "device", "threads"), "measure", SweepError)
    enabled, device, threads = value.get("enabled", True), value.get("device"), value.get("threads")
    if not isinstance(enabled, bool):
        raise SweepError(f"measure.enabled: must be true or false, got {enabled!r}")
    if device is not None and (not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda")):
        raise SweepError(f"measure.device: must be cpu, cuda or cuda:N (or null: the trial's), got {device!r}")
    if threads is not None:
        threads = check_int("measure.threads", threads, minimum=1)
    return Measuring(enabled, device, threads)


def _resources(value: Any) -> Resources:
    if not isinstance(value, dict):
        raise SweepError(f"resources: must be a mapping with cpus and gpus, got {value!r}")
    check_keys(value, ("cpus", "gpus"), "resources", SweepError)
    out = {}
    for key, low in (("cpus", 1.0), ("gpus", 0.0)):
        v = value.get(key, low)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < low:
            raise SweepError(f"resources.{key}: must be a number >= {low:g}, got {v!r}")
        out[key] = float(v)
    if out["gpus"] > 1 and not out["gpus"].is_integer():
        raise SweepError(
            f"resources.gpus: a fraction must be below 1 (e.g. 0.25), or a whole number, got {out['gpus']!r}"
        )
    return Resources(**out)
