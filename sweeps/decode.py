"""Decoding a user's images in parallel: each one read by Pillow, made grayscale or RGB, its shorter side resized to
the resolution and centre-cropped (or only cropped), in worker processes on every core, written in order into one
uint8 [N, 3, R, R] array. Arrays are resized the same way, image by image.

Workers are spawned, not forked: the parent may hold torch's and Ray's threads, and a fork copies their locks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

GRAY = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")  # Pillow modes read as one channel
# Fewer images than this decode in this process: starting workers costs more than it saves. Measured 2026-12-06 on
# a 2-core AMD EPYC (benchmarks/own_images.py, 28 px PNGs): 2 workers ran 0.71x one process at 2,000 images, 1.31x
# at 8,000; larger images pass even sooner.
SERIAL_BELOW = 4000


class TooSmall(ValueError):
    """An image smaller than the resolution, where resizing is not allowed; `side` its shorter side."""

    def __init__(self, w: int, h: int) -> None:
        super().__init__(f"{w} x {h}")
        self.side = min(w, h)


@dataclass
class Decoded:
    """What decoding gave besides the pixels: which images are grayscale, which could not be read and why."""

    gray: np.ndarray  # bool per image
    failed: list[tuple[int, str]] = field(default_factory=list)  # (index, 'path: reason')
    too_small: list[tuple[int, str, int]] = field(default_factory=list)  # (index, 'path: W x H', shorter side)


def fit(image, resolution: int, resize: bool):
    """The image at resolution x resolution: its shorter side resized to it (bilinear, antialiased when shrinking,
    as torchvision's Resize on a PIL image), then the centre crop; with resize False only the crop."""
    from PIL import Image

    w, h = image.size
    if min(w, h) != resolution:
        if not resize and min(w, h) < resolution:
            raise TooSmall(w, h)
        if resize:
            scale = resolution / min(w, h)
            w, h = max(resolution, int(w * scale)), max(resolution, int(h * scale))  # torchvision's Resize
            image = image.resize((w, h), Image.Resampling.BILINEAR)
    if (w, h) != (resolution, resolution):
        left, top = int(round((w - resolution) / 2)), int(round((h - resolution) / 2))
        image = image.crop((left, top, left + resolution, top + resolution))
    return image


def read_image(path: str, resolution: int, resize: bool) -> tuple[np.ndarray, bool]:
    """One file as uint8 [3, R, R] (a grayscale image's channel repeated) and whether it is grayscale."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()  # a truncated file raises here (Pillow does not load truncated images by default)
        gray = image.mode in GRAY
        if gray:
            image = image.convert("L")
        elif image.mode == "P":  # through RGBA: a transparent palette entry converts without a warning
            image = image.convert("RGBA").convert("RGB")
        elif image.mode != "RGB":
            image = image.convert("RGB")
        pixels = np.asarray(fit(image, resolution, resize))
    if gray:
        return np.broadcast_to(pixels, (3, *pixels.shape)), True
    return pixels.transpose(2, 0, 1), False


def _file_chunk(root: str, items: list[tuple[int, str]], resolution: int, resize: bool):
    """Worker: decode the files of a chunk; (indices, pixels, gray flags, failures, too small)."""
    from PIL import UnidentifiedImageError

    pixels = np.zeros((len(items), 3, resolution, resolution), np.uint8)
    gray = np.zeros(len(items), bool)
    failed, small = [], []
    for k, (index, relative) in enumerate(items):
        try:
            pixels[k], gray[k] = read_image(os.path.join(root, relative), resolution, resize)
        except TooSmall as e:
            small.append((index, f"{relative}: {e}", e.side))
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:  # Pillow's ways of failing
            reason = str(e).splitlines()[0].replace(f" {os.path.join(root, relative)!r}", "") if str(e) else ""
            failed.append((index, f"{relative}: {reason or type(e).__name__}"))
    return [i for i, _ in items], pixels, gray, failed, small


def _array_chunk(start: int, x: np.ndarray, resolution: int, resize: bool):
    """Worker: resize a chunk of [k, C, H, W] array images channel by channel, as images are."""
    from PIL import Image

    pixels = np.zeros((len(x), x.shape[1], resolution, resolution), np.uint8)
    small = []
    for k in range(len(x)):
        try:
            for c in range(x.shape[1]):
                pixels[k, c] = np.asarray(fit(Image.fromarray(np.ascontiguousarray(x[k, c])), resolution, resize))
        except TooSmall as e:
            small.append((start + k, f"image {start + k}: {e}", e.side))
    return list(range(start, start + len(x))), pixels, np.zeros(len(x), bool), [], small


def workers(n: int | None = None) -> int:
    """The processes that decode n images: the cores this process may use, or 1 (this process) for a few."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 1 if n is not None and n < SERIAL_BELOW else cores


def decode_files(
    root: Path, files: Sequence[str], resolution: int, resize: bool, out: np.ndarray, progress: bool
) -> Decoded:
    """Decode `files` (paths relative to root) into out[i] (uint8 [N, 3, R, R]) in parallel."""
    size, items = _chunk(len(files)), list(enumerate(files))
    chunks = [(str(root), items[i : i + size], resolution, resize) for i in range(0, len(items), size)]
    return _run(_file_chunk, chunks, len(files), out, progress, "decoding")


def resize_arrays(x: np.ndarray, resolution: int, resize: bool, out: np.ndarray, progress: bool) -> Decoded:
    """Resize array images [N, C, H, W] into out (uint8 [N, C, R, R]) in parallel."""
    size = _chunk(len(x))
    chunks = [(i, np.asarray(x[i : i + size]), resolution, resize) for i in range(0, len(x), size)]
    return _run(_array_chunk, chunks, len(x), out, progress, "resizing")


def _chunk(n: int) -> int:
    return max(16, min(256, n // (8 * workers()) or 1))


def _run(task: Callable, chunks: list[tuple], n: int, out: np.ndarray, progress: bool, verb: str) -> Decoded:
    from tqdm import tqdm

    decoded = Decoded(gray=np.zeros(n, bool))
    bar = tqdm(total=n, unit="img", desc=verb, disable=not progress, file=sys.stdout, dynamic_ncols=True)
    for indices, pixels, gray, failed, small in _results(task, chunks, n):
        out[indices] = pixels
        decoded.gray[indices] = gray
        decoded.failed += failed
        decoded.too_small += small
        bar.update(len(indices))
    bar.close()
    decoded.failed.sort()
    decoded.too_small.sort()
    return decoded


def _results(task: Callable, chunks: list[tuple], n: int) -> Iterator[tuple]:
    if workers(n) == 1:
        yield from (task(*chunk) for chunk in chunks)
        return
    with ProcessPoolExecutor(workers(n), mp_context=get_context("spawn")) as pool:
        for future in as_completed([pool.submit(task, *chunk) for chunk in chunks]):
            yield future.result()
