"""A design-space study, the paper's method end to end: one sweep per design space with one shared recipe, band
and dataset; then the compare report (EDFs, KS tests, bootstrap ranges, RegNet fits) and each sweep's best models
exported as RegNet configs.

A study folder holds study.yaml (what was asked), sweeps/<space>/ (ordinary sweep folders: durable, resumable,
growable), report/ (anynet compare's output) and configs/<space>.yaml and .pycls.yaml (anynet export's). Running
the same study again resumes it; a larger n grows every sweep; a changed recipe, band, seed or dataset is refused
by the sweep folders, naming the field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anynet.errors import AnynetError
from anynet.files import write_text_atomic

if TYPE_CHECKING:
    from analysis.load import Sweeps
    from analysis.report import Report
    from sampler import DesignSpace
    from sweeps import Dataset, Estimate, PlanRow, SweepConfig, SweepStatus

# The paper's spaces at small-image scale (sampler/spaces/*-small.yaml: 3 stages, 28 px, 1 channel, 10 classes).
ALIASES = {
    "A": "AnyNetX_A-small",
    "B": "AnyNetX_B-small",
    "C": "AnyNetX_C-small",
    "D": "AnyNetX_D-small",
    "E": "AnyNetX_E-small",
    "regnetx": "RegNetX-small",
    "regnety": "RegNetY-small",
    "regnetx-inverted": "RegNetX-inverted-small",  # the paper's section 5: b < 1
    "regnetx-depthwise": "RegNetX-depthwise-small",  # and g = 1
    "mbconv": "MBConv-small",  # EfficientNet-like blocks
}
# Chosen so that the whole study, installs included, ends within 30 minutes on 2 CPU cores (README: the study).
DEFAULT_SPACES = ("A", "C", "E", "regnetx")
DEFAULT_N = 32
DEFAULT_FLOPS = "2M:6M"
# Batch 64 and a 20% warm-up, kept on 2026-12-06: no brief recipe ranked a space's models like one epoch of a standard
# recipe, and none was resolved from it (benchmarks/fidelity_recipes.py; README: how the defaults were chosen).
DEFAULT_RECIPE = {"budget_macs": "100G", "batch_size": 64, "warmup": 0.2}
# The fidelity check and the re-trained selection, together at the cost of the former check alone (README: set up):
DEFAULT_FIDELITY = 4  # models per space re-run for the fidelity check
DEFAULT_FACTOR = 2.0  # budget multiple of the fidelity check's long re-run
# The reference recipe: a standard one's hyperparameters at the study's budget (benchmarks/fidelity_recipes.py's
# reference-at-budget): batch 128, lr 0.1, weight decay 5e-4, no warm-up.
DEFAULT_FIDELITY_RECIPE = {"batch_size": 128, "lr": 0.1, "weight_decay": 5e-4, "warmup": 0.0}
DEFAULT_RETRAIN_TOP = 2  # models per space re-trained to choose the best ones (0: by the brief error)
DEFAULT_RETRAIN_SEEDS = 2


class StudyError(AnynetError):
    """A study that cannot run as asked; the message names the field."""


@dataclass(frozen=True)
class Study:
    """What a study runs; every field but `spaces`, `out`, `top` and the fidelity check's goes into each of its
    sweep files unchanged."""

    spaces: tuple[str, ...] = DEFAULT_SPACES
    n: int = DEFAULT_N
    flops: str | None = DEFAULT_FLOPS
    recipe: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_RECIPE))
    dataset: str = "fashion-mnist"  # a built-in name, or a path to the user's images or arrays
    data_dir: str | None = None
    images: dict[str, Any] = field(default_factory=dict)  # a path's decoding (sweeps.ImageOptions fields)
    val_split: float | None = None
    seed: int = 0
    resources: dict[str, float] = field(default_factory=lambda: {"cpus": 1, "gpus": 0})
    measure: dict[str, Any] = field(default_factory=dict)  # where latency is timed (a sweep file's `measure`)
    max_concurrent: int | None = None
    retries: int = 1
    address: str | None = None
    out: Path = Path("runs/study")
    top: int = 3
    fidelity: int = DEFAULT_FIDELITY  # models per space re-run to check the budget's ranking (0: no check)
    fidelity_factor: float = DEFAULT_FACTOR
    fidelity_reseed_long: bool = False  # re-run the long budget twice: its seed reliability, the seed-noise bound
    fidelity_recipe: dict[str, Any] | None = field(default_factory=lambda: dict(DEFAULT_FIDELITY_RECIPE))
    retrain_top: int = DEFAULT_RETRAIN_TOP  # per space: the best by brief error, re-trained to rank them (0: none)
    retrain_factor: float | None = None  # their budget multiple (None: fidelity_factor, unless retrain_recipe)
    retrain_recipe: dict[str, Any] | None = None  # or the recipe fields they are re-trained under instead
    retrain_seeds: int = DEFAULT_RETRAIN_SEEDS
    min_fidelity: float | None = None  # the gate: warn when the within-space Spearman's lower end is below it
    strict: bool = False  # and then fail (the CLI exits 1)


@dataclass(frozen=True)
class StudyResult:
    statuses: list[SweepStatus]  # per space
    report: Report | None  # None when no sweep had two models finished
    exports: dict[str, Path]  # sweep name -> its configs file (anynet yaml; a .pycls.yaml sits beside it)
    best: dict[str, Any] | None  # the exported config of the best model over all sweeps
    notes: list[str]  # what was left out of the report or the exports, and why
    gate: str | None = None  # the fidelity gate's WARNING line, when min_fidelity is set and not reached


def sweep_files(study: Study, channels: int, classes: int, resolution: int) -> list[dict[str, Any]]:
    """The study's sweep files (as data), one per space. A space is made to take the dataset's images and classes;
    the paper's spaces named by alias are also set to its resolution (a user's images are decoded at it)."""
    check_spaces(study)
    files = []
    for alias in study.spaces:
        space, overrides = space_overrides(alias, channels, classes, resolution)
        name = space.name.removesuffix("-small")
        if name in [f["name"] for f in files]:
            raise StudyError(f"spaces: {alias} is given twice")
        files.append(sweep_file(study, name, ALIASES.get(alias, alias), resolution, overrides))
    return files


def space_overrides(alias: str, channels: int, classes: int, resolution: int) -> tuple[DesignSpace, dict[str, Any]]:
    """A space named by alias (A .. E, regnetx, ...), name or YAML file, and the overrides that make it take the
    data's images and classes and, named by alias, its resolution (only those that change it)."""
    from sampler import get_space

    space = get_space(ALIASES.get(alias, alias))
    wanted = {"in_channels": channels, "num_classes": classes} | (
        {"resolution": resolution} if alias in ALIASES else {}
    )
    return space, {k: v for k, v in wanted.items() if getattr(space, k) != v}


def sweep_file(
    study: Study, name: str, space: str | dict[str, Any], resolution: int, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One space's sweep file (as data) under the study's settings, in <out>/sweeps/<name>; `space` a space's name,
    YAML file or mapping; `resolution` the data's (a user's images are decoded at it)."""
    from sweeps import is_path

    own = {"images": {**study.images, "resolution": resolution}} if is_path(study.dataset) else {}
    return {
        "name": name,
        "space": space,
        "n": study.n,
        "seed": study.seed,
        "overrides": overrides or {},
        "flops": study.flops,
        "dataset": study.dataset,
        "data_dir": study.data_dir,
        **own,
        "val_split": study.val_split,
        "recipe": dict(study.recipe),
        "resources": dict(study.resources),
        "measure": dict(study.measure),
        "max_concurrent": study.max_concurrent,
        "retries": study.retries,
        "address": study.address,
        "out_dir": str(Path(study.out) / "sweeps" / name),
    }


@dataclass(frozen=True)
class StudyPlan:
    """What a study would train, sampled without training: per space its config and plan, and their estimate."""

    configs: list[SweepConfig]  # per space
    plans: list[list[PlanRow]]
    estimate: Estimate  # a Cost per space, the rate per trial, trials at once, seconds


def plan_study(study: Study, rate: float | None = None) -> StudyPlan:
    """Sample every space's plan (writing nothing) and estimate the time; `rate` (training multiply-adds/s of one
    trial) is measured on the median model of all plans when not given."""
    from sweeps import estimate, sample_plan, sweep_data

    check_reruns(study)
    study, data, configs, _ = _configs(study)
    plans = [sample_plan(c) for c in configs]
    reruns = [rerun_plan(study, config, plan) for config, plan in zip(configs, plans)]
    return StudyPlan(configs, plans, estimate(configs[0], plans, sweep_data(configs[0], data), rate, reruns))


def rerun_plan(study: Study, config: SweepConfig, plan: list[PlanRow]) -> list[tuple[PlanRow, Any]]:
    """What the fidelity check and the re-trained selection would train of a plan, for its estimate, as (row,
    budget multiple or Recipe) pairs of the plan's median-cost model: per fidelity model once at the same budget,
    once (twice with reseed_long) at the factor, once under the reference recipe; per re-trained model one per
    seed."""
    median = sorted(plan, key=lambda row: row.complexity.flops)[len(plan) // 2]
    pairs = []
    if study.fidelity:
        runs = [1.0, *[study.fidelity_factor] * (2 if study.fidelity_reseed_long else 1)]
        runs += [config.recipe.override(study.fidelity_recipe)] if study.fidelity_recipe else []
        pairs += [(median, run) for run in runs] * min(study.fidelity, len(plan))
    if study.retrain_top:
        factor, recipe = retrain_how(study)
        run = factor if recipe is None else config.recipe.override(recipe)
        pairs += [(median, run)] * (min(study.retrain_top, len(plan)) * study.retrain_seeds)
    return pairs


def check_spaces(study: Study) -> None:
    if not study.spaces:
        raise StudyError(f"spaces: give at least one of {', '.join(ALIASES)} (or a space name or YAML file)")


def _configs(study: Study, progress: bool = False) -> tuple[Study, Dataset, list[SweepConfig], list[str]]:
    """The study (its batch sizes fitted to the data: fit_batch), its dataset, its validated sweep files, and a note
    where a batch size changed."""
    from sweeps import sweep_from_dict

    data, resolution = study_data(study, progress)
    study, notes = fit_batch(study, training_images(study, data))
    files = sweep_files(study, data.in_channels, data.num_classes, resolution)
    return study, data, [sweep_from_dict(f) for f in files], notes


def training_images(study: Study, data: Dataset) -> int:
    """The images each model trains on: the training set, less the study's validation split."""
    n = len(data.train_y)
    return n - (int(round(n * study.val_split)) if study.val_split else 0)


def fit_batch(study: Study, train_size: int) -> tuple[Study, list[str]]:
    """The study with each recipe's batch size (its own, the reference recipe's, the re-training recipe's) that is
    larger than the training set (the default 64 on a small folder of one's own images) lowered to the largest power
    of two at most half of it, so an epoch has two steps or more; and a note saying so."""
    from dataclasses import replace

    from sweeps import Recipe

    def fitted(recipe: dict[str, Any] | None, default: int) -> dict[str, Any] | None:
        if recipe is None or recipe.get("batch_size", default) <= train_size:
            return recipe
        return {**recipe, "batch_size": 2 ** max(0, (train_size // 2).bit_length() - 1)}

    changes = {
        "recipe": fitted(study.recipe, Recipe.batch_size),
        "fidelity_recipe": fitted(study.fidelity_recipe, study.recipe.get("batch_size", Recipe.batch_size)),
        "retrain_recipe": fitted(study.retrain_recipe, study.recipe.get("batch_size", Recipe.batch_size)),
    }
    changed = {k: v for k, v in changes.items() if v is not getattr(study, k)}
    if not changed:
        return study, []
    words = ", ".join(f"{k.replace('_', ' ')} {v['batch_size']}" for k, v in changed.items())
    note = f"batch sizes larger than the {train_size:,} training images lowered: {words}"
    return replace(study, **changed), [note]


def study_data(study: Study, progress: bool = False) -> tuple[Dataset, int]:
    """The study's dataset (found, fetched or decoded before any work: a user's images at the first space's
    resolution unless its images options give one) and the resolution its spaces take."""
    from sampler import get_space
    from sweeps import DataError, ImageOptions, load_dataset

    check_spaces(study)
    try:
        options = ImageOptions.from_dict(study.images)
    except DataError as e:
        raise StudyError(str(e)) from None
    first = get_space(ALIASES.get(study.spaces[0], study.spaces[0]))
    data = load_dataset(
        study.dataset, study.data_dir, download=True, images=options, fallback=first.resolution, progress=progress
    )
    return data, options.resolution or data.resolution


def run_study(study: Study, progress: bool = True) -> StudyResult:
    """Run (or resume, or grow) every sweep of the study, then write its report and RegNet configs."""
    import yaml

    from sweeps import run_sweeps

    check_reruns(study)
    study, data, configs, fitted = _configs(study, progress)
    out = Path(study.out)
    write_text_atomic(
        out / "study.yaml",
        yaml.safe_dump({**asdict(study), "out": str(out), "spaces": list(study.spaces)}, sort_keys=False),
    )
    statuses = run_sweeps(configs, address=study.address, progress=progress, data=data)
    notes = fitted + [
        f"{c.name}: only {s.ok} model(s) finished ok; left out of the report"
        for c, s in zip(configs, statuses)
        if s.ok < 2
    ]
    usable = [(c, s.ok) for c, s in zip(configs, statuses) if s.ok >= 2]
    notes += _reruns(study, usable, data, progress)
    report, exports, best, gate = _report_and_export(usable, study, notes)
    return StudyResult(statuses, report, exports, best, notes, gate)


def check_reruns(study: Study) -> None:
    """Raise, naming the flag, unless the fidelity check and the re-trained selection can run as asked: before any
    model is trained, not after."""
    from sweeps import RecipeError, Recipe

    if study.fidelity and study.fidelity < 2:
        raise StudyError(f"--fidelity: 0 (no check) or at least 2 models per space, got {study.fidelity}")
    if study.fidelity and not study.fidelity_factor > 1:
        raise StudyError(f"--fidelity-factor: more than 1 x the budget, got {study.fidelity_factor:g}")
    if study.retrain_top < 0:
        raise StudyError(
            f"--retrain-top: 0 (rank by the brief error) or more models per space, got {study.retrain_top}"
        )
    if study.retrain_top and study.retrain_seeds < 1:
        raise StudyError(f"--retrain-seeds: at least 1 training seed per model, got {study.retrain_seeds}")
    if study.retrain_top and study.retrain_recipe is None and not (study.retrain_factor or 2) > 1:
        raise StudyError(f"--retrain-factor: more than 1 x the budget, got {study.retrain_factor:g}")
    for flag, changes in (("--fidelity-recipe", study.fidelity_recipe), ("--retrain-recipe", study.retrain_recipe)):
        try:
            Recipe().override(changes or {})
        except RecipeError as e:
            raise StudyError(f"{flag}: {e}") from None


def retrain_how(study: Study) -> tuple[float | None, dict[str, Any] | None]:
    """How the study re-trains its top models: (budget multiple, None) or (None, recipe fields)."""
    if study.retrain_recipe:
        return None, study.retrain_recipe
    return study.retrain_factor or study.fidelity_factor, None


def _reruns(study: Study, usable: list[tuple[SweepConfig, int]], data: Dataset, progress: bool) -> list[str]:
    """The fidelity check's re-runs and the re-trained top models of the usable sweeps (config, models ok), trained
    in one Ray session; notes of the re-runs that did not finish ok."""
    from sweeps import prepare_fidelity, prepare_retrain, run_planned

    work = []
    for config, ok in usable:
        if study.fidelity:
            work += prepare_fidelity(
                config.out_dir, study.fidelity, study.fidelity_factor, study.fidelity_reseed_long, study.fidelity_recipe
            )
        if study.retrain_top:
            factor, recipe = retrain_how(study)
            work += prepare_retrain(config.out_dir, min(study.retrain_top, ok), study.retrain_seeds, factor, recipe)
    if not work:
        return []
    statuses = run_planned(work, address=study.address, progress=progress, data=data)
    return [
        f"{s.name}: {s.remaining + s.failed} re-run(s) did not finish ok" for s in statuses if s.remaining or s.failed
    ]


def _report_and_export(
    usable: list[tuple[SweepConfig, int]], study: Study, notes: list[str]
) -> tuple[Report | None, dict[str, Path], dict[str, Any] | None, str | None]:
    """The report, the exports and the fidelity gate's warning of the usable sweeps (config, models ok), their
    results read once for all."""
    from analysis.load import load_sweeps

    if not usable:
        return None, {}, None, _gate(study, [], None)
    dirs = [c.out_dir for c, _ in usable]
    loaded = load_sweeps(dirs)
    report = _report(loaded, Path(study.out) / "report", study.seed, notes)
    exports, best = _export(usable, study.top, Path(study.out) / "configs", notes, loaded)
    return report, exports, best, _gate(study, dirs, loaded)


def _gate(study: Study, dirs: list[Path], loaded: Sweeps | None) -> str | None:
    """The fidelity gate (None without min_fidelity or a fidelity check): a WARNING line when the brief budget's
    within-space Spearman correlation is not shown to reach min_fidelity, also when it could not be measured."""
    from analysis.fidelity import analyse, gate, load_fidelity
    from analysis.stats import AnalysisError

    if study.min_fidelity is None or not study.fidelity:
        return None
    failed = f"WARNING: the fidelity check cannot pass --min-fidelity {study.min_fidelity:g}"
    if loaded is None:
        return f"{failed}: no sweep has two models finished ok"
    try:
        models = load_fidelity(dirs, loaded.names, study.fidelity_factor, loaded.frame)
        return gate(analyse(models, seed=study.seed), study.min_fidelity)
    except AnalysisError as e:
        return f"{failed}: {e}"


def check_gate(study: Study) -> None:
    """Raise, naming the flag, unless the fidelity gate is asked for as it can work: --min-fidelity a correlation
    in [-1, 1] with a fidelity check, --strict only with it (or with the user's own images, which it also holds
    to: an unreadable one stops the study)."""
    from analysis.fidelity import check_gate as check
    from sweeps import is_path

    check(study.min_fidelity, study.strict and not is_path(study.dataset))
    if study.min_fidelity is not None and not study.fidelity:
        raise StudyError("--min-fidelity: needs the fidelity check; give --fidelity K (K of 3 or more)")


def _report(sweeps: Sweeps, out: Path, seed: int, notes: list[str]) -> Report:
    """The compare report, flops-normalized too where the sweeps share a complexity range that each fills, and
    latency-normalized beside it where every model's latency was measured (sweeps.measure) alike; a note says
    why a normalization was left out."""
    from analysis.report import compare, unsupported

    reasons = {metric: unsupported(sweeps, metric) for metric in ("flops", "latency")}
    for metric, reason in reasons.items():
        if reason is not None:
            hint = "; a larger --n fills the shared flops range better" if metric == "flops" else ""
            notes.append(f"report without the {metric}-normalized EDF ({reason}){hint}")
    metrics = [metric for metric, reason in reasons.items() if reason is None]
    return compare(sweeps, out, normalize=metrics, seed=seed)


def _export(
    sweeps: list[tuple[SweepConfig, int]], top: int, folder: Path, notes: list[str], loaded: Sweeps | None = None
) -> tuple[dict[str, Path], dict[str, Any] | None]:
    """Each sweep's `top` models (of its `ok` ones) as RegNet configs, anynet yaml and pycls yaml, ranked by their
    re-trained mean error where the sweep has re-trained models (analysis.retrain), else by the brief one; a model
    without a valid RegNet form is noted and skipped. `loaded`: the sweeps already loaded, in the order of
    `sweeps`."""
    from analysis.export import regnet_config, render, top_models
    from analysis.stats import AnalysisError

    from analysis.retrain import load_retrain

    names = loaded.names if loaded else [c.name for c, _ in sweeps]
    retrained = load_retrain([c.out_dir for c, _ in sweeps], names, loaded.frame if loaded else None)
    exports, best = {}, None
    for i, (config, ok) in enumerate(sweeps):
        rows = top_models(
            config.out_dir,
            min(top, ok),
            loaded.ok[loaded.ok.sweep == names[i]] if loaded else None,
            retrained[retrained.sweep == names[i]],
        )
        found = []
        for _, row in rows.iterrows():
            try:
                found.append(regnet_config(row))
            except AnalysisError as e:
                notes.append(f"{config.name}: not exported: {e}")
        if not found:
            continue
        path = folder / f"{config.name}.yaml"
        write_text_atomic(path, render(found, "yaml"))
        write_text_atomic(path.with_suffix(".pycls.yaml"), render(found, "pycls"))
        exports[config.name] = path
        if best is None or found[0]["ranked_by"]["error"] < best["ranked_by"]["error"]:
            best = found[0]
    return exports, best
