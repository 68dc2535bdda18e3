"""A design-space study, the paper's method end to end: one sweep per design space with one shared recipe, band
and dataset; then the compare report (EDFs, KS tests, bootstrap ranges, RegNet fits) and each sweep's best models
exported as RegNet configs.

A study folder holds study.yaml (what was asked), sweeps/<space>/ (ordinary sweep folders: durable, resumable,
growable), report/ (anynet compare's output) and configs/<space>.yaml and .pycls.yaml (anynet export's). Running
the same study again resumes it; a larger n grows every sweep; a changed recipe, band, seed or dataset is refused
by the sweep folders, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
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


def study_sweep(**settings: Any) -> SweepConfig:
    """The sweep every space of a study gets, from a sweep file's fields (n, seed, flops, recipe, dataset, images,
    val_split, resources, measure, max_concurrent, retries, address: sweeps.config), the study's defaults where
    not given (n DEFAULT_N, flops DEFAULT_FLOPS, recipe DEFAULT_RECIPE); validated as a sweep file is, so an error
    names the field. Each space's sweep is this one with its own name, space and folder (sweep_configs)."""
    from sweeps import sweep_from_dict

    defaults = {"n": DEFAULT_N, "flops": DEFAULT_FLOPS, "recipe": DEFAULT_RECIPE}
    try:
        return sweep_from_dict({**defaults, **settings}, template=True)
    except AnynetError as e:
        raise StudyError(str(e)) from None


@dataclass(frozen=True)
class Study:
    """What a study runs: `sweep`, the sweep every space gets (study_sweep: the recipe, band, n, seed, dataset and
    how to run), and what only a study has: its spaces, folder, exports and re-runs. Study.of takes them all as one
    set of fields."""

    spaces: tuple[str, ...] = DEFAULT_SPACES
    sweep: SweepConfig = field(default_factory=study_sweep)
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

    @classmethod
    def of(cls, **fields: Any) -> Study:
        """A study from one set of fields: a Study field as it is, any other a sweep file's field (study_sweep)."""
        own = {f.name for f in dataclass_fields(cls)} - {"sweep"}
        return cls(
            **{k: v for k, v in fields.items() if k in own},
            sweep=study_sweep(**{k: v for k, v in fields.items() if k not in own}),
        )


@dataclass(frozen=True)
class StudyResult:
    statuses: list[SweepStatus]  # per space
    report: Report | None  # None when no sweep had two models finished
    exports: dict[str, Path]  # sweep name -> its configs file (anynet yaml; a .pycls.yaml sits beside it)
    best: dict[str, Any] | None  # the exported config of the best model over all sweeps
    notes: list[str]  # what was left out of the report or the exports, and why
    gate: str | None = None  # the fidelity gate's WARNING line, when min_fidelity is set and not reached


def sweep_configs(study: Study, channels: int, classes: int, resolution: int) -> list[SweepConfig]:
    """The study's sweeps, one per space: its template with the space's name, space and folder. A space is made to
    take the dataset's images and classes; the paper's spaces named by alias are also set to its resolution (a
    user's images are decoded at it)."""
    check_spaces(study)
    configs: list[SweepConfig] = []
    for alias in study.spaces:
        space, overrides = space_overrides(alias, channels, classes, resolution)
        name = space.name.removesuffix("-small")
        if name in [c.name for c in configs]:
            raise StudyError(f"spaces: {alias} is given twice")
        configs.append(sweep_config(study, name, space.with_overrides(overrides) if overrides else space, resolution))
    return configs


def space_overrides(alias: str, channels: int, classes: int, resolution: int) -> tuple[DesignSpace, dict[str, Any]]:
    """A space named by alias (A .. E, regnetx, ...), name or YAML file, and the overrides that make it take the
    data's images and classes and, named by alias, its resolution (only those that change it)."""
    from sampler import get_space

    space = get_space(ALIASES.get(alias, alias))
    wanted = {"in_channels": channels, "num_classes": classes} | (
        {"resolution": resolution} if alias in ALIASES else {}
    )
    return space, {k: v for k, v in wanted.items() if getattr(space, k) != v}


def sweep_config(study: Study, name: str, space: DesignSpace, resolution: int) -> SweepConfig:
    """One space's sweep under the study's settings, in <out>/sweeps/<name>; `resolution` the data's (a user's
    images are decoded at it)."""
    sweep = study.sweep
    images = replace(sweep.images, resolution=resolution) if sweep.own_data else sweep.images
    return replace(sweep, name=name, space=space, out_dir=Path(study.out) / "sweeps" / name, images=images)


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
    data, resolution = study_data(study, progress)
    study, notes = fit_batch(study, training_images(study, data))
    return study, data, sweep_configs(study, data.in_channels, data.num_classes, resolution), notes


def training_images(study: Study, data: Dataset) -> int:
    """The images each model trains on: the training set, less the study's validation split."""
    n = len(data.train_y)
    split = study.sweep.val_split
    return n - (int(round(n * split)) if split else 0)


def fit_batch(study: Study, train_size: int) -> tuple[Study, list[str]]:
    """The study with each recipe's batch size (its own, the reference recipe's, the re-training recipe's) that is
    larger than the training set (the default 64 on a small folder of one's own images) lowered to the largest power
    of two at most half of it, so an epoch has two steps or more; and a note saying so."""
    batch = 2 ** max(0, (train_size // 2).bit_length() - 1)
    own = study.sweep.recipe.batch_size

    def fitted(recipe: dict[str, Any] | None) -> dict[str, Any] | None:
        if recipe is None or recipe.get("batch_size", own) <= train_size:
            return recipe
        return {**recipe, "batch_size": batch}

    changes = {"fidelity_recipe": fitted(study.fidelity_recipe), "retrain_recipe": fitted(study.retrain_recipe)}
    changed = {k: v for k, v in changes.items() if v is not getattr(study, k)}
    lowered = ["recipe"] * (own > train_size) + list(changed)
    if not lowered:
        return study, []
    if own > train_size:
        changed["sweep"] = replace(study.sweep, recipe=study.sweep.recipe.override({"batch_size": batch}))
    words = ", ".join(f"{k.replace('_', ' ')} {batch}" for k in lowered)
    note = f"batch sizes larger than the {train_size:,} training images lowered: {words}"
    return replace(study, **changed), [note]


def study_data(study: Study, progress: bool = False) -> tuple[Dataset, int]:
    """The study's dataset (found, fetched or decoded before any work: a user's images at the first space's
    resolution unless its images options give one) and the resolution its spaces take."""
    from sampler import get_space
    from sweeps import load_dataset

    check_spaces(study)
    sweep = study.sweep
    first = get_space(ALIASES.get(study.spaces[0], study.spaces[0]))
    data = load_dataset(
        sweep.dataset, sweep.data_dir, download=True, images=sweep.images, fallback=first.resolution, progress=progress
    )
    return data, sweep.images.resolution or data.resolution


def run_study(study: Study, progress: bool = True) -> StudyResult:
    """Run (or resume, or grow) every sweep of the study, then write its report and RegNet configs."""
    import yaml

    from sweeps import run_sweeps

    check_reruns(study)
    study, data, configs, fitted = _configs(study, progress)
    write_text_atomic(Path(study.out) / "study.yaml", yaml.safe_dump(study_record(study), sort_keys=False))
    statuses = run_sweeps(configs, address=study.sweep.address, progress=progress, data=data)
    notes = fitted + [
        f"{c.name}: only {s.ok} model(s) finished ok; left out of the report"
        for c, s in zip(configs, statuses)
        if s.ok < 2
    ]
    usable = [(c, s.ok) for c, s in zip(configs, statuses) if s.ok >= 2]
    notes += _reruns(study, usable, data, progress)
    report, exports, best, gate = _report_and_export(usable, study, notes)
    return StudyResult(statuses, report, exports, best, notes, gate)


def study_record(study: Study) -> dict[str, Any]:
    """What was asked, as plain data (study.yaml): the spaces, the sweep settings they share, the study's own."""
    shared = {k: v for k, v in study.sweep.to_dict().items() if k not in ("name", "space", "out_dir")}
    own = {f.name: getattr(study, f.name) for f in dataclass_fields(study) if f.name not in ("spaces", "sweep")}
    return {"spaces": list(study.spaces), **shared, **own, "out": str(study.out)}


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
    statuses = run_planned(work, address=study.sweep.address, progress=progress, data=data)
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
    report = _report(loaded, Path(study.out) / "report", study.sweep.seed, notes)
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
        return gate(analyse(models, seed=study.sweep.seed), study.min_fidelity)
    except AnalysisError as e:
        return f"{failed}: {e}"


def check_gate(study: Study) -> None:
    """Raise, naming the flag, unless the fidelity gate is asked for as it can work: --min-fidelity a correlation
    in [-1, 1] with a fidelity check, --strict only with it (or with the user's own images, which it also holds
    to: an unreadable one stops the study)."""
    from analysis.fidelity import check_gate as check

    check(study.min_fidelity, study.strict and not study.sweep.own_data)
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
