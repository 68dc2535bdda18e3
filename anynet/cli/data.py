"""The flags that choose a dataset, built-in or the user's own images or arrays (on study, train and bench)."""

from __future__ import annotations

import argparse
from typing import Any

from sweeps import ImageOptions

DATASET_HELP = (
    "fashion-mnist (default), mnist, cifar10, cifar100, imagenet (npy files), synthetic, or a path to your own data: "
    "an image folder (one sub-folder per class, optionally under train/ and test/), an .npz file or a folder of .npy "
    "files (x, y: uint8 images and integer labels); decoded once, cached, memory-mapped after"
)


def add_data_flags(parser: argparse.ArgumentParser, *, strict: bool = True) -> None:
    """--dataset, --data-dir and the decoding of a user's images: --resolution, --no-resize, --test-split,
    --per-class, and --strict unless the command has its own."""
    parser.add_argument("--dataset", default="fashion-mnist", help=DATASET_HELP)
    parser.add_argument("--data-dir", help="where a built-in dataset's files are (default: the standard search)")
    parser.add_argument(
        "--resolution",
        type=int,
        help="input resolution in pixels; your own images are decoded at it (shorter side resized, centre crop); "
        "default: an array's own size, an image folder at the space's (or model's) resolution",
    )
    parser.add_argument(
        "--no-resize",
        action="store_true",
        help="your own images: centre-crop to the resolution, never rescale (an image smaller than it is an error)",
    )
    parser.add_argument(
        "--test-split",
        type=float,
        default=ImageOptions.test_split,
        help="your own data without train/ and test/ splits: the fraction of each class held out for testing "
        f"(seeded, stratified; default {ImageOptions.test_split:g})",
    )
    parser.add_argument(
        "--per-class", type=int, metavar="N", help="your own data: at most N training images per class (seeded)"
    )
    if strict:
        parser.add_argument(
            "--strict", action="store_true", help="an unreadable image is an error (default: skipped, and named)"
        )


def image_options(args: argparse.Namespace, check: bool = False) -> dict[str, Any]:
    """The flags' ImageOptions fields that differ from the defaults (checked now, naming the flag, with check)."""
    options = {
        "resolution": args.resolution,
        "resize": not args.no_resize,
        "test_split": args.test_split,
        "per_class": args.per_class,
        "strict": args.strict,
    }
    if check:
        ImageOptions.from_flags(options)
    default = ImageOptions().to_dict()
    return {k: v for k, v in options.items() if v != default[k]}
