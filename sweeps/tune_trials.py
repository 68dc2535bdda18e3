"""Running sweeps on Ray Tune: long-lived workers take models from a dispatcher; the driver records each model.

A Tune trial per model would pay Ray's per-trial cost (a worker process, imports, the dataset fetched again: ~5 s
each on a 2-core machine) once per model. Instead each Tune trial is a worker holding one resource grant; it
fetches the dataset once (from Ray's object store, zero-copy: one copy per node, shared by its trials; on a
one-machine Ray a user's decoded dataset goes by its cache's path and is memory-mapped) and trains model after
model, reporting each record as a Tune result. The driver's callback appends the record to its sweep's results.jsonl durably when it arrives. Tune stays
the engine, so the same code runs on a local Ray or an existing cluster, places workers by their CPU/GPU grants,
and restarts a worker whose process died; the model it held goes back to the queue, charged one attempt.

One Tune run trains the pending models of several sweeps that share a resource grant (a study's sweeps, or its
fidelity re-runs): one queue over all of them, longest first, so that Tune's start and the idle tail at the end
(the last model running while other slots wait) are paid once per run rather than once per sweep. Every worker
holds every sweep's Job and the dataset splits they train on; each record goes to its own sweep's folder.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

# Records go to our store and progress to our bar: Tune's result loggers and status tables stay off.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
import ray  # noqa: E402
from ray import tune  # noqa: E402

from sweeps.config import SweepConfig, SweepError
from sweeps.data import CachedDataset, Dataset, opened
from sweeps.dispatch import Dispatcher
from sweeps.progress import Bars
from sweeps.faults import inject_fault
from sweeps.recipe import Recipe
from sweeps.records import PlanRow, Record, TrainResult
from sweeps.store import SweepFolder

WAIT_S = 0.2  # a worker with nothing to take waits this long before asking again (others may still fail)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def model_seed(sweep_seed: int, model_id: int, attempt: int, stream: int = 0) -> int:
    """The training seed of one attempt: distinct per model, attempt and stream, fixed by the sweep's seed."""
    entropy = [sweep_seed, model_id, attempt] + ([stream] if stream else [])
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


@dataclass(frozen=True)
class Job:
    """What a worker needs for one sweep: its plan, recipe and how to run (shipped once through the object store)."""

    plan: list[PlanRow]
    recipe: Recipe
    sweep_seed: int
    stream: int
    attempts: int
    device: str
    threads: int
    dispatcher: str
    namespace: str
    # after training: latency, throughput, memory (sweeps.measure.Measure; True: on the trial's device and threads;
    # False: off). How fast a model runs is no part of what it learns, so this is no part of a sweep's identity.
    measure: Any = True


def train_model(row: PlanRow, first_attempt: int, job: Job, data: Dataset, on_attempt) -> Record:
    """Train one planned model, retrying a failure or divergence; return its record."""
    from sweeps.trainer import train

    recipe = replace(job.recipe, **row.recipe) if row.recipe else job.recipe  # fields drawn per model
    started, started_at = time.perf_counter(), now()
    failures: list[str] = []
    result: TrainResult | None = None
    status, message, seed, attempt = "failed", "", 0, first_attempt
    for attempt in range(first_attempt, job.attempts + 1):
        on_attempt(attempt)
        seed = model_seed(job.sweep_seed, row.id, attempt, job.stream)
        try:
            inject_fault(row.id)
            result = train(
                row.spec,
                data,
                recipe,
                device=job.device,
                seed=seed,
                threads=job.threads,
                measure=job.measure,
                cx=row.complexity,
            )
        except Exception as e:  # any failure of one model is that model's record, never the sweep's end
            message = f"{type(e).__name__}: {e}".splitlines()[0]
            failures.append(message)
            traceback.clear_frames(e.__traceback__)
            continue
        if result.status == "ok":
            status, message = "ok", ""
            break
        message = f"{result.status}: {result.message}"
        failures.append(message)
    return Record(
        row,
        status,
        message,
        attempts=attempt,
        failures=failures,
        seed=seed,
        result=result,
        wall_s=round(time.perf_counter() - started, 3),
        node=socket.gethostname(),
        started_at=started_at,
        finished_at=now(),
    )


def worker(
    config: dict[str, Any], jobs: tuple[Job, ...], data: tuple[Dataset | CachedDataset, ...], split: tuple[int, ...]
) -> None:
    """One Tune trial: take models (of any of the run's sweeps) from the dispatcher until none are left, reporting
    each record with its sweep's index. Sweep k trains on data[split[k]] (a dataset shipped by its cache's path
    is memory-mapped here)."""
    me = tune.get_context().get_trial_id()
    dispatcher = ray.get_actor(jobs[0].dispatcher, namespace=jobs[0].namespace)
    data = tuple(opened(d) for d in data)
    plans = [{row.id: row for row in job.plan} for job in jobs]
    while True:
        item = ray.get(dispatcher.take.remote(me))
        if item is None:
            return
        if item == "wait":
            time.sleep(WAIT_S)
            continue
        sweep, model_id, first = item

        def on_attempt(attempt: int, sweep: int = sweep, model_id: int = model_id) -> None:
            ray.get(dispatcher.attempt.remote(me, sweep, model_id, attempt))

        record = train_model(plans[sweep][model_id], first, jobs[sweep], data[split[sweep]], on_attempt)
        tune.report({"record": replace(record, worker=me), "sweep": sweep})


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Ray for the block: joined at `address` (or a local one started) unless this process is already connected;
    shut down at the end only if started here."""
    own = not ray.is_initialized()
    if own:
        ray.init(
            address=address, include_dashboard=False, log_to_driver=False, configure_logging=True, logging_level="ERROR"
        )
    try:
        yield
    finally:
        if own:
            ray.shutdown()


@dataclass(frozen=True)
class Trials:
    """One sweep's part of a Tune run: its config, folder and plan, and the dataset split it trains on."""

    config: SweepConfig
    folder: SweepFolder
    plan: list[PlanRow]
    data: Dataset


def run_trials(sweeps: list[Trials], order: list[tuple[int, int]], progress: bool) -> None:
    """Train the models `order` names, (sweep index, model id) pairs, in that order, on one Ray Tune run, recording
    each in its sweep's folder as it ends. The sweeps must share their trials' resources (CPUs, GPUs) and
    max_concurrent: one grant for every worker. Ray must already be connected: the caller opens one `ray_session`
    for all its sweeps (sweeps.run.run_planned). Tune's own files go to the first sweep's folder (ray/)."""
    first = sweeps[0].config
    grants = {(s.config.resources, s.config.max_concurrent) for s in sweeps}
    if len(grants) > 1:
        raise ValueError(f"one Tune run holds one resource grant; these sweeps ask for {len(grants)}")
    namespace = f"anynet-{os.getpid()}-{time.time_ns()}"
    name = f"dispatcher-{first.name}"
    attempts = [s.config.retries + 1 for s in sweeps]
    dispatcher = ray.remote(Dispatcher).options(name=name, namespace=namespace, num_cpus=0).remote(order, attempts)
    workers = _worker_count(first, len(order), ray.cluster_resources())
    splits: list[Dataset] = []  # each distinct dataset split once: shipped once, fetched once per worker
    for s in sweeps:
        if not any(s.data is d for d in splits):
            splits.append(s.data)
    jobs = tuple(
        Job(
            plan=s.plan,
            recipe=s.config.recipe,
            sweep_seed=s.config.seed,
            stream=s.config.stream,
            attempts=s.config.retries + 1,
            device="cuda" if s.config.resources.gpus else "cpu",
            threads=s.config.resources.threads,
            dispatcher=name,
            namespace=namespace,
            measure=_measure(s.config),
        )
        for s in sweeps
    )
    split = tuple(next(i for i, d in enumerate(splits) if s.data is d) for s in sweeps)
    pending = Counter(k for k, _ in order)
    starting = Counter(k for k, _ in order[:workers])
    bars = Bars(
        [(s.config.name, len(s.plan), len(s.plan) - pending[k], starting[k]) for k, s in enumerate(sweeps)],
        enabled=progress,
    )
    recorder = Recorder(sweeps, dispatcher, bars)
    local = one_machine()
    trainable = tune.with_resources(
        tune.with_parameters(worker, jobs=jobs, data=tuple(d.shared(local) for d in splits), split=split),
        {"cpu": first.resources.cpus, "gpu": first.resources.gpus},
    )
    # A worker restarts after each death; every death charges one sweep's model an attempt, so a run of several
    # sweeps allows more of them per worker (one sweep: retries + 2, as a Tune run per sweep had).
    deaths = len(sweeps) * (max(s.config.retries for s in sweeps) + 1) + 1
    tuner = tune.Tuner(
        trainable,
        param_space={"worker": tune.grid_search(list(range(workers)))},
        tune_config=tune.TuneConfig(max_concurrent_trials=workers),
        run_config=tune.RunConfig(
            name=f"run-{datetime.now().strftime('%Y%m%d-%H%M%S')}",
            storage_path=str((sweeps[0].folder.path / "ray").resolve()),
            callbacks=[recorder],
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=deaths),
        ),
    )
    try:
        tuner.fit()
    finally:
        bars.close()
        ray.kill(dispatcher)


def one_machine() -> bool:
    """Whether the Ray cluster is this machine alone (then every trial can memory-map a file the driver sees)."""
    alive = [node for node in ray.nodes() if node.get("Alive")]
    return len(alive) == 1 and alive[0].get("NodeID") == ray.get_runtime_context().get_node_id()


def _measure(config: SweepConfig) -> Any:
    """The trainer's `measure` argument for the sweep's `measure` field."""
    m = config.measure
    if not m.enabled:
        return False
    if m.device is None and m.threads is None:
        return True
    from sweeps.measure import Measure

    return Measure(device=m.device, threads=m.threads)


def _worker_count(config: SweepConfig, pending: int, cluster: dict[str, float]) -> int:
    """As many workers as the cluster's CPUs (and GPUs) hold grants for, capped by max_concurrent and the work."""
    fits = int(cluster.get("CPU", 1) // config.resources.cpus)
    if config.resources.gpus:
        fits = min(fits, int(cluster.get("GPU", 0) // config.resources.gpus))
    if fits < 1:
        gpus = f" and {config.resources.gpus:g} GPU" if config.resources.gpus else ""
        have = f"{cluster.get('CPU', 0):g} CPU and {cluster.get('GPU', 0):g} GPU"
        raise SweepError(f"resources: a trial needs {config.resources.cpus:g} CPU{gpus}; the Ray cluster has {have}")
    return max(1, min(pending, fits, config.max_concurrent or fits))


class Recorder(tune.Callback):
    """The driver's Tune callback: appends each arriving record to its sweep's folder, and charges a dead worker's
    model an attempt."""

    REFRESH_S = 1.0  # how often the progress lines ask the dispatcher what runs

    def __init__(self, sweeps: list[Trials], dispatcher: Any, bars: Bars) -> None:
        self.folders = [s.folder for s in sweeps]
        self.plans = [{row.id: row for row in s.plan} for s in sweeps]
        self.final = [s.folder.final_ids() for s in sweeps]
        self.dispatcher, self.bars = dispatcher, bars
        self.shown = time.monotonic()

    def record(self, sweep: int, record: Record) -> None:
        if record.id in self.final[sweep]:
            return  # already recorded (a result can arrive twice only if a worker died right after reporting)
        self.folders[sweep].append(record)
        self.final[sweep].add(record.id)
        self.bars[sweep].update(record)

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if self.bars.enabled and time.monotonic() - self.shown >= self.REFRESH_S:
            self.shown = time.monotonic()
            self.bars.set_running(ray.get(self.dispatcher.busy.remote()))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        record = result.get("record")
        if record is not None:
            sweep = result["sweep"]
            self.record(sweep, record)
            self.dispatcher.finish.remote(trial.trial_id, sweep, record.id)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._lost(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._lost(trial)

    def _lost(self, trial: Any) -> None:
        item = ray.get(self.dispatcher.lost.remote(trial.trial_id))
        if item is None:
            return
        sweep, model_id, attempt = item
        lines = str(trial.get_error() or "").strip().splitlines()
        message = f"worker died: {lines[-1] if lines else 'its process ended'}"
        row = self.plans[sweep][model_id]
        self.record(sweep, Record(row, "failed", message, attempts=attempt, failures=[message], finished_at=now()))
