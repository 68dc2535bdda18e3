"""A user's own data, found and checked before anything is decoded: an ImageFolder tree or arrays, listed as splits.

An image folder is torchvision's and timm's ImageFolder layout: one sub-folder per class (sorted names give the
labels 0, 1, ...), images anywhere below it. With `train/` and `test/` (or `val/`) sub-folders, those are the
splits (with all three, `val/` is the validation split that selection uses); without them, a seeded stratified
`test_split` of each class is held out for testing. Images are ordered by file name (then class), so a set written
out with numbered file names keeps its order. Arrays are an `.npz` file or a folder of `.npy` files named x, y (split
like a folder without splits), or train_x, train_y, test_x, test_y (val_x, val_y), or Keras's x_train, y_train,
x_test, y_test; x is uint8, [N, H, W], [N, H, W, C] or [N, C, H, W]; y integer labels 0..K-1; an optional `classes`
array names the classes.

Everything here is a listing: paths, sizes and modification times (the folder's fingerprint, which keys the decode
cache), labels and class names; a bad layout is one DataError naming the path or the field.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anynet.errors import AnynetError

# The file types torchvision's ImageFolder reads, and WebP.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")
TEST_NAMES = ("test", "val", "valid", "validation")  # the held-out split's folder, first found wins
ARRAY_NAMES = {  # the array files' layouts: role -> accepted names
    "train_x": ("train_x", "x_train"),
    "train_y": ("train_y", "y_train"),
    "test_x": ("test_x", "x_test"),
    "test_y": ("test_y", "y_test"),
    "val_x": ("val_x", "x_val"),
    "val_y": ("val_y", "y_val"),
    "x": ("x",),
    "y": ("y",),
}
SPLIT_SEED = 0  # the stratified split's seed: the same held-out images for every study on the folder
BUILT_IN = ("fashion-mnist", "mnist", "cifar10", "cifar100", "imagenet", "synthetic")  # sweeps.data reads these
FLAGS = {"resolution": "--resolution", "test_split": "--test-split", "per_class": "--per-class"}


class DataError(AnynetError):
    """A dataset that cannot be found or read; the message names the file or the paths searched."""


@dataclass(frozen=True)
class ImageOptions:
    """How a user's images become a dataset (ignored for the built-in sets).

    resolution: decode at this size (the shorter side resized to it, then a centre crop); None: an array's own
    size, or for a folder the `fallback` the caller gives (the space's or the model's). resize False keeps the
    pixels: images are centre-cropped only, and one smaller than the resolution is an error. test_split: the
    fraction of each class held out where there are no split folders. per_class: at most this many training
    images per class (a seeded choice). strict: an unreadable image is an error instead of being skipped."""

    resolution: int | None = None
    resize: bool = True
    test_split: float = 0.2
    per_class: int | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        for key in ("resize", "strict"):
            if not isinstance(getattr(self, key), bool):
                raise DataError(f"{key}: must be true or false, got {getattr(self, key)!r}")
        split = self.test_split
        if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 < split < 1:
            raise DataError(f"test_split: must be a number between 0 and 1 (exclusive), got {split!r}")
        for key in ("resolution", "per_class"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise DataError(f"{key}: must be an integer >= 1, got {value!r}")

    def identity(self) -> dict[str, Any]:
        """The fields that decide which pixels a dataset has (strict only decides whether a bad image stops it)."""
        return {"resolution": self.resolution, "resize": self.resize, "test_split": self.test_split} | (
            {"per_class": self.per_class} if self.per_class else {}
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.identity(), "per_class": self.per_class, "strict": self.strict}

    @classmethod
    def from_dict(cls, data: Any, where: str = "images") -> ImageOptions:
        """Validated options from a mapping (a sweep file's `images`); errors name `where.field`."""
        if not isinstance(data, dict):
            raise DataError(f"{where}: must be a mapping of {', '.join(cls().to_dict())}, got {data!r}")
        unknown = [k for k in data if k not in cls().to_dict()]
        if unknown:
            raise DataError(f"{where}.{unknown[0]}: unknown field; allowed fields: {', '.join(cls().to_dict())}")
        try:
            return cls(**data)
        except AnynetError as e:  # the field checks name the bare field
            raise DataError(f"{where}.{e}") from None

    @classmethod
    def from_flags(cls, options: dict[str, Any]) -> ImageOptions:
        """Validated options from a command's flags; errors name the flag."""
        try:
            return cls(**options)
        except AnynetError as e:
            key, _, rest = str(e).partition(": ")
            raise DataError(f"{FLAGS.get(key, key)}: {rest}") from None


def is_path(dataset: str, base: Path = Path(".")) -> bool:
    """Whether a dataset argument names a file or folder (relative to `base`) rather than a built-in set; a
    built-in name is always the built-in set."""
    if dataset in BUILT_IN:
        return False
    return os.sep in dataset or "/" in dataset or dataset.endswith((".npz", ".npy")) or (base / dataset).exists()


@dataclass
class Source:
    """A user's data, listed: per split either image files with labels, or arrays; the class names; the
    fingerprint of the files it was read from (relative path, size, modification time of each)."""

    path: Path
    kind: str  # "folder" or "arrays"
    classes: tuple[str, ...]
    fingerprint: str
    files: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # split -> [(relative path, label)]
    # with unsplit, "train" holds every image (a stratified test_split is held out of it)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # role -> array (x in its own layout, y labels)
    layout: str = ""  # arrays: "NCHW", "NHWC" or "NHW"
    unsplit: bool = False  # no split folders or arrays: a stratified test_split is held out of "train"

    def labels(self, split: str) -> np.ndarray:
        """The labels of one of the listed splits (train, val, test)."""
        if self.kind == "folder":
            return np.array([label for _, label in self.files[split]], dtype=np.int64)
        return np.asarray(self.arrays[f"{split}_y"], dtype=np.int64)

    @property
    def splits(self) -> list[str]:
        return [s for s in ("train", "val", "test") if s in self.files or f"{s}_y" in self.arrays]


def read_source(path: str | Path) -> Source:
    """List the user's data at `path`, checking the layout; nothing is decoded."""
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise DataError(f"dataset: {path}: no such file or folder")
    if path.is_file():
        if path.suffix != ".npz":
            raise DataError(
                f"dataset: {path}: not an .npz file; give an image folder (one sub-folder per class), an .npz "
                f"file, or a folder of .npy files (x.npy, y.npy, ...)"
            )
        return _arrays(path, _load_npz(path), [path])
    npy = sorted(p for p in path.glob("*.npy") if p.is_file())
    if npy:
        return _arrays(path, {p.stem: _load_npy(p) for p in npy}, npy)
    return _folder(path)


def _folder(root: Path) -> Source:
    splits = {"train": root / "train"} if (root / "train").is_dir() else {}
    if splits:
        held = [root / name for name in TEST_NAMES if (root / name).is_dir()]
        if not held:
            raise DataError(f"dataset: {root} has train/ but no test/ or val/ folder beside it")
        splits["test"] = root / "test" if (root / "test").is_dir() else held[0]
        if splits["test"].name == "test" and len(held) > 1:
            splits["val"] = held[1]
    classes = _classes(splits.get("train", root))
    listed: dict[str, list[tuple[str, int]]] = {}
    stats: list[str] = []
    for split, folder in (splits or {"train": root}).items():
        names = _classes(folder, 2 if split == "train" else 1)
        extra = [c for c in names if c not in classes]
        if extra:
            raise DataError(f"dataset: {folder}/{extra[0]}: a class that {splits['train']} does not have")
        rows = []
        for label, name in enumerate(classes):
            images = _images(folder / name, root, stats) if name in names else []
            if not images and split == "train":
                raise DataError(f"dataset: {folder / name}: an empty class (no {'/'.join(IMAGE_SUFFIXES)} images)")
            rows += [(relative, label) for relative in images]
        rows.sort(key=lambda row: (Path(row[0]).name, row[1], row[0]))
        listed[split] = rows
    return Source(root, "folder", classes, _digest(stats), files=listed, unsplit=not splits)


def _classes(folder: Path, minimum: int = 2) -> tuple[str, ...]:
    names = tuple(sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")))
    if not names:
        raise DataError(
            f"dataset: {folder}: no class sub-folders; an image folder holds one sub-folder of images per class "
            f"(optionally under train/ and test/)"
        )
    if len(names) < minimum:
        raise DataError(f"dataset: {folder}: only one class ({names[0]}); a classifier needs at least 2")
    return names


def _images(folder: Path, root: Path, stats: list[str]) -> list[str]:
    """Image files below `folder` (recursively, hidden ones left out), as paths relative to root; each one's
    path, size and modification time go into `stats`."""
    found = []
    prefix = os.path.relpath(folder, root) + os.sep
    pending = [(str(folder), prefix)]
    while pending:
        path, relative = pending.pop()
        entries = sorted(os.scandir(path), key=lambda e: e.name)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                pending.append((entry.path, relative + entry.name + os.sep))
            elif entry.name.lower().endswith(IMAGE_SUFFIXES):
                st = entry.stat()
                found.append(relative + entry.name)
                stats.append(f"{found[-1]}\t{st.st_size}\t{st.st_mtime_ns}")
    return found


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"dataset: {path}: not a readable .npz file ({e})") from None


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"dataset: {path}: not a readable .npy file ({e})") from None


def _arrays(path: Path, found: dict[str, np.ndarray], files: list[Path]) -> Source:
    roles = {}
    for role, names in ARRAY_NAMES.items():
        hit = [n for n in names if n in found]
        if hit:
            roles[role] = hit[0]
    unsplit = "train_x" not in roles
    wanted = ("x", "y") if unsplit else ("train_x", "train_y", "test_x", "test_y")
    missing = [r for r in wanted if r not in roles]
    if missing or (unsplit and "x" not in roles):
        known = ", ".join(sorted(found)) or "none"
        raise DataError(
            f"dataset: {path}: arrays x and y (or train_x, train_y, test_x, test_y) expected; found {known}"
        )
    if unsplit:
        arrays = {"train_x": found[roles["x"]], "train_y": found[roles["y"]]}
    else:
        arrays = {r: found[roles[r]] for r in roles if r not in ("x", "y")}
        if ("val_x" in arrays) != ("val_y" in arrays):
            raise DataError(f"dataset: {path}: val_x and val_y come together; found only one of them")
    layout, channels = "", 0
    for split in ("train", "val", "test"):
        if f"{split}_x" not in arrays:
            continue
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        name = roles["x" if unsplit else f"{split}_x"]
        label_name = roles["y" if unsplit else f"{split}_y"]
        if x.dtype != np.uint8:
            raise DataError(
                f"dataset: {path}: {name} must be uint8 pixels 0..255, got {x.dtype} (e.g. (x * 255).round()"
                f".astype(np.uint8) for floats in [0, 1])"
            )
        shape = _layout(path, name, x.shape)
        if layout and (shape != layout or _channels(x.shape, shape) != channels):
            raise DataError(
                f"dataset: {path}: {name} is {shape} with {_channels(x.shape, shape)} channel(s), the training "
                f"images {layout} with {channels}"
            )
        layout, channels = shape, _channels(x.shape, shape)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"dataset: {path}: {label_name} must be a 1-D integer array, got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise DataError(f"dataset: {path}: {name} has {len(x)} images but {label_name} has {len(y)} labels")
    classes = _array_classes(path, found, arrays, roles, unsplit)
    stats = [f"{p.name}\t{p.stat().st_size}\t{p.stat().st_mtime_ns}" for p in files]
    return Source(path, "arrays", classes, _digest(stats), arrays=arrays, layout=layout, unsplit=unsplit)


def _channels(shape: tuple[int, ...], layout: str) -> int:
    return 1 if layout == "NHW" else shape[3] if layout == "NHWC" else shape[1]


def _layout(path: Path, name: str, shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        return "NHW"
    if len(shape) == 4 and shape[3] <= 4 < shape[1]:
        return "NHWC"
    if len(shape) == 4 and shape[1] <= 4 < shape[3]:
        return "NCHW"
    raise DataError(
        f"dataset: {path}: {name} has shape {shape}; images are [N, H, W], [N, H, W, C] or [N, C, H, W] with "
        f"at most 4 channels and more than 4 pixels a side"
    )


def _array_classes(
    path: Path, found: dict[str, np.ndarray], arrays: dict[str, np.ndarray], roles: dict[str, str], unsplit: bool
) -> tuple[str, ...]:
    train_y = arrays["train_y"]
    if not len(train_y):
        raise DataError(f"dataset: {path}: no training images")
    names = found.get("classes")
    k = int(train_y.max()) + 1 if names is None else len(names)
    for split in ("train", "val", "test"):
        y = arrays.get(f"{split}_y")
        if y is None or not len(y):
            continue
        if y.min() < 0 or y.max() >= k:
            bound = f"the {k} names in classes" if names is not None else f"the training labels' 0..{k - 1}"
            label = roles["y" if unsplit else f"{split}_y"]
            raise DataError(
                f"dataset: {path}: {label} holds labels {y.min()}..{y.max()}, outside {bound}; labels are 0..K-1"
            )
    counts = np.bincount(train_y, minlength=k)
    if k < 2:
        raise DataError(f"dataset: {path}: only one class in the labels; a classifier needs at least 2")
    if (counts == 0).any():
        raise DataError(
            f"dataset: {path}: class {int(np.argmin(counts))} has no training images (labels must be 0..K-1, each "
            f"class present)"
        )
    return tuple(str(n) for n in names) if names is not None else tuple(str(i) for i in range(k))


def fingerprint(source: Source, options: ImageOptions, resolution: int) -> str:
    """The decode cache's key: the files' fingerprint with everything that decides the pixels and the splits."""
    parts = [source.fingerprint, source.kind, repr(settled(options, resolution)), str(SPLIT_SEED), "v1"]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def settled(options: ImageOptions, resolution: int) -> dict[str, Any]:
    """The options' identity with the resolution actually used (given, or the fallback)."""
    return {**options.identity(), "resolution": resolution}
