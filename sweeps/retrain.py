"""Best models chosen at a higher fidelity: the top k models of a sweep by brief error trained again, at `factor`
times the budget or under another recipe, with several training seeds, so that a study's best models and exports
rank by their mean retrained error (successive halving, on the selection step only). The comparison of the spaces
keeps the brief errors of all models, so it stays unbiased.

Each seed's re-run is an ordinary sweep folder inside the sweep's, durable and resumable like any sweep:

    <sweep>/retrain/x2-1/       2 x the budget (for factor 2), the first seed: training seeds from stream 10
    <sweep>/retrain/x2-2/       2 x the budget, the second seed: stream 11
    <sweep>/retrain/recipe-1/   under another recipe (Recipe fields changed), the first seed: stream 10

Its plan holds the chosen models with their ids in the sweep, so records line up by id. Models chosen before stay
in the plan: a larger k, or a grown sweep whose top k changed, appends the new ones.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeps.config import SweepConfig, SweepError
from sweeps.fidelity import open_rerun, scaled, stored_config
from sweeps.recipe import Recipe, RecipeError
from sweeps.records import PlanRow
from sweeps.store import SweepFolder

if TYPE_CHECKING:
    from sweeps.data import Dataset
    from sweeps.status import SweepStatus

FOLDER = "retrain"
RECIPE = "recipe"
RETRAIN_STREAM = 10  # seed s (0-based) trains with seeds from stream RETRAIN_STREAM + s (fidelity uses 1 to 3)


def retrain_name(factor: float | None, seed_index: int) -> str:
    """The folder of one seed (0-based): x2-1, x2-2 for factor 2; recipe-1, recipe-2 under another recipe."""
    return f"{f'x{factor:g}' if factor is not None else RECIPE}-{seed_index + 1}"


def retrain_run(name: str) -> tuple[float | None, int] | None:
    """The inverse of retrain_name: (factor, or None under another recipe; the 0-based seed index) of a retrain
    folder's name; None for any other name."""
    prefix, _, index = name.rpartition("-")
    if not index.isdigit() or int(index) < 1:
        return None
    if prefix == RECIPE:
        return None, int(index) - 1
    try:
        return (float(prefix[1:]), int(index) - 1) if prefix.startswith("x") else None
    except ValueError:
        return None


def top_ids(folder: SweepFolder, k: int) -> list[int]:
    """The k ok models of lowest brief error (the validation error where the sweep has a split), ties by id."""
    errors = {
        i: r.result.selected_error
        for i, r in folder.latest().items()
        if r.status == "ok" and r.result is not None and r.result.selected_error is not None
    }
    return sorted(errors, key=lambda i: (errors[i], i))[:k]


def _recipe(recipe: Recipe, factor: float | None, changes: dict[str, Any] | None) -> Recipe:
    """The recipe the chosen models are trained again under: factor x the budget, or the recipe's fields changed.
    Exactly one of factor (> 1) and changes; a SweepError naming the argument otherwise."""
    if (factor is None) == (changes is None):
        raise SweepError("factor: give exactly one of factor (a budget multiple) and recipe (recipe fields to change)")
    if factor is not None:
        if not factor > 1:
            raise SweepError(f"factor: the retrain budget must be more than 1 x the sweep's, got {factor}")
        return scaled(recipe, factor)
    if not isinstance(changes, dict):
        raise SweepError(f"recipe: a mapping of recipe fields to change, got {changes!r}")
    try:
        return recipe.override(changes)
    except RecipeError as e:
        message = str(e)
        raise SweepError(message if message.startswith("recipe.") else f"recipe.{message}") from None


def prepare_retrain(
    path: str | Path, k: int, seeds: int = 2, factor: float | None = None, recipe: dict[str, Any] | None = None
) -> list[tuple[SweepConfig, SweepFolder, list[PlanRow]]]:
    """Open (or start, or grow) a sweep's retrain folders for its top k models by brief error, one per seed, at
    factor x the budget or under the recipe with `recipe`'s fields changed; returns (config, folder, plan) of each,
    the plans written. Models chosen before stay in the plan."""
    if k < 1:
        raise SweepError(f"k: at least 1 model per sweep to retrain, got {k}")
    if seeds < 1:
        raise SweepError(f"seeds: at least 1 training seed per model, got {seeds}")
    source = SweepFolder(path)
    config = stored_config(source)
    retrained = _recipe(config.recipe, factor, recipe)
    chosen = top_ids(source, k)
    if not chosen:
        raise SweepError(f"{source.path}: no model finished ok; there is no best model to retrain")
    rows = {row.id: row for row in source.plan()}
    how = {"factor": factor} if factor is not None else {"recipe": recipe}
    work = []
    for seed_index in range(seeds):
        name = retrain_name(factor, seed_index)
        rerun = replace(
            config,
            name=f"{config.name}-{FOLDER}-{name}",
            out_dir=source.path / FOLDER / name,
            recipe=retrained,
            stream=RETRAIN_STREAM + seed_index,
        )
        settings = {**how, "seed_index": seed_index}
        work.append(open_rerun(source, rows, rerun, chosen, recipe, settings, "retrains of another sweep or recipe"))
    return work


def run_retrain(
    paths: list[str | Path],
    k: int,
    seeds: int = 2,
    factor: float | None = None,
    recipe: dict[str, Any] | None = None,
    *,
    address: str | None = None,
    progress: bool = True,
    data: Dataset | None = None,
) -> list[SweepStatus]:
    """Train the top k models of each sweep again (factor x the budget, or under the recipe with `recipe`'s fields
    changed) with `seeds` training seeds, all in one Ray session; returns the retrain folders' statuses
    one per seed per sweep. `data`: the sweeps' dataset if already loaded."""
    from sweeps.run import run_planned

    work = [item for path in paths for item in prepare_retrain(path, k, seeds, factor, recipe)]
    return run_planned(work, address=address, progress=progress, data=data)


def retrain_folders(path: str | Path) -> dict[str, SweepFolder]:
    """A sweep's retrain folders that exist, by name (x2-1, x2-2, recipe-1, ...)."""
    root = Path(path) / FOLDER
    if not root.is_dir():
        return {}
    return {p.name: SweepFolder(p) for p in sorted(root.iterdir()) if SweepFolder(p).exists()}
