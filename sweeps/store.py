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
from anynet.counting import Complexity
from anynet.spec import AnyNetSpec
from sampler.frame import spec_row
from sweeps.config import SweepError

SETTINGS, PLAN, RESULTS, DATA = "sweep.yaml", "plan.jsonl", "results.jsonl", "data.yaml"
FINAL = ("ok", "failed")  # a model with a record in one of these states is never trained again


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

    def plan(self) -> list[dict[str, Any]]:
        """The planned models in id order (empty before the first run)."""
        return list(_read_jsonl(self.path / PLAN))

    def write_plan(self, rows: list[dict[str, Any]]) -> None:
        write_jsonl(rows, self.path / PLAN)

    def records(self) -> list[dict[str, Any]]:
        """Every result record in the order written; a torn last line (a crash mid-write) is skipped."""
        return list(_read_jsonl(self.path / RESULTS))

    def latest(self) -> dict[int, dict[str, Any]]:
        """Each recorded model's last record, by id."""
        return {record["id"]: record for record in self.records()}

    def final_ids(self) -> set[int]:
        """Models that are finished for good."""
        return {r["id"] for r in self.records() if r.get("status") in FINAL}

    def append(self, record: dict[str, Any]) -> None:
        """Append one record durably: written, flushed and fsynced before this returns."""
        self.path.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, allow_nan=False) + "\n"
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


# Measured after training (sweeps.measure); NaN (or None) in records written before anynet measured them.
MEASURED = (
    "latency_ms",
    "throughput_ips",
    "throughput_batch",
    "memory_mb",
    "memory_method",
    "memory_batch",
    "measure_device",
    "measure_threads",
    "measure_s",
)
NUMERIC = tuple(k for k in MEASURED if k not in ("memory_method", "measure_device"))  # float columns, NaN if absent
RESULT_COLUMNS = (
    "error",
    "val_error",
    "train_loss",
    "images",
    "steps",
    "train_size",
    "train_seconds",
    "images_per_s",
    "device",
    "threads",
    *MEASURED,
)


def load_results(path: str | Path) -> pd.DataFrame:
    """One row per finished model of a sweep folder: id, status, the training result's errors and timings,
    attempts, wall time, node, then the spec's flat columns (d1.., w1.., b1.., g1.., w0/wa/wm for RegNets) and
    its complexity. The last record of a model wins. The `spec` column holds the AnyNetSpec. `error` is the
    error to select on: the validation error where the sweep has a split, else the test error (`test_error`).
    The measured columns (latency_ms, throughput_ips, memory_mb, ...: sweeps.measure) are NaN for a model that was
    not measured (a failed one, or one recorded before anynet measured models)."""
    folder = SweepFolder(path)
    plan = {row["id"]: row for row in folder.plan()}
    latest = folder.latest()
    rows = []
    for model_id in sorted(latest):
        record = latest[model_id]
        result = record.get("result") or {}
        spec = AnyNetSpec.from_dict(record["spec"])
        cx = Complexity(record["flops"], record["params"], record["acts"])
        row = {"id": model_id, "status": record["status"], "message": record.get("message", "")}
        row.update({k: result.get(k) for k in RESULT_COLUMNS})
        row["test_error"] = row["error"]
        if row["val_error"] is not None:  # a sweep with a validation split selects on it, never on the test set
            row["error"] = row["val_error"]
        row.update(
            attempts=record.get("attempts"),
            wall_s=record.get("wall_s"),
            node=record.get("node"),
            seed=record.get("seed"),
            finished_at=record.get("finished_at"),
            space=plan.get(model_id, {}).get("space"),
        )
        row.update(spec_row(spec, cx))
        row.update(record.get("recipe") or {})  # lr, weight_decay where the space draws them per model
        row["spec"] = spec
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not rows:
        frame = pd.DataFrame(
            columns=["id", "status", "message", *RESULT_COLUMNS, "test_error", "flops", "params", "acts", "spec"]
        )
    return frame.astype(dict.fromkeys(NUMERIC, float))
