"""`anynet refine` on real data: the refinement loop (analysis.refine) with an evaluator that trains each space's
models as an ordinary sweep folder, <out>/sweeps/<space> (durable, resumable: running the same command again trains
nothing twice), under one study's settings: its dataset, band, recipe and resources. A space's models are trained
once, whichever round needs them; the loop's files (refine.jsonl, refine.md, refined.yaml) go to <out>."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from anynet.files import write_text_atomic

if TYPE_CHECKING:
    from analysis.refine import Evaluator, RefineResult
    from analysis.study import Study
    from sampler import Constraint, DesignSpace
    from sweeps import Dataset

DEFAULT_ROUNDS = 5  # the paper's path A -> B -> C -> D -> E -> RegNet is five constraints


def start_space(study: Study, channels: int, classes: int, resolution: int) -> DesignSpace:
    """The study's first space, made to take the data's images and classes (and, named by alias, its resolution),
    as the study's sweeps take it."""
    from analysis.study import ALIASES
    from sampler import get_space

    alias = study.spaces[0]
    space = get_space(ALIASES.get(alias, alias))
    wanted = {"in_channels": channels, "num_classes": classes} | (
        {"resolution": resolution} if alias in ALIASES else {}
    )
    changed = {k: v for k, v in wanted.items() if getattr(space, k) != v}
    return space.with_overrides(changed) if changed else space


def sweep_evaluator(study: Study, data: Dataset, resolution: int, progress: bool) -> Evaluator:
    """Errors of each space's n models, trained (or read back) as the sweep <out>/sweeps/<space name>, the spaces of
    one call in one Tune run: the models that trained ok (a failed one is left out: the loop tests what it has)."""
    from dataclasses import replace

    from analysis.study import sweep_file
    from sweeps import load_results, run_sweeps, sweep_from_dict

    def evaluate(spaces: list[tuple[str, DesignSpace]], n: int) -> list[np.ndarray]:
        each = replace(study, n=n)
        configs = [sweep_from_dict(sweep_file(each, name, space.to_dict(), resolution)) for name, space in spaces]
        run_sweeps(configs, address=study.address, progress=progress, data=data)
        frames = [load_results(c.out_dir) for c in configs]
        return [f.loc[f.status == "ok", "error"].to_numpy(dtype=float) for f in frames]

    return evaluate


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
    progress: bool = True,
) -> RefineResult:
    """Refine the study's first space on its data (study.n models per space, study.seed for sampling, training and
    the tests) and write <out>/refine.jsonl, refine.md, refined.yaml and refine-settings.yaml."""
    import yaml

    from analysis.refine import ALPHA, MARGIN, refine, write
    from analysis.study import fit_batch, study_data, training_images

    data, resolution = study_data(study, progress)
    study, _ = fit_batch(study, training_images(study, data))
    start = start_space(study, data.in_channels, data.num_classes, resolution)
    settings: dict[str, Any] = {
        "space": study.spaces[0],
        "n": study.n,
        "rounds": rounds,
        "margin": MARGIN if margin is None else margin,
        "alpha": ALPHA if alpha is None else alpha,
        "propose": None if propose is None else [str(getattr(c, "name", c)) for c in propose],
        "seed": study.seed,
        "flops": study.flops,
        "recipe": dict(study.recipe),
        "dataset": study.dataset,
    }
    out = Path(study.out)
    write_text_atomic(out / "refine-settings.yaml", yaml.safe_dump(settings, sort_keys=False))
    result = refine(
        start,
        sweep_evaluator(study, data, resolution, progress),
        n=study.n,
        rounds=rounds,
        margin=settings["margin"],
        alpha=settings["alpha"],
        propose=propose,
        seed=study.seed,
    )
    write(result, out)
    return result
