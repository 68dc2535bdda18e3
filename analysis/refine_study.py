"""`anynet refine` on real data: the refinement loop (analysis.refine) with an evaluator that trains each space's
models as an ordinary sweep folder, <out>/sweeps/<space> (durable, resumable: running the same command again trains
nothing twice), under one study's settings: its dataset, band, recipe and resources. A space's models are trained
once, whichever round needs them; the loop's files (refine.jsonl, refine.md, refined.yaml) go to <out>."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from anynet.files import write_text_atomic

if TYPE_CHECKING:
    from analysis.refine import ComparisonRow, Evaluator, RefineResult
    from analysis.study import Study
    from sampler import Constraint, DesignSpace
    from sweeps import Dataset

DEFAULT_ROUNDS = 5  # the paper's path A -> B -> C -> D -> E -> RegNet is five constraints
DEFAULT_COMPARE = ("E", "regnetx")  # the paper's hand-refined spaces, beside the start space


def space_for(alias: str, channels: int, classes: int, resolution: int) -> DesignSpace:
    """A space named by alias (A .. E, regnetx, ...), name or YAML file, made to take the data's images and classes
    and, named by alias, its resolution, as a study's sweeps take it."""
    from analysis.study import space_overrides

    space, changed = space_overrides(alias, channels, classes, resolution)
    return space.with_overrides(changed) if changed else space


def train_spaces(
    study: Study, spaces: Sequence[tuple[str, DesignSpace, int]], data: Dataset, resolution: int, progress: bool
) -> list[np.ndarray]:
    """The errors of the models that trained ok (a failed one is left out) of each (folder name, space, seed): the
    sweep <out>/sweeps/<name> of the study's n models, trained or read back, all of them in one Tune run."""
    from dataclasses import replace

    from analysis.refine_report import ok_errors
    from analysis.study import sweep_config
    from sweeps import run_sweeps

    configs = [replace(sweep_config(study, name, space, resolution), seed=seed) for name, space, seed in spaces]
    run_sweeps(configs, address=study.sweep.address, progress=progress, data=data)
    return [ok_errors(c.out_dir) for c in configs]


def sweep_evaluator(study: Study, data: Dataset, resolution: int, progress: bool) -> Evaluator:
    """The loop's evaluator: each space's n models at the study's seed, in the folder the loop names."""
    from dataclasses import replace

    def evaluate(spaces: Sequence[tuple[str, DesignSpace]], n: int) -> list[np.ndarray]:
        each = replace(study, sweep=study.sweep.with_n(n))
        seed = study.sweep.seed
        return train_spaces(each, [(name, space, seed) for name, space in spaces], data, resolution, progress)

    return evaluate


def compare_spaces(
    study: Study,
    result: RefineResult,
    others: Sequence[DesignSpace],
    data: Dataset,
    resolution: int,
    progress: bool,
) -> list[ComparisonRow]:
    """The refined space against the start and the `others` spaces at the same band, budget and recipe: the refined
    space's n models sampled afresh (seed + 1, folder <final>-fresh), the others' read back where the loop or an
    earlier run trained them; all new models in one Tune run."""
    from analysis.refine import compare_final

    spaces = list({s.name: s for s in [result.start, *others]}.values())
    fresh, seed = f"{result.final.name}-fresh", study.sweep.seed
    found = train_spaces(
        study, [(fresh, result.final, seed + 1)] + [(s.name, s, seed) for s in spaces], data, resolution, progress
    )
    others_found = [(s.name, e) for s, e in zip(spaces, found[1:])]
    return compare_final((fresh, found[0]), others_found, alpha=result.alpha, seed=seed)


def refined_space(folder: str | Path) -> tuple[DesignSpace, tuple[float | None, float | None] | None]:
    """A refinement folder's final space (refined.yaml) and the complexity band it was refined in."""
    import yaml

    from analysis.refine import RefineError
    from anynet.validate import parse_band
    from sampler import get_space

    folder = Path(folder)
    if not (folder / "refined.yaml").is_file():
        raise RefineError(f"{folder}: no refined.yaml; run anynet refine --out {folder} first")
    settings = yaml.safe_load((folder / "refine-settings.yaml").read_text()) or {}
    flops = settings.get("flops")
    return get_space(str(folder / "refined.yaml")), parse_band("flops", flops) if flops else None


def read_proposals(path: str | Path) -> list[str]:
    """The written constraints of a proposals file, one a line (blank lines and # comments skipped)."""
    from analysis.refine import RefineError

    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise RefineError(
            f"--propose: {path}: cannot read ({e.strerror}); give auto or a file of constraints"
        ) from None
    found = [line.split("#")[0].strip() for line in lines]
    if not any(found):
        raise RefineError(f"--propose: {path} holds no constraint; write one a line, e.g. shared b")
    return [line for line in found if line]


def run_refine(
    study: Study,
    *,
    rounds: int = DEFAULT_ROUNDS,
    propose: list[Constraint | str] | None = None,
    margin: float | None = None,
    alpha: float | None = None,
    compare: Sequence[str] = DEFAULT_COMPARE,
    progress: bool = True,
) -> tuple[RefineResult, list[ComparisonRow]]:
    """Refine the study's first space on its data (its sweep's n models per space, its seed for sampling, training and
    the tests), then compare the refined space, sampled afresh, with the start and `compare` spaces (none: no
    comparison); write <out>/refine.jsonl, refine.md, refined.yaml, refine-compare.jsonl, refine-settings.yaml and
    the report, <out>/report/report.html."""
    import yaml

    from analysis.refine import ALPHA, MARGIN, refine, write
    from analysis.refine_report import write_report
    from analysis.study import fit_batch, study_data, training_images
    from anynet.validate import format_count

    data, resolution = study_data(study, progress)
    study, notes = fit_batch(study, training_images(study, data))
    for note in notes:
        print(f"note: {note}")
    start = space_for(study.spaces[0], data.in_channels, data.num_classes, resolution)
    others = [space_for(alias, data.in_channels, data.num_classes, resolution) for alias in compare]
    sweep = study.sweep
    settings: dict[str, Any] = {
        "space": study.spaces[0],
        "n": sweep.n,
        "rounds": rounds,
        "margin": MARGIN if margin is None else margin,
        "alpha": ALPHA if alpha is None else alpha,
        "propose": None if propose is None else [str(getattr(c, "name", c)) for c in propose],
        "seed": sweep.seed,
        "flops": None if sweep.flops is None else ":".join(format_count(v, "g") if v else "" for v in sweep.flops),
        "recipe": sweep.recipe.identity(),
        "dataset": sweep.dataset,
        "compare": list(compare),
    }
    out = Path(study.out)
    write_text_atomic(out / "refine-settings.yaml", yaml.safe_dump(settings, sort_keys=False))
    result = refine(
        start,
        sweep_evaluator(study, data, resolution, progress),
        n=sweep.n,
        rounds=rounds,
        margin=settings["margin"],
        alpha=settings["alpha"],
        propose=propose,
        seed=sweep.seed,
    )
    comparison = compare_spaces(study, result, others, data, resolution, progress) if compare else []
    write(result, out, comparison, sweep.flops)
    write_report(out, seed=sweep.seed)
    return result, comparison
