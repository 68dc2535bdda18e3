"""Brief training of one model: train(spec, data, recipe, device, seed) -> TrainResult."""

from __future__ import annotations

import importlib.metadata
import platform
import time
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from torch import nn

from anynet.errors import AnynetError
from anynet.fold import fold_batchnorm
from anynet.counting import Complexity, complexity
from anynet.model import AnyNet
from anynet.spec import AnyNetSpec
from sweeps.allocator import retain_freed_memory
from sweeps.image_batches import BatchMaker, train_batches
from sweeps.measure import Measure, resolve_device
from sweeps.measure import measure as measure_model
from sweeps.data import Dataset
from sweeps.recipe import Recipe
from sweeps.records import TrainResult

CHECK_EVERY_CUDA = 50  # steps between finiteness checks on a GPU (each check waits for the device)


class TrainError(AnynetError):
    """Arguments that cannot train: a spec that does not fit the data, a device that is not there."""


def versions() -> dict[str, str]:
    try:
        anynet_version = importlib.metadata.version("anynet")
    except importlib.metadata.PackageNotFoundError:
        anynet_version = "unknown"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "anynet": anynet_version,
    }


@torch.inference_mode()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, maker: BatchMaker, batch_size: int, autocast: bool
) -> float:
    """Top-1 error in percent of the model with its BatchNorms folded into its convolutions (the model itself
    is left in training mode), counted on the device with one sync at the end."""
    folded = fold_batchnorm(model)
    wrong = torch.zeros((), dtype=torch.long, device=x.device)
    for i in range(0, len(y), batch_size):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            out = folded(maker(x[i : i + batch_size]))
        wrong += (out.argmax(1) != y[i : i + batch_size]).sum()
    return 100.0 * wrong.item() / len(y)


@torch.no_grad()
def precise_batchnorm(
    model: nn.Module,
    x: torch.Tensor,
    maker: BatchMaker,
    images: int,
    batch_size: int,
    generator: torch.Generator,
    autocast: bool,
) -> None:
    """pycls's precise BatchNorm statistics: the running mean and variance recomputed as the plain average over
    `images` training images (in batches of batch_size) with the weights as they are now."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # None: a cumulative average over the batches seen since the reset
    index = torch.randperm(len(x), device=x.device, generator=generator)[:images]
    for i in range(0, len(index) - batch_size + 1, batch_size):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            model(maker(x[index[i : i + batch_size]]))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum


def check_fit(spec: AnyNetSpec, data: Dataset) -> None:
    """The spec must take the data's channels and predict its classes."""
    if spec.in_channels != data.in_channels:
        raise TrainError(f"in_channels: the spec takes {spec.in_channels}, {data.name} images have {data.in_channels}")
    if spec.num_classes != data.num_classes:
        raise TrainError(f"num_classes: the spec predicts {spec.num_classes}, {data.name} has {data.num_classes}")


def train(
    spec: AnyNetSpec,
    data: Dataset,
    recipe: Recipe | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    threads: int | None = None,
    channels_last: bool = True,
    progress: bool = False,
    measure: Measure | bool | None = None,
    cx: Complexity | None = None,
) -> TrainResult:
    """Train the spec's model briefly on data and return its errors, losses, speed and provenance.

    A non-finite loss stops early with status 'diverged' (errors evaluated at that point); an exception while
    training gives status 'failed' with its message. On the CPU the same seed and threads give the same result.
    `measure` (True or a sweeps.measure.Measure): after training, measure the trained model's latency, throughput
    and training memory (the result's latency_ms ... measure_s; not counted in seconds); only for a model that
    trained ok. Sweeps measure every model; a plain call does not unless asked. `cx`: the spec's complexity where
    already counted (a sweep's plan row carries it).
    """
    recipe = recipe or Recipe()
    check_fit(spec, data)
    dev = resolve_device(device, TrainError)
    if threads is not None:
        torch.set_num_threads(threads)
    cx = cx or complexity(spec)  # a sweep passes its plan row's, counted once by the sampler
    total = recipe.steps(len(data.train_y), cx.flops)
    if len(data.train_y) < recipe.batch_size:
        raise TrainError(f"batch_size: {recipe.batch_size} is larger than the {len(data.train_y)} training images")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        retain_freed_memory()
    run = _Run(spec, data.to(dev), recipe, dev, seed, total, channels_last)
    started = time.perf_counter()
    run.bar = _progress_bar(total * recipe.batch_size, progress)
    status, message = run.loop()
    if run.bar is not None:
        run.bar.close()
    seconds = time.perf_counter() - started
    train_seconds = max(seconds - run.eval_seconds, 1e-9)
    last = run.epochs[-1] if run.epochs else {}
    measured: dict[str, Any] = {}  # the measurement's fields, or why it failed
    if measure and status == "ok":
        try:
            measured = asdict(
                measure_model(
                    run.model,
                    spec,
                    device=dev,
                    train_batch=recipe.batch_size,
                    eval_batch=recipe.eval_batch_size,
                    train_seconds=train_seconds,
                    channels_last=channels_last,
                    momentum=recipe.momentum > 0,
                    options=measure if isinstance(measure, Measure) else None,
                )
            )
        except (RuntimeError, AnynetError) as e:  # a model that trained is never lost to its measurement
            measured = {"measure_error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    return TrainResult(
        status=status,
        error=last.get("test_error"),
        val_error=last.get("val_error"),
        train_loss=last.get("train_loss"),
        epochs=run.epochs,
        images=run.steps_done * recipe.batch_size,
        steps=run.steps_done,
        train_size=len(data.train_y),
        seconds=seconds,
        train_seconds=train_seconds,
        images_per_s=run.steps_done * recipe.batch_size / train_seconds,
        seed=seed,
        device=str(dev),
        threads=torch.get_num_threads(),
        message=message,
        versions=versions(),
        **measured,
    )


class _Run:
    """One training run in progress: the model and what steps it, and the running figures its result reports."""

    def __init__(
        self,
        spec: AnyNetSpec,
        data: Dataset,
        recipe: Recipe,
        dev: torch.device,
        seed: int,
        total: int,
        channels_last: bool,
    ) -> None:
        self.data, self.recipe, self.dev, self.total = data, recipe, dev, total
        self.on_gpu = dev.type == "cuda"
        torch.manual_seed(seed)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = AnyNet(spec).to(dev, memory_format=memory_format)
        self.optimizer = torch.optim.SGD(  # foreach: one kernel per step for all parameters (+15% on the CPU path)
            self.model.parameters(),
            lr=recipe.lr_at(0, total),
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
            foreach=True,
        )
        self.loss_fn = nn.CrossEntropyLoss()
        self.maker = BatchMaker(
            data.mean,
            data.std,
            spec.resolution,
            dev,
            channels_last=channels_last,
            crop_pad=recipe.crop_pad,
            flip=recipe.flip,
        )
        self.generator = torch.Generator(device=dev).manual_seed(seed)
        self.check_every = CHECK_EVERY_CUDA if self.on_gpu else 1
        self.epochs: list[dict[str, Any]] = []
        self.steps_done = 0
        self.loss_sum = torch.zeros((), device=dev)
        self.steps_in_epoch = 0
        self.eval_seconds = 0.0
        self.bar: Any = None  # a tqdm bar when progress is shown

    def loop(self) -> tuple[str, str]:
        """Every step, each epoch closed by its evaluation, and the last (partial) epoch's: (status, message)."""
        status, message, epoch_now = "ok", "", 0
        try:
            batches = train_batches(
                len(self.data.train_y), self.recipe.batch_size, self.total, self.generator, self.dev
            )
            for epoch, index in batches:
                if epoch != epoch_now:
                    self.close_epoch(epoch_now)
                    epoch_now = epoch
                self.step(index)
                if self.steps_done % self.check_every == 0 and not torch.isfinite(self.loss_sum):
                    status, message = "diverged", f"non-finite training loss at step {self.steps_done} of {self.total}"
                    break
        except (RuntimeError, ValueError) as e:
            status, message = "failed", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if status == "ok" and not torch.isfinite(self.loss_sum):
            status, message = "diverged", f"non-finite training loss by step {self.steps_done} of {self.total}"
        if self.steps_in_epoch or not self.epochs:
            try:
                self.close_epoch(epoch_now)
            except RuntimeError as e:
                status, message = "failed", message or f"{type(e).__name__}: {e}"
        return status, message

    def step(self, index: torch.Tensor) -> None:
        """One SGD step on the training images at `index`, at the schedule's learning rate."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.recipe.lr_at(self.steps_done, self.total)
        x, y = self.maker(self.data.train_x[index], self.generator), self.data.train_y[index]
        with torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=self.on_gpu):
            loss = self.loss_fn(self.model(x).float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.loss_sum += loss.detach()
        self.steps_done += 1
        self.steps_in_epoch += 1
        if self.bar is not None:
            self.bar.update(self.recipe.batch_size)

    def close_epoch(self, epoch: int) -> None:
        """Evaluate at the end of an epoch (after precise BatchNorm statistics, when asked) and record its row."""
        t = time.perf_counter()
        recipe, data, maker = self.recipe, self.data, self.maker
        mean_loss = (self.loss_sum / max(self.steps_in_epoch, 1)).item()
        if recipe.precise_bn:
            precise_batchnorm(
                self.model, data.train_x, maker, recipe.precise_bn, recipe.batch_size, self.generator, self.on_gpu
            )
        row = {
            "epoch": epoch + 1,
            "images": self.steps_done * recipe.batch_size,
            "train_loss": mean_loss,
            "test_error": evaluate(self.model, data.test_x, data.test_y, maker, recipe.eval_batch_size, self.on_gpu),
        }
        if data.val_x is not None:
            row["val_error"] = evaluate(self.model, data.val_x, data.val_y, maker, recipe.eval_batch_size, self.on_gpu)
        self.epochs.append(row)
        self.loss_sum, self.steps_in_epoch = torch.zeros((), device=self.dev), 0
        self.eval_seconds += time.perf_counter() - t
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{mean_loss:.3f}", err=f"{row['test_error']:.2f}%")


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="img", unit_scale=True, dynamic_ncols=True, leave=False)
