"""Fidelity re-runs of a sweep: a seeded uniform random subsample of its models trained again, once at `factor`
times the budget and once at the same budget with other training seeds, so that analysis can say how faithfully
the brief budget ranks models (against the longer one) and how much of that is seed noise (the re-seeded run:
the brief budget's seed reliability). Asked for, the long run is re-seeded too (its own seed reliability), and the
subsample is trained under a reference recipe too (does the ranking depend on the recipe as much as the budget?).

Each re-run is an ordinary sweep folder inside the sweep's, durable and resumable like any sweep:

    <sweep>/fidelity/reseed/      the same budget, training seeds from another stream
    <sweep>/fidelity/x4/          4 x the budget (for factor 4), training seeds from a third stream
    <sweep>/fidelity/x4-reseed/   only when asked (reseed_long): 4 x the budget again, seeds from a fourth stream
    <sweep>/fidelity/reference/   only when asked: under a reference recipe (the sweep's recipe with some fields
                                  changed, e.g. lr=0.1,weight_decay=5e-4), seeds from a fifth stream

Its plan holds the chosen models with their ids in the sweep, so records line up by id. The subsample is a
random key per model (fixed by the sweep's seed and the model's id) taken over the models that finished ok,
smallest keys first: not the best models, which would bias the check, and a larger k keeps the models chosen
for a smaller one while the sweep stays as it is.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sweeps.config import SweepConfig, SweepError, differences, sweep_from_dict
from sweeps.recipe import Recipe
from sweeps.records import PlanRow
from sweeps.store import SweepFolder

if TYPE_CHECKING:
    from sweeps.data import Dataset

FOLDER = "fidelity"
RESEED = "reseed"
REFERENCE = "reference"
RESEED_STREAM, LONG_STREAM, LONG_RESEED_STREAM, REFERENCE_STREAM = 1, 2, 3, 4
SUBSAMPLE_STREAM = 7919  # the subsample's keys come from their own stream of the sweep's seed


def long_name(factor: float, reseeded: bool = False) -> str:
    """The folder of the longer re-run: x4 for factor 4, x2.5 for 2.5; x4-reseed for its re-seeded twin."""
    return f"x{factor:g}-{RESEED}" if reseeded else f"x{factor:g}"


def scaled(recipe: Recipe, factor: float) -> Recipe:
    """The recipe with factor times its budget (epochs, images or training multiply-adds)."""
    if recipe.budget_macs is not None:
        return replace(recipe, budget_macs=recipe.budget_macs * factor)
    if recipe.images is not None:
        return replace(recipe, images=round(recipe.images * factor))
    return replace(recipe, epochs=recipe.epochs * factor)


def under(rows: list[PlanRow], changes: dict[str, Any] | None) -> list[PlanRow]:
    """Plan rows for a re-run under a recipe with these fields changed: a field a model drew for itself (a space's
    per-model lr or weight_decay, the row's `recipe`) gives way to the change, which would otherwise be ignored."""
    if not changes:
        return rows
    return [replace(row, recipe={k: v for k, v in row.recipe.items() if k not in changes}) for row in rows]


def stored_config(folder: SweepFolder) -> SweepConfig:
    """The sweep's config as its folder recorded it."""
    try:
        return sweep_from_dict(folder.settings()["config"])
    except KeyError:
        raise SweepError(f"{folder.path}: its {folder.path / 'sweep.yaml'} records no config") from None


def subsample(folder: SweepFolder, seed: int, k: int) -> list[int]:
    """k ids of the sweep's ok models, uniformly at random (seeded), in the order of their keys."""
    ok = sorted(i for i, r in folder.latest().items() if r.status == "ok")
    keys = {i: np.random.default_rng([seed, SUBSAMPLE_STREAM, i]).random() for i in ok}
    return sorted(ok, key=keys.__getitem__)[:k]


def prepare_fidelity(
    path: str | Path, k: int, factor: float, reseed_long: bool = False, reference: dict[str, Any] | None = None
) -> list[tuple[SweepConfig, SweepFolder, list[PlanRow]]]:
    """Open (or start, or grow) a sweep's re-run folders for a subsample of k models (two; one more with
    `reseed_long`, one more with a `reference` recipe: the sweep's with these fields changed, Recipe.override);
    returns (config, folder, plan) of each, the plans written. Models chosen before stay in the plan."""
    if k < 2:
        raise SweepError(f"k: at least 2 models per sweep for a rank correlation, got {k}")
    if not factor > 1:
        raise SweepError(f"factor: the longer budget must be more than 1 x the sweep's, got {factor}")
    source = SweepFolder(path)
    config = stored_config(source)
    chosen = subsample(source, config.seed, k)
    if len(chosen) < 2:
        raise SweepError(f"{source.path}: {len(chosen)} model(s) finished ok; the fidelity check needs at least 2")
    rows = {row.id: row for row in source.plan()}
    runs = [(RESEED, RESEED_STREAM, config.recipe), (long_name(factor), LONG_STREAM, scaled(config.recipe, factor))]
    if reseed_long:
        runs.append((long_name(factor, reseeded=True), LONG_RESEED_STREAM, scaled(config.recipe, factor)))
    if reference:
        runs.append((REFERENCE, REFERENCE_STREAM, config.recipe.override(reference)))
    work = []
    for name, stream, recipe in runs:
        path = source.path / FOLDER / name
        rerun = replace(config, name=f"{config.name}-{name}", out_dir=path, recipe=recipe, stream=stream)
        changes = reference if name == REFERENCE else None
        settings = {"factor": factor, **({"reference": dict(reference)} if changes else {})}
        work.append(open_rerun(source, rows, rerun, chosen, changes, settings, "re-runs of another sweep"))
    return work


def open_rerun(
    source: SweepFolder,
    rows: dict[int, PlanRow],
    rerun: SweepConfig,
    chosen: list[int],
    changes: dict[str, Any] | None,
    settings: dict[str, Any],
    holds: str,
) -> tuple[SweepConfig, SweepFolder, list[PlanRow]]:
    """Open (or start, or grow) one re-run folder of a sweep (`rerun.out_dir`) for the `chosen` ids of its plan
    `rows`: a folder bound to another config is refused (saying it `holds` what it does, and what changed); the
    models planned before stay first, the chosen ones not yet planned follow, under the recipe `changes` (`under`).
    Writes the folder's settings (with `settings` added) and plan; returns (config, folder, plan)."""
    folder = SweepFolder(rerun.out_dir)
    old: list[int] = []
    if folder.exists():
        changed = differences(folder.settings().get("identity", {}), rerun.identity())
        if changed:
            raise SweepError(f"{folder.path} holds {holds}; changed: {'; '.join(changed)}")
        old = [row.id for row in folder.plan()]
    plan = under([rows[i] for i in old + [i for i in chosen if i not in old]], changes)
    rerun = rerun.with_n(len(plan))
    identity = {"name": rerun.name, "n": rerun.n, "identity": rerun.identity(), "config": rerun.to_dict()}
    folder.write_settings({**identity, "source": str(source.path), **settings})
    folder.write_plan(plan)
    return rerun, folder, plan


def run_fidelity(
    paths: list[str | Path],
    k: int = 8,
    factor: float = 4.0,
    *,
    reseed_long: bool = False,
    reference: dict[str, Any] | None = None,
    address: str | None = None,
    progress: bool = True,
    data: Dataset | None = None,
) -> list[Any]:
    """Re-run a subsample of k models of each sweep (same budget re-seeded, factor x the budget, and with
    `reseed_long` factor x the budget re-seeded, with a `reference` recipe's fields under that recipe) in one Ray
    session; returns the re-run folders' statuses (sweeps.status.SweepStatus), two to four per sweep. `data`: the sweeps' dataset if already loaded; each
    sweep's validation split is applied to it."""
    from sweeps.run import run_planned

    work = [item for path in paths for item in prepare_fidelity(path, k, factor, reseed_long, reference)]
    return run_planned(work, address=address, progress=progress, data=data)


def fidelity_folders(path: str | Path) -> dict[str, SweepFolder]:
    """A sweep's re-run folders that exist, by name (reseed, x4, x4-reseed, ...)."""
    root = Path(path) / FOLDER
    if not root.is_dir():
        return {}
    return {p.name: SweepFolder(p) for p in sorted(root.iterdir()) if SweepFolder(p).exists()}
