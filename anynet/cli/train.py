"""`anynet train`: train one model briefly on a dataset and report its error, loss and speed."""

from __future__ import annotations

import argparse
import json
import sys

from anynet.cli.data import add_data_flags, image_options
from anynet.errors import SpecError
from anynet.validate import parse_number
from sweeps import Recipe

HELP = "train one model briefly (the paper's low-fidelity recipe) and report its test error and speed"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="SPEC_OR_NAME", help="zoo name (e.g. ResNet-20) or a .yaml/.json spec")
    add_data_flags(parser)
    parser.add_argument("--download", action="store_true", help="fetch missing files from the dataset's URL")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=float, help="training epochs, fractions allowed (default 1)")
    budget.add_argument("--images", help="training images, e.g. 100k")
    budget.add_argument("--budget", metavar="MACS", help="training multiply-adds (3 x flops per image), e.g. 2T")
    # recipe flags default to None: only those given override Recipe's own defaults, named in the help
    parser.add_argument("--batch-size", type=int, help=f"images per step (default {Recipe.batch_size})")
    parser.add_argument("--lr", type=float, help=f"learning rate at batch 128, scaled linearly (default {Recipe.lr})")
    parser.add_argument("--momentum", type=float, help=f"SGD momentum (default {Recipe.momentum})")
    parser.add_argument("--weight-decay", type=float, help=f"weight decay (default {Recipe.weight_decay})")
    parser.add_argument("--crop-pad", type=int, help="pad-and-random-crop augmentation, in pixels (default off)")
    parser.add_argument("--flip", action="store_true", default=None, help="random horizontal flips")
    parser.add_argument("--val-split", type=float, help="carve this fraction of the training set out for validation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")


def run(args: argparse.Namespace) -> int:
    from anynet.counting import complexity
    from anynet.files import resolve_spec
    from sweeps import ImageOptions, load_dataset, spec_for_data, train

    if args.threads is not None and args.threads < 1:
        raise SpecError(f"--threads: must be at least 1, got {args.threads}")
    given = {
        "epochs": args.epochs,
        "images": args.images and int(parse_number("--images", args.images)),
        "budget_macs": args.budget and parse_number("--budget", args.budget),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "momentum": args.momentum,
        "weight_decay": args.weight_decay,
        "crop_pad": args.crop_pad,
        "flip": args.flip,
    }
    recipe = Recipe(**{k: v for k, v in given.items() if v is not None})
    options = ImageOptions.from_flags(image_options(args))
    data = load_dataset(
        args.dataset,
        args.data_dir,
        download=args.download,
        images=options,
        fallback=resolve_spec(args.model).resolution,
        progress=not args.json,
        quiet=args.json,
    )
    if args.val_split is not None:
        data = data.with_val_split(args.val_split, seed=args.seed)
    spec = spec_for_data(args.model, data, args.resolution)
    cx = complexity(spec)
    result = train(
        spec,
        data,
        recipe,
        device=args.device,
        seed=args.seed,
        threads=args.threads,
        progress=not args.json and sys.stderr.isatty(),
        cx=cx,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    "dataset": data.name,
                    "spec": spec.to_dict(),
                    "recipe": recipe.to_dict(),
                    **result.to_dict(),
                    **cx._asdict(),
                }
            )
        )
        return 0 if result.status == "ok" else 1
    print(
        f"{args.model} on {data.name} ({len(data.train_y):,} train / {len(data.test_y):,} test images, "
        f"{spec.resolution} px), {result.device}, {result.threads} threads, seed {result.seed}"
    )
    import pandas as pd

    print(pd.DataFrame(result.epochs).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    val = f", val error {result.val_error:.2f}%" if result.val_error is not None else ""
    print(
        f"{result.status}: test error {result.error:.2f}%{val}, train loss {result.train_loss:.4f}; "
        f"{result.images:,} images in {result.train_seconds:.1f} s ({result.images_per_s:,.0f} img/s), "
        f"{cx.flops / 1e6:.2f} MF per image" + (f"; {result.message}" if result.message else "")
    )
    return 0 if result.status == "ok" else 1
