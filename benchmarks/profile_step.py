"""Where one training step of a bench_train spec spends its time, and how much of that is the memory system.

Times the fused BatchNorm kernel's calls over some steps, then every other ATen call over as many (the trainer's
model, optimizer and batch shape), then re-runs each distinct convolution and BatchNorm call alone on the same
tensors, whose data are then hot in the caches: in-step / alone shows how much of the step waits on memory.

Run: python benchmarks/profile_step.py [--spec 50MF] [--threads 2] [--steps 10]
torch.profiler misattributes time on this path (it showed a 3x3 grouped conv's backward at twice its real cost),
so the calls are timed directly, around each one, under a TorchDispatchMode.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable

import pandas as pd
import torch
from bench_train import SPECS
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from anynet import AnyNet, fused
from sweeps.allocator import retain_freed_memory

CONV = {torch.ops.aten.convolution.default: "fwd", torch.ops.aten.convolution_backward.default: "bwd"}
PARTS = {"fwd": "conv forward", "bwd": "conv backward", "bn fwd": "bn forward", "bn bwd": "bn backward"}


def conv_key(func, args) -> str:
    """'fwd' or 'bwd', then the input's channels and size, out channels, kernel, stride and groups."""
    x, w = (args[0], args[1]) if CONV[func] == "fwd" else (args[1], args[2])
    stride, groups = (args[3], args[8]) if CONV[func] == "fwd" else (args[4], args[9])
    k = w.shape[2]
    return f"{CONV[func]} {x.shape[1]}x{x.shape[2]}->{w.shape[0]} k{k} s{stride[0]} g{groups}"


def conv_macs(func, args) -> int:
    """Multiply-adds of the call: the forward's, or the forward's once per gradient the backward computes."""
    if CONV[func] == "fwd":
        x, w, stride = args[0], args[1], args[3]
        h = (x.shape[2] + 2 * args[4][0] - w.shape[2]) // stride[0] + 1
        return x.shape[0] * h * h * w.shape[0] * w[0].numel()
    dy, w, mask = args[0], args[2], args[10]
    return dy.numel() * w[0].numel() * sum(mask[:2])


class CallTimer(TorchDispatchMode):
    """Wall time per ATen call, summed by key; keeps one call's arguments per convolution (and BatchNorm) key.
    Calls made inside the fused kernel are not recorded: the kernel is timed whole, in a run without this mode."""

    def __init__(self, keep_samples: bool = False) -> None:
        super().__init__()
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.samples: dict[str, tuple] = {}
        self.keep_samples = keep_samples  # off while timing: kept tensors would change the step's memory use
        self.in_kernel = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        started = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        if not self.in_kernel:
            key = conv_key(func, args) if func in CONV else "other: " + func.__name__
            self.record(key, time.perf_counter() - started, (func, args) if func in CONV else None)
        return out

    def record(self, key: str, seconds: float, sample: tuple | None) -> None:
        self.seconds[key] += seconds
        self.calls[key] += 1
        if self.keep_samples and sample is not None:
            self.samples.setdefault(key, sample)


def timed_kernel(ext, timer: CallTimer) -> Callable[[], object]:
    """The fused BatchNorm kernel ext, its forward and backward recorded in the timer as 'bn fwd' and 'bn bwd'."""

    def timed(key: str, run: Callable, args: tuple, residual: bool):
        x = args[0]
        key = f"{key} {x.shape[1]}x{x.shape[2]}" + (" +res" if residual else "")
        timer.in_kernel = True
        started = time.perf_counter()
        out = run(*args)
        timer.record(key, time.perf_counter() - started, (run, args))
        timer.in_kernel = False
        return out

    class Timed:
        def forward(self, *args):  # x, weight, bias, residual, eps, relu
            return timed("bn fwd", ext.forward, args, args[3] is not None)

        def backward(self, *args):  # dy, x, y (given when a residual was added), mean, invstd, weight, bias, relu
            return timed("bn bwd", ext.backward, args, args[2] is not None)

    kernel = Timed()
    return lambda: kernel


def alone_seconds(func, args, repeats: int = 10) -> float:
    """Median time of the call run by itself, twice warmed, so its data sit in the caches."""
    for _ in range(2):
        func(*args)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func(*args)
        times.append(time.perf_counter() - started)
    return sorted(times)[repeats // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="50MF", choices=sorted(SPECS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    retain_freed_memory()
    torch.manual_seed(0)
    spec = SPECS[args.spec]
    model = AnyNet(spec).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-5, foreach=True
    )
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(128, spec.in_channels, spec.resolution, spec.resolution).contiguous(
        memory_format=torch.channels_last
    )
    y = torch.randint(0, spec.num_classes, (128,))

    def step() -> None:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(5):
        step()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    step_ms = (time.perf_counter() - started) / args.steps * 1e3

    # the kernel's calls first, then every other ATen call, then one step that keeps each call's arguments
    kernel_timer, timer, sampler = CallTimer(), CallTimer(), CallTimer(keep_samples=True)
    plain = fused.extension
    try:
        fused.extension = timed_kernel(plain(), kernel_timer)
        for _ in range(args.steps):
            step()
        fused.extension = timed_kernel(plain(), timer)
        with timer:
            for _ in range(args.steps):
                step()
        fused.extension = timed_kernel(plain(), sampler)
        with sampler:
            step()
    finally:
        fused.extension = plain
    for key in kernel_timer.seconds:
        timer.seconds[key], timer.calls[key] = kernel_timer.seconds[key], kernel_timer.calls[key]
    rows = []
    for key, seconds in timer.seconds.items():
        per_step = seconds / args.steps * 1e3
        row = {"call": key, "per step": timer.calls[key] // args.steps, "in step ms": per_step}
        if key in sampler.samples:
            func, call_args = sampler.samples[key]
            calls = timer.calls[key] / args.steps
            row["alone ms"] = alone_seconds(func, call_args) * 1e3 * calls
            if func in CONV:
                row["GMAC/s in step"] = conv_macs(func, call_args) * calls / per_step / 1e6
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("in step ms", ascending=False)
    words = table["call"].str.split(" ")
    table["part"] = [PARTS.get(" ".join(w[:2]), PARTS.get(w[0], "other")) for w in words]
    parts = table.groupby("part")[["in step ms", "alone ms"]].sum(min_count=1)
    parts["in step / alone"] = parts["in step ms"] / parts["alone ms"]
    hot = parts["alone ms"].sum() + parts.loc["other", "in step ms"]
    print(
        f"{args.spec}, {args.threads} threads, batch 128: {step_ms:.1f} ms per step untimed, "
        f"{table['in step ms'].sum():.1f} ms of timed calls; {hot:.1f} ms if every convolution and BatchNorm "
        f"ran at its hot-cache speed"
    )
    print(parts.to_string(float_format=lambda v: f"{v:,.2f}"))
    print()
    print(table.drop(columns="part").head(25).to_string(index=False, float_format=lambda v: f"{v:,.2f}"))


if __name__ == "__main__":
    main()
