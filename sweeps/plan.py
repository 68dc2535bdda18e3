"""A sweep's plan: the n models it trains (sampled, seeded, so a larger n keeps the smaller plan as its prefix),
written to its folder (a resumed or grown sweep checked against what the folder holds)."""

from __future__ import annotations

from sampler import sample
from sweeps.config import SweepConfig, SweepError, differences
from sweeps.records import PlanRow
from sweeps.store import SweepFolder


def sample_plan(config: SweepConfig) -> list[PlanRow]:
    """One row per model: id, space, spec and complexity (the sampler's count, carried from here on); and the
    recipe fields drawn for the model (lr, weight_decay), where the space draws them: they override the sweep's
    recipe for that model."""
    drawn = sample(config.space, config.n, config.seed, **config.bands)
    recipes = drawn.recipes or [{}] * len(drawn.specs)
    return [
        PlanRow(i, config.space.name, s, c, r or {})
        for i, (s, c, r) in enumerate(zip(drawn.specs, drawn.complexities, recipes))
    ]


def prepare(config: SweepConfig, folder: SweepFolder) -> tuple[SweepConfig, list[PlanRow]]:
    """Open (or start) the sweep's folder for this config: refuse a changed sweep, keep a grown one's old models.

    Returns the config to run (its n never below the folder's) and the plan, written to the folder first."""
    old_plan: list[PlanRow] = []
    if folder.exists():
        settings = folder.settings()
        changed = differences(settings.get("identity", {}), config.identity())
        if changed:
            raise SweepError(
                f"{folder.path} holds a different sweep; changed: {'; '.join(changed)}. Only n may grow: use "
                f"another out_dir (or name) for a new sweep"
            )
        old_plan = folder.plan()
        if config.n < len(old_plan):
            config = config.with_n(len(old_plan))
    plan = sample_plan(config)
    for old, new in zip(old_plan, plan):
        if old.spec != new.spec:
            raise SweepError(
                f"{folder.path}: sampling no longer reproduces model {old.id} of the plan (was the sampler or "
                f"the space changed?); the sweep cannot grow consistently"
            )
    folder.write_settings(
        {"name": config.name, "n": config.n, "identity": config.identity(), "config": config.to_dict()}
    )
    folder.write_plan(plan)
    return config, plan
