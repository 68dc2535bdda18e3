"""A user's own images or arrays as a Dataset: listed and split (sweeps.image_source), decoded once (sweeps.decode)
into a cache folder keyed by the files and everything that decides the pixels, written atomically, and
memory-mapped on every later use, so a second study on the same folder decodes nothing and every trial on a machine
reads the same pages.

A cache folder (under $ANYNET_CACHE/decoded, default ~/.cache/anynet/decoded) holds x.npy (uint8 [N, C, R, R]: the
training images, then the validation ones, then the test ones, each split contiguous), y.npy (int64 labels) and
meta.json (the source, classes, counts, channels, mean/std, skipped files, decode speed). A changed folder
(a file added, removed, resized or touched) has another key: it is decoded afresh and the stale folder removed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anynet.files import cache_dir
from sweeps.data import Dataset, moments
from sweeps.decode import Decoded, decode_files, resize_arrays, workers
from sweeps.image_source import SPLIT_SEED, DataError, ImageOptions, Source, fingerprint, read_source, settled

META = "meta.json"
SHOWN = 3  # unreadable files named in a message
CHUNK = 4096  # images per step when copying or summing over the cache


def cache_root() -> Path:
    """Where decoded datasets are kept: $ANYNET_CACHE/decoded, default ~/.cache/anynet/decoded."""
    return cache_dir("decoded")


def load_own(
    path: str | Path,
    options: ImageOptions = ImageOptions(),
    fallback: int | None = None,
    progress: bool = False,
    quiet: bool = False,
) -> Dataset:
    """The user's data at `path` as a Dataset, memory-mapped from its cache (decoded first if not cached).

    `fallback`: the resolution for an image folder when options.resolution is None (the space's or the model's).
    Unless quiet, a line on stdout says whether it decodes (then how fast it did) or uses the cache, with a bar
    while decoding when `progress`; skipped files are named on stderr (errors, raised, are the caller's one line
    on stderr)."""
    say = (lambda line: None) if quiet else _say
    source = read_source(path)
    resolution = options.resolution or _native(source) or fallback
    if resolution is None:
        raise DataError(f"resolution: give the resolution to decode {source.path}'s images at (e.g. --resolution 32)")
    folder = cache_root() / fingerprint(source, options, resolution)
    if (folder / META).is_file():
        meta = json.loads((folder / META).read_text())
        say(
            f"{source.path}: using the decoded cache {folder} ({meta['images']:,} images at {resolution} px, "
            f"decoded {meta['decoded_at'][:16].replace('T', ' ')} UTC)"
        )
    else:
        count = source_count(source)
        verb = "decoding" if source.kind == "folder" else "converting"
        say(
            f"{source.path}: {verb} {count:,} images at {resolution} px in {workers(count)} process(es), once; "
            f"later runs memory-map {folder}"
        )
        meta = _build(source, options, resolution, folder, progress and not quiet)
        say(
            f"{source.path}: decoded {meta['images']:,} images in {meta['decode_seconds']:.1f} s "
            f"({meta['images_per_s']:,.0f} images/s)"
        )
    if meta["skipped"]:
        if options.strict:
            raise DataError(
                f"dataset: {_skipped_words(meta)} in {source.path}; --strict stops at them (without it they are "
                f"skipped)"
            )
        print(f"anynet: warning: {source.path}: skipped {_skipped_words(meta)}", file=sys.stderr, flush=True)
    return open_cache(folder)


def source_count(source: Source) -> int:
    return sum(len(source.labels(s)) for s in source.splits)


def _say(line: str) -> None:
    print(f"anynet: {line}", flush=True)


def _skipped_words(meta: dict[str, Any]) -> str:
    more = ", ..." if meta["skipped"] > len(meta["skipped_first"]) else ""
    return f"{meta['skipped']} unreadable image(s) ({'; '.join(meta['skipped_first'])}{more})"


def _native(source: Source) -> int | None:
    """An array's own size (its shorter side); None for an image folder."""
    if source.kind != "arrays":
        return None
    shape = source.arrays["train_x"].shape
    return min(shape[1:3]) if source.layout in ("NHW", "NHWC") else min(shape[2:4])


def split_rows(source: Source, options: ImageOptions) -> dict[str, tuple[str, np.ndarray]]:
    """Per split of the dataset (train, val, test): the source's split it comes from and the indices of its images
    there, in the source's order: the split of the same name, or a stratified test_split held out of "train"
    where the source has no splits; the training images capped at options.per_class per class."""
    rng = np.random.default_rng(SPLIT_SEED)
    rows = {s: np.arange(len(source.labels(s))) for s in source.splits}
    if source.unsplit:
        y = source.labels("train")
        test = []
        for c in range(len(source.classes)):
            members = np.flatnonzero(y == c)
            k = min(int(round(options.test_split * len(members))), len(members) - 1)
            test.append(rng.permutation(members)[:k])
        held = np.sort(np.concatenate(test))
        if not len(held):
            raise DataError(
                f"test_split: {options.test_split:g} of {len(y)} images holds none out for testing; give a larger "
                f"fraction or test/ and train/ folders"
            )
        rows = {"train": np.setdiff1d(rows["train"], held), "test": held}
    if options.per_class:
        y = source.labels("train")[rows["train"]]
        kept = [rng.permutation(np.flatnonzero(y == c))[: options.per_class] for c in range(len(source.classes))]
        rows["train"] = rows["train"][np.sort(np.concatenate(kept))]
    return {s: ("train" if source.unsplit else s, r) for s, r in rows.items()}


def _build(source: Source, options: ImageOptions, resolution: int, folder: Path, progress: bool) -> dict[str, Any]:
    """Decode into a temporary folder beside the cache and rename it into place (atomic); remove stale folders of
    the same source and options. Returns the meta."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        started = time.perf_counter()
        meta = _decode_into(source, options, resolution, tmp, progress)
        seconds = time.perf_counter() - started  # reading, decoding, resizing and writing the cache
        meta.update(decode_seconds=round(seconds, 3), images_per_s=round(meta["images"] / seconds, 1))
        (tmp / META).write_text(json.dumps(meta, indent=1))
        try:
            os.rename(tmp, folder)
        except OSError:  # another process cached the same key first: theirs is the same data
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(folder, meta)
    return json.loads((folder / META).read_text())


def _decode_into(source: Source, options: ImageOptions, resolution: int, tmp: Path, progress: bool) -> dict[str, Any]:
    rows = split_rows(source, options)
    order = [(s, *rows[s]) for s in ("train", "val", "test") if s in rows]
    n = sum(len(r) for _, _, r in order)
    labels = np.concatenate([source.labels(f)[r] for _, f, r in order])
    if source.kind == "folder":
        raw = np.lib.format.open_memmap(tmp / "raw.npy", "w+", np.uint8, (n, 3, resolution, resolution))
        files = [source.files[f][i][0] for _, f, r in order for i in r]
        decoded = decode_files(source.path, files, resolution, options.resize, raw, progress)
    else:
        raw, decoded = _arrays_into(source, order, options, resolution, tmp, progress)
    if decoded.too_small:
        first = decoded.too_small[0][1]
        smallest = min(side for _, _, side in decoded.too_small)
        raise DataError(
            f"resolution: {resolution} px is larger than {source.path}/{first} and resizing is off (--no-resize); "
            f"give --resolution {smallest} or less, or allow resizing"
        )
    bad = {i for i, _ in decoded.failed}
    if options.strict and bad:
        raise DataError(
            f"dataset: {len(bad)} unreadable image(s) in {source.path} "
            f"({'; '.join(m for _, m in decoded.failed[:SHOWN])}); --strict stops at them (without it they are skipped)"
        )
    kept = np.ones(n, bool)
    kept[sorted(bad)] = False
    keep = np.flatnonzero(kept)
    channels = 1 if source.kind == "folder" and decoded.gray[keep].all() else raw.shape[1]
    x = _compact(raw, keep, channels, tmp / "x.npy")
    del raw
    (tmp / "raw.npy").unlink(missing_ok=True)
    y = labels[keep]
    np.save(tmp / "y.npy", y)
    counts = {s: int(kept[start : start + len(r)].sum()) for s, _, r, start in _starts(order)}
    if not counts["train"] or not counts["test"]:
        raise DataError(f"dataset: {source.path}: no readable {'training' if not counts['train'] else 'test'} images")
    mean, std = moments(x[: counts["train"]], CHUNK)
    per_class = {}
    start = 0
    for s, count in counts.items():
        per_class[s] = np.bincount(y[start : start + count], minlength=len(source.classes)).tolist()
        start += count
    return {
        "version": 1,
        "source": str(source.path),
        "kind": source.kind,
        "fingerprint": source.fingerprint,
        "options": settled(options, resolution),
        "resolution": resolution,
        "channels": channels,
        "classes": list(source.classes),
        "splits": counts,
        "per_class": per_class,
        "images": int(len(keep)),
        "mean": mean,
        "std": std,
        "skipped": len(bad),
        "skipped_first": [m for _, m in decoded.failed[:SHOWN]],
        "workers": workers(n),
        "decoded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _starts(order: list[tuple[str, str, np.ndarray]]) -> Iterator[tuple[str, str, np.ndarray, int]]:
    """(split, source split, indices, first row in the cache) per split."""
    start = 0
    for s, f, r in order:
        yield s, f, r, start
        start += len(r)


def _arrays_into(
    source: Source,
    order: list[tuple[str, str, np.ndarray]],
    options: ImageOptions,
    resolution: int,
    tmp: Path,
    progress: bool,
) -> tuple[np.ndarray, Decoded]:
    """The arrays' images of each split in order, as [N, C, R, R]: transposed, and resized where their size is not
    the resolution."""
    x0 = source.arrays["train_x"]
    channels = 1 if source.layout == "NHW" else x0.shape[3] if source.layout == "NHWC" else x0.shape[1]
    n = sum(len(r) for _, _, r in order)
    raw = np.lib.format.open_memmap(tmp / "raw.npy", "w+", np.uint8, (n, channels, resolution, resolution))
    decoded = Decoded(gray=np.zeros(n, bool))
    for _, f, r, start in _starts(order):
        x = source.arrays[f"{f}_x"]
        for i in range(0, len(r), CHUNK):
            block = _nchw(np.asarray(x[r[i : i + CHUNK]]), source.layout)
            if block.shape[2:] == (resolution, resolution):
                raw[start + i : start + i + len(block)] = block
                continue
            part = resize_arrays(block, resolution, options.resize, raw[start + i : start + i + len(block)], progress)
            decoded.too_small += [(start + i + k, m, side) for k, m, side in part.too_small]
    return raw, decoded


def _nchw(x: np.ndarray, layout: str) -> np.ndarray:
    if layout == "NHW":
        return x[:, None]
    return x.transpose(0, 3, 1, 2) if layout == "NHWC" else x


def _compact(raw: np.ndarray, keep: np.ndarray, channels: int, path: Path) -> np.ndarray:
    """raw's rows `keep`, first `channels` channels, written to path as a .npy file (memory-mapped, in chunks)."""
    out = np.lib.format.open_memmap(path, "w+", np.uint8, (len(keep), channels, *raw.shape[2:]))
    for i in range(0, len(keep), CHUNK):
        out[i : i + CHUNK] = raw[keep[i : i + CHUNK], :channels]
    out.flush()
    return out


def _prune(folder: Path, meta: dict[str, Any]) -> None:
    """Remove the cache folders of the same source and options whose files have since changed."""
    for other in folder.parent.iterdir():
        if other == folder or not (other / META).is_file():
            continue
        try:
            old = json.loads((other / META).read_text())
        except (OSError, ValueError):
            continue
        same = all(old.get(k) == meta[k] for k in ("source", "kind", "options", "resolution"))
        if same and old.get("fingerprint") != meta["fingerprint"]:
            shutil.rmtree(other, ignore_errors=True)


def open_cache(folder: str | Path) -> Dataset:
    """The Dataset a cache folder holds, its images memory-mapped (read-only: shared by every process that opens
    it), its labels in memory."""
    folder = Path(folder)
    meta = json.loads((folder / META).read_text())
    x = np.load(folder / "x.npy", mmap_mode="r")
    y = torch.from_numpy(np.load(folder / "y.npy"))
    with warnings.catch_warnings():  # a read-only memory map: training only ever reads it
        warnings.simplefilter("ignore", UserWarning)
        images = torch.from_numpy(x)
    parts, start = {}, 0
    for s, count in meta["splits"].items():
        parts[f"{s}_x"], parts[f"{s}_y"] = images[start : start + count], y[start : start + count]
        start += count
    return Dataset(
        name=Path(meta["source"]).name,
        num_classes=len(meta["classes"]),
        mean=tuple(meta["mean"]),
        std=tuple(meta["std"]),
        source=meta["source"],
        classes=tuple(meta["classes"]),
        cache=str(folder),
        provenance={k: meta[k] for k in ("fingerprint", "skipped", "skipped_first", "options", "kind")},
        **parts,
    )
