"""Measured speed and memory of one model: what the sweep records beside a model's error, and `anynet bench`.

`measure(model, spec, ...)` runs after training, on the trained model, and gives its Measurement (sweeps.records),
the record's measured keys:

- latency_ms: inference time of one image (batch 1), the median of timed runs after a warm-up;
- throughput_ips: images per second at throughput_batch (the recipe's eval batch size), likewise a median;
- memory_mb and memory_method: peak memory of one training step at the training batch size (below);
- measure_device, measure_threads: where the latency and throughput were timed (by default the trial's device and
  threads; a `Measure` may ask for another, e.g. CPU latency at 1 thread while training on a GPU);
- measure_s: the seconds the measurement itself took, so its overhead is known as a fraction of a sweep's time.

Latency and throughput time the deployed form of the model: the eval-mode copy with every BatchNorm folded into its
convolution (anynet.fold), the same copy the trainer evaluates with, channels-last when training was, under
inference mode, with bfloat16 autocast on a GPU as evaluation runs. Inputs are random images at the spec's
resolution and channels. Each measurement is time-boxed: `warmup` untimed runs, then timed runs until `max_runs`
or, once `min_runs` are done, until its share of the budget is spent.

Training memory is per model, whatever the process did before:

- on a GPU (memory_method "cuda_peak"): torch.cuda.max_memory_allocated during one training step (forward and
  backward, under the trial's autocast) of a copy of the model, above what was allocated before the step, plus the
  parameters and the SGD momentum buffers that a training run holds throughout;
- on the CPU (memory_method "saved_tensors"): the bytes of the tensors autograd saves for the backward pass during
  one training-mode forward (each storage counted once), plus the parameters, their gradients, the SGD momentum
  buffers and the BatchNorm buffers. It leaves out the allocator's transient workspace, so it is a floor of the
  step's peak, but it is the same on every process and does not depend on what trained before (the process's peak
  RSS, ru_maxrss, only ever grows over a worker's life).
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from anynet.errors import AnynetError
from anynet.fold import fold_batchnorm
from anynet.model import AnyNet
from anynet.spec import AnyNetSpec
from sweeps.records import Measurement

# The measurement's budget: this fraction of the model's training seconds, within [MIN_BUDGET_S, MAX_BUDGET_S].
BUDGET_FRACTION = 0.02
MIN_BUDGET_S, MAX_BUDGET_S = 0.1, 5.0
MB = 2**20
DEPLOYED = "bn_folded_eval"  # what latency and throughput time: the BN-folded eval copy (anynet.fold)


class MeasureError(AnynetError):
    """A measurement that cannot run as asked (a device that is not there)."""


@dataclass(frozen=True)
class Measure:
    """How a trial measures its model after training. None: the trial's own device and threads, the recipe's eval
    batch size for throughput, a budget of BUDGET_FRACTION of the training seconds (clamped)."""

    device: str | None = None
    threads: int | None = None
    throughput_batch: int | None = None
    budget_s: float | None = None
    warmup: int = 1
    min_runs: int = 3
    max_runs: int = 30

    def budget(self, train_seconds: float) -> float:
        if self.budget_s is not None:
            return self.budget_s
        return min(MAX_BUDGET_S, max(MIN_BUDGET_S, BUDGET_FRACTION * train_seconds))


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed_runs(
    fn: Callable[[], Any], dev: torch.device, warmup: int, min_runs: int, max_runs: int, budget_s: float
) -> list[float]:
    """Seconds of each timed run of fn: `warmup` untimed runs, then runs until max_runs, or until budget_s is spent
    once min_runs are done. The device is synchronized around every run."""
    for _ in range(warmup):
        fn()
    _sync(dev)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - started < budget_s):
        t = time.perf_counter()
        fn()
        _sync(dev)
        times.append(time.perf_counter() - t)
    return times


@contextmanager
def torch_threads(threads: int | None):
    """torch's intra-op threads set to `threads` for the block (None: left as they are), restored after."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _images(spec: AnyNetSpec, batch: int, dev: torch.device, channels_last: bool, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)  # its own generator: the global RNG is left as it was
    x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution, generator=generator).to(dev)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def resolve_device(device: str | torch.device, error: type[AnynetError] = MeasureError) -> torch.device:
    """A torch device, refusing a GPU that is not there with one line (an `error`: the trainer's is TrainError)."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise error(f"device: {device!r} is not a device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise error(f"device: {device} requested, but this torch ({torch.__version__}) sees no CUDA GPU")
    if dev.type not in ("cpu", "cuda"):
        raise error(f"device: {device!r} is not supported; use cpu, cuda or cuda:N")
    return dev


def inference_seconds(
    deployed: nn.Module,
    spec: AnyNetSpec,
    batch: int,
    dev: torch.device,
    *,
    channels_last: bool,
    warmup: int,
    min_runs: int,
    max_runs: int,
    budget_s: float,
) -> list[float]:
    """Seconds of each timed forward of the deployed (eval) model on a batch of random images."""
    x = _images(spec, batch, dev, channels_last)

    @torch.inference_mode()
    def forward() -> None:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            deployed(x)

    return timed_runs(forward, dev, warmup, min_runs, max_runs, budget_s)


def training_memory(
    model: nn.Module, spec: AnyNetSpec, batch: int, dev: torch.device, *, channels_last: bool, momentum: bool = True
) -> tuple[float, str]:
    """Peak memory of one training step at `batch` in MiB, and the method (module docstring). The model is left as
    it was (a copy takes the step)."""
    state = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    optimizer = state if momentum else 0
    x = _images(spec, batch, dev, channels_last, seed=1)
    if dev.type == "cuda":
        trainee = copy.deepcopy(model).train()
        torch.cuda.synchronize(dev)
        base = torch.cuda.memory_allocated(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = trainee(x)
        out.float().sum().backward()
        torch.cuda.synchronize(dev)
        peak = torch.cuda.max_memory_allocated(dev) - base
        del trainee, out
        return (peak + state + optimizer) / MB, "cuda_peak"
    trainee = copy.deepcopy(model).train()
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        # Nothing is kept: no backward runs. Returning t itself would leak every saved output (the graph node
        # would hold its own output through the packed value, a cycle that reference counting never frees:
        # about 75 MB per model, measured 2026-12-06 over 24 models in one process).

    def unpack(_: None) -> torch.Tensor:
        raise RuntimeError("training_memory runs no backward pass")

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        out = trainee(x)
    del out, trainee
    return (sum(storages.values()) + 2 * state + optimizer + buffers) / MB, "saved_tensors"


def measure(
    model: nn.Module,
    spec: AnyNetSpec,
    *,
    device: torch.device,
    train_batch: int,
    eval_batch: int,
    train_seconds: float,
    channels_last: bool = True,
    momentum: bool = True,
    options: Measure | None = None,
) -> Measurement:
    """The measurement (sweeps.records.Measurement: the record's measured keys) of a trained model on the trial's
    device (module docstring)."""
    options = options or Measure()
    started = time.perf_counter()
    budget = options.budget(train_seconds)
    dev = resolve_device(options.device) if options.device is not None else device
    batch = options.throughput_batch or eval_batch
    runs = dict(warmup=options.warmup, min_runs=options.min_runs, max_runs=options.max_runs, budget_s=budget / 2)
    deployed = fold_batchnorm(model).to(dev)
    with torch_threads(options.threads):
        threads = torch.get_num_threads() if dev.type == "cpu" else None
        latency = inference_seconds(deployed, spec, 1, dev, channels_last=channels_last, **runs)
        throughput = inference_seconds(deployed, spec, batch, dev, channels_last=channels_last, **runs)
    del deployed
    memory, method = training_memory(model, spec, train_batch, device, channels_last=channels_last, momentum=momentum)
    return Measurement(
        latency_ms=round(1000 * statistics.median(latency), 4),
        latency_batch=1,
        throughput_ips=round(batch / statistics.median(throughput), 2),
        throughput_batch=batch,
        memory_mb=round(memory, 3),
        memory_method=method,
        memory_batch=train_batch,
        measure_device=str(dev),
        measure_threads=threads,
        measure_model=DEPLOYED,
        measure_runs=[len(latency), len(throughput)],
        measure_s=round(time.perf_counter() - started, 4),
    )


@dataclass(frozen=True)
class Timing:
    """pycls's time_model for one model (milliseconds, medians of the timed runs after the warm-up): the eval
    forward of the deployed (BN-folded) model, the training forward and backward (timed apart within one step), the
    whole training step (forward, backward, SGD step), and the deployed model's latency at batch 1."""

    batch: int
    device: str
    threads: int | None
    resolution: int
    eval_forward_ms: float
    train_forward_ms: float
    train_backward_ms: float
    train_step_ms: float
    latency_ms: float
    runs: int
    memory_mb: float
    memory_method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_model(
    spec: AnyNetSpec,
    *,
    device: str = "cpu",
    batch: int = 8,
    threads: int | None = None,
    warmup: int = 1,
    runs: int = 5,
    channels_last: bool = True,
    seed: int = 0,
) -> Timing:
    """Time one (freshly initialized) model the way pycls's benchmark does (Timing)."""
    if batch < 1 or runs < 1 or warmup < 0:
        raise MeasureError(f"batch, runs >= 1 and warmup >= 0, got batch {batch}, runs {runs}, warmup {warmup}")
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    with torch_threads(threads):
        torch.manual_seed(seed)
        model = AnyNet(spec).to(dev, memory_format=memory_format)
        fixed = dict(warmup=warmup, min_runs=runs, max_runs=runs, budget_s=0.0)
        deployed = fold_batchnorm(model)
        eval_forward = inference_seconds(deployed, spec, batch, dev, channels_last=channels_last, **fixed)
        latency = inference_seconds(deployed, spec, 1, dev, channels_last=channels_last, **fixed)
        del deployed
        steps = _train_steps(model, spec, batch, dev, channels_last, warmup, runs)
        threads_used = torch.get_num_threads() if dev.type == "cpu" else None
    memory, method = training_memory(model, spec, batch, dev, channels_last=channels_last)

    def ms(seconds: list[float]) -> float:
        return round(1000 * statistics.median(seconds), 3)

    return Timing(
        batch=batch,
        device=str(dev),
        threads=threads_used,
        resolution=spec.resolution,
        eval_forward_ms=ms(eval_forward),
        train_forward_ms=ms([s[0] for s in steps]),
        train_backward_ms=ms([s[1] for s in steps]),
        train_step_ms=ms([s[2] for s in steps]),
        latency_ms=ms(latency),
        runs=runs,
        memory_mb=round(memory, 3),
        memory_method=method,
    )


def _train_steps(
    model: nn.Module, spec: AnyNetSpec, batch: int, dev: torch.device, channels_last: bool, warmup: int, runs: int
) -> list[tuple[float, float, float]]:
    """(forward, backward, whole step) seconds of each timed SGD step on random images and labels."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True, foreach=True)
    loss_fn = nn.CrossEntropyLoss()
    x = _images(spec, batch, dev, channels_last)
    y = torch.randint(0, spec.num_classes, (batch,), generator=torch.Generator().manual_seed(0)).to(dev)
    out = []
    for i in range(warmup + runs):
        _sync(dev)
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            loss = loss_fn(model(x).float(), y)
        _sync(dev)
        t1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        _sync(dev)
        t2 = time.perf_counter()
        optimizer.step()
        _sync(dev)
        t3 = time.perf_counter()
        if i >= warmup:
            out.append((t1 - t0, t2 - t1, t3 - t0))
    return out
