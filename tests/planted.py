"""Planted records for tests that need finished sweeps without training."""

import json
from dataclasses import replace
from typing import Any

from sweeps import PlanRow, Record, SweepFolder, TrainResult


def ok_record(row: PlanRow, status: str = "ok", **result: Any) -> Record:
    """A finished record of a plan row after one attempt, its result holding these fields (the others read as a
    record written before anynet had them does)."""
    return Record(row, status, attempts=1, result=TrainResult.from_dict(result) if result else None)


def with_result(record: Record, **result: Any) -> Record:
    """The record with its result replaced by one holding these fields."""
    return replace(record, result=TrainResult.from_dict(result))


def append_line(folder: SweepFolder, record: dict[str, Any]) -> None:
    """A record line written as it stands (a folder as an older anynet wrote it, or a planted partial record)."""
    folder.path.mkdir(parents=True, exist_ok=True)
    with open(folder.path / "results.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
