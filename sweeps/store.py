"""A sweep folder: its settings, its plan of models, and its results, each record durable the moment it is written.

    sweep.yaml      the sweep's settings (rewritten atomically when n grows)
    data.yaml       the data it trains on: source, classes, counts, channels, resolution, mean/std (and a user's
                    files' fingerprint); written before its first model
    plan.jsonl      one line per planned model: id, spec, complexity (rewritten atomically when n grows)
    results.jsonl   one line per finished model, appended, flushed and fsynced as each one ends
    ray/            Ray Tune's own files, one folder per Tune run (in the first sweep's folder of a run)

A crash can leave at most a torn last line in results.jsonl; reading skips it (the model then runs again).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from anynet.files import write_jsonl, write_text_atomic
from sampler.frame import spec_row
from sweeps.config import SweepError
from sweeps.records import FINAL, MEASURED_NUMBERS, RESULT_COLUMNS, PlanRow, Record
from sweeps.table_cache import cached

SETTINGS, PLAN, RESULTS, DATA = "sweep.yaml", "plan.jsonl", "results.jsonl", "data.yaml"


class SweepFolder:
    """Reads and writes one sweep's folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return (self.path / SETTINGS).is_file()

    def settings(self) -> dict[str, Any]:
        try:
            return yaml.safe_load((self.path / SETTINGS).read_text())
        except OSError as e:
            raise SweepError(f"{self.path}: not a sweep folder (no readable {SETTINGS}: {e.strerror})") from None

    def write_settings(self, settings: dict[str, Any]) -> None:
        write_text_atomic(self.path / SETTINGS, yaml.safe_dump(settings, sort_keys=False))

    def data_record(self) -> dict[str, Any] | None:
        """The record of the data the sweep trained on (None before its first run, or in a folder from before
        anynet kept one)."""
        try:
            return yaml.safe_load((self.path / DATA).read_text())
        except FileNotFoundError:
            return None

    def write_data_record(self, record: dict[str, Any]) -> None:
        write_text_atomic(self.path / DATA, yaml.safe_dump(record, sort_keys=False))

    def plan(self) -> list[PlanRow]:
        """The planned models in id order (empty before the first run)."""
        return [PlanRow.from_dict(row) for row in _read_jsonl(self.path / PLAN)]

    def write_plan(self, rows: list[PlanRow]) -> None:
        write_jsonl([row.to_dict() for row in rows], self.path / PLAN)

    def plan_size(self) -> int:
        """How many models are planned (the plan's lines, read without their specs)."""
        return sum(1 for _ in _read_jsonl(self.path / PLAN))

    def records(self) -> list[Record]:
        """Every result record in the order written, each with its model's plan row (the record repeats the row's
        spec and complexity: they are read from the plan, once, where it has the model); a torn last line (a crash
        mid-write) is skipped."""
        rows = {row.id: row for row in self.plan()}
        return [Record.from_dict(r, rows.get(r["id"])) for r in _read_jsonl(self.path / RESULTS)]

    def latest(self) -> dict[int, Record]:
        """Each recorded model's last record, by id."""
        return {record.id: record for record in self.records()}

    def final_ids(self) -> set[int]:
        """Models that are finished for good (read without parsing their specs: a resume asks this of every
        folder)."""
        return {r["id"] for r in _read_jsonl(self.path / RESULTS) if r.get("status") in FINAL}

    def append(self, record: Record) -> None:
        """Append one record durably: written, flushed and fsynced before this returns."""
        self.path.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record.to_dict(), allow_nan=False) + "\n"
        with open(self.path / RESULTS, "a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                return  # a torn last line: the write it came from never finished
            raise SweepError(f"{path}: line {number} is not valid JSON") from None


def load_results(path: str | Path) -> pd.DataFrame:
    """One row per finished model of a sweep folder: id, status, the training result's errors and timings,
    attempts, wall time, node, then the spec's flat columns (d1.., w1.., b1.., g1.., w0/wa/wm for RegNets) and
    its complexity. The last record of a model wins. The `spec` column holds the AnyNetSpec. `error` is the
    error to select on: the validation error where the sweep has a split, else the test error (`test_error`).
    The measured columns (latency_ms, throughput_ips, memory_mb, ...: sweeps.measure) are NaN for a model that was
    not measured (a failed one, or one recorded before anynet measured models). A large folder's table is kept in
    the user's cache while its files are unchanged (sweeps.table_cache)."""
    folder = Path(path)
    return cached(folder, (PLAN, RESULTS), lambda: _read_results(folder))


def _read_results(folder: Path) -> pd.DataFrame:
    latest = SweepFolder(folder).latest()
    rows = []
    for model_id in sorted(latest):
        record = latest[model_id]
        result = record.result
        row = {"id": model_id, "status": record.status, "message": record.message}
        row.update({k: getattr(result, k) if result is not None else None for k in RESULT_COLUMNS})
        row["test_error"] = row["error"]
        row["error"] = None if result is None else result.selected_error
        row.update(
            attempts=record.attempts,
            wall_s=record.wall_s,
            node=record.node,
            seed=record.seed,
            finished_at=record.finished_at,
            space=record.row.space,
        )
        row.update(spec_row(record.row.spec, record.row.complexity))
        row.update(record.row.recipe)  # lr, weight_decay where the space draws them per model
        row["spec"] = record.row.spec
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not rows:
        frame = pd.DataFrame(
            columns=["id", "status", "message", *RESULT_COLUMNS, "test_error", "flops", "params", "acts", "spec"]
        )
    return frame.astype(dict.fromkeys(MEASURED_NUMBERS, float))
