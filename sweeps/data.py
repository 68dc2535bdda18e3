"""Datasets as uint8 tensors: found on disk in a fixed order, validated as read, loaded once. A path instead of a
name is the user's own images or arrays (sweeps.own_data: decoded once, memory-mapped after).

Search order for dataset NAME: an explicit data_dir (the files in it, or in data_dir/NAME); $ANYNET_DATA/NAME;
/usr/share/datasets/NAME (Debian's dataset-fashion-mnist installs there); ~/.cache/anynet/NAME. With
download=True, missing files are fetched from the dataset's canonical URL into the cache.

ImageNet has no canonical single-file release: prepare it once as four numpy files, train_x.npy and test_x.npy
(uint8, [N, 3, H, W], at the resolution you will train at or above; the ILSVRC validation set serves as the
test set) and train_y.npy, test_y.npy (integer labels 0..999). They are loaded whole onto the training device,
so size them for its memory (64 px: 16 GB; 224 px: 193 GB).
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
import urllib.request
import warnings
import zlib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anynet.files import resolve_spec
from anynet.spec import AnyNetSpec
from anynet.zoo import zoo_name
from sweeps.image_source import BUILT_IN, DataError, ImageOptions, is_path

NAMES = BUILT_IN
NPY = {"imagenet": 1000}  # name -> classes, for datasets stored as {train,test}_{x,y}.npy
IDX_FILES = {  # role -> standard file name
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
URLS = {
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
}
CIFAR = {  # name -> (folder inside the archive, train files, test file, label key, classes)
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels", 10),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels", 100),
}


TENSORS = ("train_x", "train_y", "test_x", "test_y", "val_x", "val_y")


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 [N, C, H, W] and labels as int64 [N], on one device; mean/std per channel in [0, 1].

    Pickled (as Ray ships it to trials) its tensors travel as numpy arrays, which Ray's object store hands to
    every process on a node without a copy (a torch tensor would be copied into each)."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str
    val_x: torch.Tensor | None = None
    val_y: torch.Tensor | None = None
    classes: tuple[str, ...] = ()  # class names, where the data has them
    cache: str | None = None  # the decode cache folder the tensors are memory-mapped from (a user's own data)
    provenance: dict[str, Any] = field(default_factory=dict)  # a user's data: fingerprint, skipped files, options

    @property
    def in_channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def resolution(self) -> int:
        return self.train_x.shape[2]

    def to(self, device: torch.device | str) -> Dataset:
        """The same data on another device."""
        moved = {k: getattr(self, k) for k in TENSORS}
        return replace(self, **{k: None if v is None else v.to(device) for k, v in moved.items()})

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        return _from_state, ({k: v.numpy() if k in TENSORS and v is not None else v for k, v in state.items()},)

    def shared(self, local: bool) -> Dataset | CachedDataset:
        """What to ship to trials: on a one-machine Ray (`local`), a dataset memory-mapped from its decode cache
        goes as the cache's path (every trial maps the same pages); anything else as itself, through the object
        store (once per node)."""
        return CachedDataset(self.cache) if local and self.cache else self

    def summary(self) -> dict[str, Any]:
        """The record of the data a sweep trained on: source, classes, counts, channels, resolution, mean/std."""
        splits = {s: getattr(self, f"{s}_y") for s in ("train", "val", "test") if getattr(self, f"{s}_y") is not None}
        return {
            "name": self.name,
            "source": self.source,
            "classes": list(self.classes) or self.num_classes,
            "channels": self.in_channels,
            "resolution": self.resolution,
            "images": {s: len(y) for s, y in splits.items()},
            "per_class": {s: torch.bincount(y, minlength=self.num_classes).tolist() for s, y in splits.items()},
            "mean": [round(m, 6) for m in self.mean],
            "std": [round(v, 6) for v in self.std],
            **self.provenance,
        }

    def with_val_split(self, fraction: float, seed: int = 0) -> Dataset:
        """Carve a seeded random `fraction` of the training set out as a validation set."""
        if not 0 < fraction < 1:
            raise DataError(f"val_split: must be between 0 and 1 (exclusive), got {fraction!r}")
        n = len(self.train_y)
        n_val = int(round(n * fraction))
        if not 0 < n_val < n:
            raise DataError(f"val_split: {fraction!r} of {n} training images leaves an empty split")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(self.train_x.device)
        val, train = perm[:n_val], perm[n_val:]
        return replace(
            self,
            train_x=self.train_x[train],
            train_y=self.train_y[train],
            val_x=self.train_x[val],
            val_y=self.train_y[val],
            cache=None,  # copies now, not the cache's pages
        )


def _from_state(state: dict[str, Any]) -> Dataset:
    with warnings.catch_warnings():  # read-only arrays (Ray's object store, a memory map): training only reads them
        warnings.simplefilter("ignore", UserWarning)
        tensors = {k: torch.from_numpy(state[k]) for k in TENSORS if state[k] is not None}
    return Dataset(**{**state, **tensors})


@dataclass(frozen=True)
class CachedDataset:
    """A dataset shipped by the path of its decode cache; `open` memory-maps it in the receiving process."""

    cache: str

    def open(self) -> Dataset:
        from sweeps.own_data import open_cache

        return open_cache(self.cache)


def opened(data: Dataset | CachedDataset) -> Dataset:
    """A shipped dataset, ready to train on."""
    return data.open() if isinstance(data, CachedDataset) else data


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    download: bool = False,
    images: ImageOptions | None = None,
    fallback: int | None = None,
    progress: bool = False,
    quiet: bool = False,
) -> Dataset:
    """Find, read and validate a dataset; returns it on the CPU. A path (an image folder, an .npz file or a folder
    of .npy files) is the user's own data, decoded once as `images` says (sweeps.own_data; `fallback`: the
    resolution of an image folder when `images` gives none); `progress` shows a bar while decoding, and `quiet`
    leaves out the line on stdout that says whether it decoded or used the cache."""
    if is_path(name):
        from sweeps.own_data import load_own

        return load_own(name, images or ImageOptions(), fallback, progress, quiet)
    if name not in NAMES:
        raise DataError(
            f"dataset: {name!r} is not one of {', '.join(NAMES)}, nor a path to an image folder, an .npz file or "
            f"a folder of .npy files"
        )
    if name == "synthetic":
        return synthetic()
    dirs = search_dirs(name, data_dir)
    for d in dirs:
        if _present(name, d):
            return _read(name, d)
    if name in NPY:
        raise DataError(
            f"{name}: no data found; searched {', '.join(str(d) for d in dirs)} for train_x.npy, train_y.npy, "
            f"test_x.npy, test_y.npy (see sweeps/data.py for the layout); point --data-dir at them"
        )
    hint = "apt-get install dataset-fashion-mnist, " if name == "fashion-mnist" else ""
    searched = f"searched {', '.join(str(d) for d in dirs)}"
    if download:
        try:
            return _read(name, _download(name, dirs[-1]))
        except DataError as e:
            raise DataError(f"{e}; {searched}; install it ({hint}or put the files in one of those folders)") from None
    raise DataError(
        f"{name}: no data found; {searched}; install it ({hint}or pass --download to fetch {URLS[name]} into "
        f"{dirs[-1]}), or point --data-dir at the files"
    )


def search_dirs(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """The folders searched for a dataset, in order."""
    dirs = [Path(data_dir), Path(data_dir) / name] if data_dir else []
    if os.environ.get("ANYNET_DATA"):
        dirs.append(Path(os.environ["ANYNET_DATA"]) / name)
    return dirs + [Path("/usr/share/datasets") / name, Path.home() / ".cache" / "anynet" / name]


def _idx_path(d: Path, stem: str) -> Path | None:
    for candidate in (d / f"{stem}.gz", d / stem):
        if candidate.is_file():
            return candidate
    return None


def _cifar_source(name: str, d: Path) -> Path | None:
    folder = CIFAR[name][0]
    for candidate in (d / folder, d):
        if (candidate / CIFAR[name][2]).is_file():
            return candidate
    archive = d / URLS[name].rsplit("/", 1)[1]
    return archive if archive.is_file() else None


def _present(name: str, d: Path) -> bool:
    if name in NPY:
        return all((d / f"{role}.npy").is_file() for role in IDX_FILES)
    if name in CIFAR:
        return _cifar_source(name, d) is not None
    return all(_idx_path(d, stem) for stem in IDX_FILES.values())


def _read(name: str, d: Path) -> Dataset:
    if name in NPY:
        arrays, classes = _read_npy(d), NPY[name]
    elif name in CIFAR:
        arrays, classes = _read_cifar(name, _cifar_source(name, d)), CIFAR[name][4]
    else:
        arrays, classes = {role: read_idx(_idx_path(d, stem)) for role, stem in IDX_FILES.items()}, 10
        for split in ("train", "test"):
            arrays[f"{split}_x"] = arrays[f"{split}_x"][:, None]  # N, 1, H, W
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if len(x) != len(y):
            raise DataError(f"{name} in {d}: {len(x)} {split} images but {len(y)} labels")
        if len(y) and (y.min() < 0 or y.max() >= classes):
            raise DataError(f"{name} in {d}: {split} labels outside 0..{classes - 1} (found {y.min()}..{y.max()})")
    return _dataset(name, arrays, classes, str(d))


def _dataset(name: str, arrays: dict[str, np.ndarray], classes: int, source: str) -> Dataset:
    mean, std = moments(arrays["train_x"])
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
    for k in ("train_y", "test_y"):
        tensors[k] = tensors[k].long()
    return Dataset(name=name, num_classes=classes, mean=tuple(mean), std=tuple(std), source=source, **tensors)


def moments(x: np.ndarray, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Exact per-channel mean and std in [0, 1] of uint8 images [N, C, H, W], from histograms of the pixels summed
    `chunk` images at a time (a memory map is read once, never whole)."""
    hist = np.zeros((x.shape[1], 256))
    for i in range(0, len(x), chunk):
        block = np.asarray(x[i : i + chunk])
        for c in range(x.shape[1]):
            hist[c] += np.bincount(block[:, c].ravel(), minlength=256)
    levels = np.arange(256) / 255
    mean, std = [], []
    for counts in hist:
        p = counts / counts.sum()
        m = float(p @ levels)
        mean.append(m)
        std.append(float(np.sqrt(p @ (levels - m) ** 2)))
    return mean, std


def read_idx(path: Path) -> np.ndarray:
    """An idx file (gzipped or not): magic 0x0000080D with D dimensions of uint8 data, sizes big-endian."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated gzip file ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] not in (1, 3):
        raise DataError(f"{path}: not an idx file of uint8 labels or images (bad magic number {raw[:4].hex()})")
    dims = raw[3]
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path}: truncated idx header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: idx header says {shape} ({expected} bytes) but the file has {len(raw)} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_npy(d: Path) -> dict[str, np.ndarray]:
    """{train,test}_{x,y}.npy: uint8 [N, C, H, W] images and integer labels."""
    arrays = {}
    for role in IDX_FILES:
        path = d / f"{role}.npy"
        try:
            a = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not a readable .npy file ({e})") from None
        if role.endswith("_x") and (a.dtype != np.uint8 or a.ndim != 4):
            raise DataError(f"{path}: images must be uint8 [N, C, H, W], got {a.dtype} with shape {a.shape}")
        if role.endswith("_y") and (a.ndim != 1 or not np.issubdtype(a.dtype, np.integer)):
            raise DataError(f"{path}: labels must be a 1-D integer array, got {a.dtype} with shape {a.shape}")
        arrays[role] = a
    return arrays


def _read_cifar(name: str, source: Path) -> dict[str, np.ndarray]:
    folder, train_files, test_file, label_key, _ = CIFAR[name]

    def load(member: str) -> dict:
        try:
            if source.is_file():
                with tarfile.open(source) as tar:
                    handle = tar.extractfile(f"{folder}/{member}")
                    if handle is None:
                        raise KeyError(member)
                    return pickle.load(handle, encoding="bytes")
            with open(source / member, "rb") as f:
                return pickle.load(f, encoding="bytes")
        except (OSError, EOFError, KeyError, pickle.UnpicklingError, tarfile.TarError, ValueError) as e:
            raise DataError(f"{source}/{member}: cannot read CIFAR batch ({type(e).__name__}: {e})") from None

    def split(members: list[str]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for member in members:
            batch = load(member)
            if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
                raise DataError(f"{source}/{member}: not a CIFAR batch (no data or {label_key.decode()})")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(batch[label_key]):
                raise DataError(f"{source}/{member}: expected N x 3072 pixels and N labels, got {data.shape}")
            xs.append(data.reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[label_key], dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ys)

    train_x, train_y = split(train_files)
    test_x, test_y = split([test_file])
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


def _download(name: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    urls = [URLS[name]] if name in CIFAR else [f"{URLS[name]}{stem}.gz" for stem in IDX_FILES.values()]
    for url in urls:
        target = cache / url.rsplit("/", 1)[1]
        tmp = target.with_suffix(target.suffix + ".part")
        try:
            with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as f:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
            tmp.replace(target)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise DataError(f"{name}: no data found, and the download of {url} failed ({e})") from None
    return cache


def synthetic(
    n_train: int = 8192,
    n_test: int = 2048,
    resolution: int = 28,
    channels: int = 1,
    classes: int = 10,
    noise: float = 0.8,
    seed: int = 0,
) -> Dataset:
    """A learnable stand-in: each class is a smooth random template; images are a template plus pixel noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(size=(classes, channels, 4, 4))
    templates = torch.nn.functional.interpolate(
        torch.from_numpy(coarse), size=(resolution, resolution), mode="bilinear", align_corners=False
    ).numpy()

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(classes, size=n)
        x = templates[y] + noise * rng.normal(size=(n, channels, resolution, resolution))
        return np.clip(128 + 40 * x, 0, 255).astype(np.uint8), y

    (train_x, train_y), (test_x, test_y) = make(n_train), make(n_test)
    arrays = {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}
    return _dataset("synthetic", arrays, classes, f"generated (seed {seed})")


def spec_for_data(model: str, data: Dataset, resolution: int | None = None) -> AnyNetSpec:
    """The spec of a zoo name or a spec file, to train on `data` (at `resolution` where given). Zoo models are
    ImageNet-shaped: they are fitted to the data's channels and classes (and to its resolution unless one is
    given); a spec file is taken as written."""
    spec = resolve_spec(model, {} if resolution is None else {"resolution": resolution})
    if zoo_name(model) is not None:
        fit = {"in_channels": data.in_channels, "num_classes": data.num_classes}
        spec = spec.with_fields(**fit, **({} if resolution else {"resolution": data.resolution}))
    return spec
