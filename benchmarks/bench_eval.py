"""Evaluation speed: the full Fashion-MNIST test set (synthetic data where it is absent) through models of the
main job's band, evaluated as trials do now (BatchNorm folded into the convolutions, batches of 128) against the
way they did before (the model in eval mode, batches of 1024), and against the training step's multiply-add rate
on the same model, all in one run on 1 thread.

    python benchmarks/bench_eval.py [--models 6]
"""

from __future__ import annotations

import argparse
import time

import torch

from analysis.study import DEFAULT_FLOPS, Study, sweep_configs
from anynet.model import AnyNet
from sweeps.image_batches import BatchMaker
from sweeps.data import load_dataset, synthetic
from sweeps.plan import sample_plan
from sweeps.recipe import Recipe
from sweeps.trainer import evaluate, train


@torch.inference_mode()
def evaluate_unfolded(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, maker: BatchMaker) -> float:
    """The previous evaluation: the model itself in eval mode, batches of 1024."""
    model.eval()
    wrong = 0
    for i in range(0, len(y), 1024):
        wrong += int((model(maker(x[i : i + 1024])).argmax(1) != y[i : i + 1024]).sum())
    model.train()
    return 100.0 * wrong / len(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=6, help="models per run (the RegNetX plan's first ones)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        data = load_dataset("fashion-mnist")
    except Exception:
        data = synthetic()
    config = sweep_configs(Study.of(spaces=("regnetx",), n=args.models, flops=DEFAULT_FLOPS), 1, 10, 28)[0]
    maker = BatchMaker(data.mean, data.std, 28, torch.device("cpu"), channels_last=True)
    print(f"{len(data.test_y):,} test images of {data.name}, 1 thread")
    print(
        f"{'model':>5} {'MF':>6} {'before s':>9} {'now s':>7} {'speed-up':>9} {'eval GMAC/s':>12} {'train GMAC/s':>13}"
    )
    ratios, vs_train = [], []
    for row in sample_plan(config):
        spec = row.spec
        result = train(spec, data, Recipe(images=64 * 40, batch_size=64), threads=1)  # also warms the kernels
        train_rate = 3 * row.complexity.flops * result.images_per_s
        model = AnyNet(spec).to(memory_format=torch.channels_last)
        times = {}
        for name, fn in (
            ("before", lambda: evaluate_unfolded(model, data.test_x, data.test_y, maker)),
            ("now", lambda: evaluate(model, data.test_x, data.test_y, maker, 128, False)),
        ):
            fn()
            started = time.perf_counter()
            fn()
            times[name] = time.perf_counter() - started
        eval_rate = row.complexity.flops * len(data.test_y) / times["now"]
        ratios.append(times["before"] / times["now"])
        vs_train.append(eval_rate / train_rate)
        print(
            f"{row.id:>5} {row.complexity.flops / 1e6:>6.2f} {times['before']:>9.2f} {times['now']:>7.2f} "
            f"{ratios[-1]:>8.2f}x {eval_rate / 1e9:>12.1f} {train_rate / 1e9:>13.1f}"
        )
    print(
        f"evaluation now vs before: {min(ratios):.2f}x-{max(ratios):.2f}x faster; evaluation's multiply-add rate "
        f"is {min(vs_train):.2f}x-{max(vs_train):.2f}x the training step's (target: >= 1x)"
    )


if __name__ == "__main__":
    main()
