"""Training throughput of a ~5 MF MBConv network (mb_conv blocks with squeeze-excite and a head conv, 28x28, 1
channel, 10 classes, batch 64): anynet's model as its trainer runs it (channels_last, the fused CPU BatchNorm +
add [+ ReLU] kernel, activation modules after it) against the same model on plain ATen ops only (nn.BatchNorm2d's
own forward, the add and the activation modules; ANYNET_FUSED=0), for 1 and 2 threads and each activation asked.

Run: python benchmarks/bench_mbconv.py [--steps 40] [--repeats 3] [--threads 1 2] [--activations silu relu6 relu]
Both sides train the same model with the same loop (SGD with momentum, cross-entropy, synthetic batches held in
memory, so only the model's forward and backward are timed); each measurement runs in a fresh process (ANYNET_FUSED
is read once per process) after 10 warm-up steps. The ratio is anynet's images/s over ATen's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pandas as pd
import torch
from torch import nn

from anynet import AnyNet, AnyNetSpec, complexity

WARMUP_STEPS = 10
BATCH = 64
SPEC = AnyNetSpec(  # 4.96 MF
    stem_type="res_stem_cifar",
    stem_w=16,
    block_type="mb_conv",
    depths=[1, 2, 2],
    widths=[16, 24, 48],
    strides=[1, 2, 2],
    exp_rs=[1, 4, 4],
    kernels=[3, 3, 5],
    se_r=0.25,
    head_w=128,
    activation="silu",
    in_channels=1,
    num_classes=10,
    resolution=28,
)


def measure(side: str, activation: str, steps: int, threads: int) -> float:
    """images/s of `steps` training steps after the warm-up, in this (fresh) process."""
    os.environ["ANYNET_FUSED"] = "1" if side == "anynet" else "0"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = SPEC.with_fields(activation=activation)
    model = AnyNet(spec).train().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-5)
    loss_fn = nn.CrossEntropyLoss()
    xs = [torch.randn(BATCH, 1, 28, 28).contiguous(memory_format=torch.channels_last) for _ in range(4)]
    ys = [torch.randint(0, 10, (BATCH,)) for _ in range(4)]

    def step(i: int) -> None:
        loss = loss_fn(model(xs[i % 4]), ys[i % 4])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for i in range(WARMUP_STEPS):
        step(i)
    started = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps * BATCH / (time.perf_counter() - started)


def in_fresh_process(*args) -> float:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed training steps of batch 64 per measurement")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--activations", nargs="+", default=["silu", "relu6", "relu"])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per side; medians are reported")
    args = parser.parse_args()
    print(f"model: {complexity(SPEC).flops / 1e6:.2f} MF, {complexity(SPEC).params:,} params; batch {BATCH}")
    rows = []
    for activation in args.activations:
        for threads in args.threads:
            ours, aten = [], []
            for _ in range(args.repeats):  # interleaved, so both sides see the same machine load
                ours.append(in_fresh_process("anynet", activation, args.steps, threads))
                aten.append(in_fresh_process("aten", activation, args.steps, threads))
            o, a = statistics.median(ours), statistics.median(aten)
            rows.append(
                {
                    "activation": activation,
                    "threads": threads,
                    "anynet img/s": round(o),
                    "ATen img/s": round(a),
                    "ratio": round(o / a, 2),
                }
            )
            print(rows[-1], flush=True)
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
