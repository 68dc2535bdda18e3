"""How a sweep folder stands: counts, the best model, throughput and grouped failures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sweeps.store import SweepFolder


@dataclass
class SweepStatus:
    """Counts, the best model so far, throughput and grouped failures of a sweep folder."""

    name: str
    planned: int
    ok: int
    failed: int
    remaining: int
    best_id: int | None = None
    best_error: float | None = None
    best_flops: int | None = None
    models_per_hour: float | None = None
    mean_wall_s: float | None = None
    failures: dict[str, list[int]] = field(default_factory=dict)


def sweep_status(path: str | Path) -> SweepStatus:
    """How a sweep folder stands (it may be running: this only reads)."""
    folder = SweepFolder(path)
    settings = folder.settings()
    latest = folder.latest()
    planned = folder.plan_size()
    ok = [r for r in latest.values() if r.status == "ok"]
    failed = [r for r in latest.values() if r.status == "failed"]
    status = SweepStatus(
        name=settings.get("name", str(path)),
        planned=planned,
        ok=len(ok),
        failed=len(failed),
        remaining=planned - len(ok) - len(failed),
    )
    scored = [r for r in ok if r.result is not None and r.result.error is not None]
    if scored:
        best = min(scored, key=lambda r: r.result.error)
        status.best_id, status.best_error, status.best_flops = best.id, best.result.error, best.row.complexity.flops
    walls = [r.wall_s for r in latest.values() if r.wall_s]
    if walls:
        status.mean_wall_s = sum(walls) / len(walls)
    times = sorted(datetime.fromisoformat(r.finished_at) for r in latest.values() if r.finished_at)
    if len(times) >= 2 and times[-1] > times[0]:
        status.models_per_hour = (len(times) - 1) / ((times[-1] - times[0]).total_seconds() / 3600)
    groups: dict[str, list[int]] = defaultdict(list)
    for r in sorted(failed, key=lambda r: r.id):
        groups[r.message or "no message"].append(r.id)
    status.failures = dict(groups)
    return status
