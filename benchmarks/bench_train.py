"""Training throughput on Fashion-MNIST-sized batches (28x28, 1 channel, batch 128): anynet's trainer against a
pycls-style baseline loop (DataLoader over a TensorDataset with 2 workers, NCHW, same model and optimizer), on
three fixed 3-stage X-block specs of about 5, 20 and 50 MF, plus the achieved multiply-adds/s (3 x flops x
images/s) as a fraction of this machine's fp32 matmul peak, measured in the same run.

Run: python benchmarks/bench_train.py [--images 5120] [--repeats 3] [--threads 2] [--dataset fashion-mnist|synthetic]
anynet's figure is its trainer's own images/s (train(), evaluation excluded); the baseline's is timed around its loop.
Every measurement runs in a fresh process, so neither side inherits the other's allocator settings; in it, each side
first runs 10 warm-up steps (library start-up, oneDNN's kernel generation), then the measured run: the steady state
that a sweep's long-lived trial workers see.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from anynet import AnyNet, AnyNetSpec, complexity
from sweeps import Recipe, load_dataset, train

WARMUP_STEPS = 10
SMALL = dict(stem_type="res_stem_cifar", stem_w=16, strides=[1, 2, 2], in_channels=1, num_classes=10, resolution=28)
SPECS = {  # X blocks, b = 1, group width 16
    "5MF": AnyNetSpec(depths=[1, 1, 2], widths=[16, 32, 64], bot_muls=[1.0] * 3, group_ws=[16] * 3, **SMALL),
    "20MF": AnyNetSpec(depths=[1, 2, 3], widths=[32, 64, 128], bot_muls=[1.0] * 3, group_ws=[16] * 3, **SMALL),
    "50MF": AnyNetSpec(depths=[2, 3, 4], widths=[32, 96, 192], bot_muls=[1.0] * 3, group_ws=[16] * 3, **SMALL),
}


def matmul_peak_macs(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """Best fp32 multiply-adds/s of an n^3 matmul (one multiply-add = 2 flops)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return n**3 / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def baseline_images_per_s(spec: AnyNetSpec, data, images: int, batch: int, threads: int) -> float:
    """pycls's way: float NCHW tensors in a TensorDataset, a shuffling DataLoader with 2 workers, NCHW model."""
    torch.set_num_threads(threads)
    mean, std = data.mean[0], data.std[0]
    x = (data.train_x.float() / 255 - mean) / std
    loader = DataLoader(
        TensorDataset(x, data.train_y),
        batch_size=batch,
        shuffle=True,
        num_workers=2,
        drop_last=True,
        persistent_workers=False,
    )
    torch.manual_seed(0)
    model = AnyNet(spec)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-5)
    loss_fn = nn.CrossEntropyLoss()
    steps, started = images // batch, time.perf_counter()
    done = 0
    while done < steps:
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    return steps * batch / (time.perf_counter() - started)


def anynet_images_per_s(spec: AnyNetSpec, data, images: int, threads: int) -> float:
    """anynet's trainer, as a sweep trial runs it."""
    return train(spec, data, Recipe(images=images), threads=threads).images_per_s


def measure(side: str, name: str, dataset: str, images: int, threads: int) -> float:
    """One measurement after a warm-up of 10 steps (run in a fresh process)."""
    data = load_dataset(dataset)
    for n in (WARMUP_STEPS * 128, images):
        if side == "anynet":
            result = anynet_images_per_s(SPECS[name], data, n, threads)
        else:
            result = baseline_images_per_s(SPECS[name], data, n, 128, threads)
    return result


def in_fresh_process(*args) -> float:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5120, help="training images per measurement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per side; medians are reported")
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    peak = matmul_peak_macs(args.threads)
    rows = []
    for name, spec in SPECS.items():
        flops = complexity(spec).flops
        ours, base = [], []
        for _ in range(args.repeats):  # interleaved, so both sides see the same machine load
            ours.append(in_fresh_process("anynet", name, args.dataset, args.images, args.threads))
            base.append(in_fresh_process("baseline", name, args.dataset, args.images, args.threads))
        ours, base = statistics.median(ours), statistics.median(base)
        rows.append(
            {
                "spec": name,
                "MF": flops / 1e6,
                "anynet img/s": ours,
                "baseline img/s": base,
                "speedup": ours / base,
                "anynet GMAC/s": 3 * flops * ours / 1e9,
                "of peak": 3 * flops * ours / peak,
            }
        )
    print(
        f"torch {torch.__version__}, {args.threads} threads, batch 128, "
        f"median of {args.repeats} runs of {args.images} images, "
        f"{data.name}; fp32 matmul peak {peak / 1e9:.1f} GMAC/s ({2 * peak / 1e9:.1f} GFLOP/s)"
    )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, formatters={"of peak": "{:.0%}".format}, float_format=lambda v: f"{v:,.2f}"))


if __name__ == "__main__":
    main()
