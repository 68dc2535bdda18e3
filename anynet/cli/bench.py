"""`anynet bench`: time one model the way pycls's time_model does: forward, backward and a whole training step."""

from __future__ import annotations

import argparse
import json

HELP = "time one model (zoo name or spec file): eval forward, training forward/backward/step, batch-1 latency (ms)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="SPEC_OR_NAME", help="zoo name (e.g. RegNetX-400MF) or a .yaml/.json spec")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--batch", type=int, default=8, help="images per timed batch (default 8)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: as torch has them)")
    parser.add_argument("--resolution", type=int, help="input resolution in pixels (overrides the spec)")
    parser.add_argument("--classes", type=int, help="number of classes (overrides the spec)")
    parser.add_argument("--in-channels", type=int, help="input channels (overrides the spec)")
    parser.add_argument(
        "--dataset",
        help="fit the model to a dataset's channels, classes and resolution: a built-in name or a path to your own "
        "images or arrays (decoded once, cached; anynet train --help says which)",
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each measurement; the median is shown (3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before each measurement (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")


def run(args: argparse.Namespace) -> int:
    from anynet.errors import AnynetError
    from anynet.files import resolve_spec
    from anynet.counting import complexity
    from anynet.validate import format_count
    from sweeps import time_model

    for flag in ("batch", "runs", "threads"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise AnynetError(f"--{flag}: must be at least 1, got {value}")
    if args.warmup < 0:
        raise AnynetError(f"--warmup: must be at least 0, got {args.warmup}")
    names = {"resolution": args.resolution, "num_classes": args.classes, "in_channels": args.in_channels}
    spec = resolve_spec(args.model, {k: v for k, v in names.items() if v is not None})
    if args.dataset:
        from sweeps import ImageOptions, load_dataset

        options = ImageOptions(resolution=args.resolution)
        data = load_dataset(
            args.dataset, images=options, fallback=spec.resolution, progress=not args.json, quiet=args.json
        )
        fit = {"resolution": data.resolution, "num_classes": data.num_classes, "in_channels": data.in_channels}
        spec = spec.with_fields(**{k: v if names[k] is None else names[k] for k, v in fit.items()})
    timing = time_model(
        spec, device=args.device, batch=args.batch, threads=args.threads, warmup=args.warmup, runs=args.runs
    )
    cx = complexity(spec)
    if args.json:
        print(json.dumps({"model": args.model, **timing.to_dict(), **cx._asdict()}))
        return 0
    threads = f", {timing.threads} thread(s)" if timing.threads else ""
    print(
        f"{args.model}: flops {format_count(cx.flops)}, params {format_count(cx.params)}, input "
        f"{spec.in_channels}x{timing.resolution}x{timing.resolution}; on {timing.device}{threads}, median of "
        f"{timing.runs} runs after {args.warmup} warm-up"
    )
    print(f"  eval forward (BN folded), batch {timing.batch}: {timing.eval_forward_ms:.2f} ms")
    print(f"  train forward, batch {timing.batch}:            {timing.train_forward_ms:.2f} ms")
    print(f"  train backward, batch {timing.batch}:           {timing.train_backward_ms:.2f} ms")
    print(f"  train step (fwd+bwd+SGD), batch {timing.batch}: {timing.train_step_ms:.2f} ms")
    print(f"  latency (BN folded), batch 1:       {timing.latency_ms:.2f} ms")
    print(f"  training memory, batch {timing.batch}:          {timing.memory_mb:.1f} MiB ({timing.memory_method})")
    return 0
