"""Datasets, brief training, and sweeps on Ray Tune.

The names below are the package's public API, the only part of it that other packages (analysis, the CLI) import.
sweeps imports sampler and anynet, never analysis (ARCHITECTURE.md).

The names below load their modules on first use, so a process that needs one light module (Ray's dispatcher
actor imports sweeps.dispatch) does not pay for torch and Ray Tune."""

from anynet.lazy import lazy_exports

_EXPORTS = {
    "DataError": "sweeps.image_source",
    "ImageOptions": "sweeps.image_source",
    "is_path": "sweeps.image_source",
    "Dataset": "sweeps.data",
    "load_dataset": "sweeps.data",
    "spec_for_data": "sweeps.data",
    "synthetic": "sweeps.data",
    "Recipe": "sweeps.recipe",
    "RecipeError": "sweeps.recipe",
    "parse_recipe_spec": "sweeps.recipe",
    "TrainError": "sweeps.trainer",
    "TrainResult": "sweeps.records",
    "Measurement": "sweeps.records",
    "MEASURED": "sweeps.records",
    "PlanRow": "sweeps.records",
    "Record": "sweeps.records",
    "train": "sweeps.trainer",
    "Measure": "sweeps.measure",
    "MeasureError": "sweeps.measure",
    "Timing": "sweeps.measure",
    "time_model": "sweeps.measure",
    "SweepConfig": "sweeps.config",
    "SweepError": "sweeps.config",
    "load_sweep": "sweeps.config",
    "config_names": "sweeps.config",
    "sweep_from_dict": "sweeps.config",
    "SweepPlan": "sweeps.run",
    "SweepStatus": "sweeps.status",
    "plan_sweep": "sweeps.run",
    "run_sweep": "sweeps.run",
    "run_sweeps": "sweeps.run",
    "run_planned": "sweeps.run",
    "sweep_data": "sweeps.run",
    "sweep_status": "sweeps.status",
    "Estimate": "sweeps.cost",
    "estimate": "sweeps.cost",
    "sample_plan": "sweeps.plan",
    "RESEED": "sweeps.fidelity",
    "REFERENCE": "sweeps.fidelity",
    "long_name": "sweeps.fidelity",
    "fidelity_folders": "sweeps.fidelity",
    "run_fidelity": "sweeps.fidelity",
    "prepare_fidelity": "sweeps.fidelity",
    "retrain_name": "sweeps.retrain",
    "retrain_run": "sweeps.retrain",
    "retrain_folders": "sweeps.retrain",
    "run_retrain": "sweeps.retrain",
    "prepare_retrain": "sweeps.retrain",
    "SweepFolder": "sweeps.store",
    "load_results": "sweeps.store",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
