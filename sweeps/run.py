"""Running sweeps end to end: plan (or resume, or grow) each, then train what has no final record on Ray."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeps.config import SweepConfig, SweepError, load_sweep
from sweeps.data import Dataset, load_dataset
from sweeps.cost import Estimate, estimate, training_cost
from sweeps.plan import prepare, sample_plan
from sweeps.records import PlanRow
from sweeps.status import SweepStatus, sweep_status
from sweeps.store import SweepFolder


def sweep_data(config: SweepConfig, data: Dataset | None = None, progress: bool = False) -> Dataset:
    """The sweep's dataset (downloaded into the cache when missing and the network allows; a path decoded once, at
    the space's resolution unless the sweep's images say; `data` if already loaded), with its validation split
    when it has one."""
    if data is None:
        data = load_dataset(
            config.dataset,
            config.data_dir,
            download=True,
            images=config.images,
            fallback=config.space.resolution,
            progress=progress,
        )
    return data.with_val_split(config.val_split, seed=config.seed) if config.val_split else data


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep would train, sampled without training: its plan, the training set's size, the estimate."""

    config: SweepConfig
    plan: list[PlanRow]
    train_size: int  # training images (after the validation split, where the sweep has one)
    estimate: Estimate


def plan_sweep(config: SweepConfig, rate: float | None = None) -> SweepPlan:
    """Sample the sweep's plan (writing nothing) and estimate its time; `rate` (training multiply-adds/s of one
    trial) is measured on the plan's median model when not given."""
    plan = sample_plan(config)
    data = sweep_data(config)
    return SweepPlan(config, plan, len(data.train_y), estimate(config, [plan], data, rate))


def run_sweep(
    sweep: SweepConfig | str | Path, *, n: int | None = None, address: str | None = None, progress: bool = True
) -> SweepStatus:
    """Plan (or resume, or grow) the sweep and train every model without a final record; returns its status.

    `n` grows the sweep (the first models stay the same); `address` overrides the file's Ray address."""
    config = sweep if isinstance(sweep, SweepConfig) else load_sweep(sweep)
    return run_sweeps([config.with_n(n) if n is not None else config], address=address, progress=progress)[0]


def run_sweeps(
    configs: list[SweepConfig],
    *,
    address: str | None = None,
    progress: bool = True,
    data: Dataset | None = None,
) -> list[SweepStatus]:
    """Several sweeps in one Ray session (started only if one of them has work), trained together (run_planned).

    Every plan is written before any training, so an interruption anywhere resumes from the records. `data`: the
    sweeps' dataset if already loaded (each sweep's validation split is applied to it, as in `sweep_data`)."""
    work = []
    for config in configs:
        folder = SweepFolder(config.out_dir)
        config, plan = prepare(config, folder)
        work.append((config, folder, plan))
    return run_planned(work, address=address, progress=progress, data=data)


def run_planned(
    work: list[tuple[SweepConfig, SweepFolder, list[PlanRow]]],
    *,
    address: str | None = None,
    progress: bool = True,
    data: Dataset | None = None,
) -> list[SweepStatus]:
    """Train every model of each (config, folder, plan) without a final record in its folder, in one Ray session
    (started only if there is work); the plans are already written. Returns each folder's status. `data`: the
    configs' dataset if already loaded (each config's validation split is applied to it, as in `sweep_data`).

    The pending models of all the configs train in one Tune run (one per distinct resource grant: CPUs and GPUs
    per trial, and max_concurrent), longest first over all of them, so Tune's start and the idle tail of a run are
    paid once, not once per sweep."""
    pending = []
    for _, folder, plan in work:
        final = folder.final_ids()  # once per folder: it reads results.jsonl
        pending.append([row for row in plan if row.id not in final])
    if any(pending):
        datasets: dict[tuple, Dataset] = {}  # loaded before Ray starts: a decode's worker processes are spawned
        for (config, folder, _), rows in zip(work, pending):
            if not rows:
                continue
            key = _data_key(config)
            if key not in datasets:
                datasets[key] = sweep_data(config, data, progress)
            check_data(config, folder, datasets[key])
        from sweeps.tune_trials import Trials, ray_session, run_trials  # imports Ray: only when there is work

        groups: dict[tuple, list[tuple[Trials, list[PlanRow]]]] = {}
        with ray_session(address or work[0][0].address):
            for (config, folder, plan), rows in zip(work, pending):
                if not rows:
                    continue
                grant = (config.resources, config.max_concurrent)
                groups.setdefault(grant, []).append((Trials(config, folder, plan, datasets[_data_key(config)]), rows))
            for group in groups.values():
                run_trials([trials for trials, _ in group], longest_first(group), progress)
    return [sweep_status(folder.path) for _, folder, _ in work]


def _data_key(config: SweepConfig) -> tuple:
    """What decides a config's dataset split: configs alike in it train on one loaded copy."""
    return config.dataset, config.data_dir, config.images, config.val_split, config.seed


def check_data(config: SweepConfig, folder: SweepFolder, data: Dataset) -> None:
    """Record the data a sweep trains on in its folder (data.yaml), before its first model; refuse to go on when
    a user's images have changed since (the sweep's results would mix two datasets), or when the space's models
    cannot take the data's images or predict its classes."""
    space = config.space
    for field, want, have in (
        ("in_channels", data.in_channels, space.in_channels),
        ("num_classes", data.num_classes, space.num_classes),
    ):
        if want != have:
            raise SweepError(
                f"space.{field}: the space's models take {have}, {data.name} has {want}; set it in the sweep's "
                f"overrides ({{{field}: {want}}})"
            )
    summary = data.summary()
    old = folder.data_record()
    if old is not None and old.get("fingerprint") != summary.get("fingerprint"):
        raise SweepError(
            f"dataset: {config.dataset} has changed since {folder.path} began ({_images(old)} images then, "
            f"{_images(summary)} now): its results would mix two datasets; restore the files, or give another "
            f"out_dir for a new sweep"
        )
    folder.write_data_record(summary)


def _images(summary: dict[str, Any]) -> str:
    return f"{sum(summary['images'].values()):,}"


def longest_first(group: list[tuple[Any, list[PlanRow]]]) -> list[tuple[int, int]]:
    """(sweep index, model id) of every pending row of the group's sweeps, the costliest training first (ties in
    sweep and plan order), so the last models to finish are short ones and no slot idles long at the end."""
    costed = []
    for k, (trials, rows) in enumerate(group):
        cost = training_cost(rows, trials.config.recipe, len(trials.data.train_y)).macs
        costed += [(-c, k, row.id) for c, row in zip(cost, rows)]
    return [(k, model_id) for _, k, model_id in sorted(costed, key=lambda item: item[0])]
