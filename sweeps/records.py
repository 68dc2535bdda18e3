"""The typed records a sweep carries from the sampler to the report, each with its one form on disk.

    PlanRow       one planned model (plan.jsonl): id, space, spec, complexity, the recipe fields drawn for it
    TrainResult   what one brief training run gives (the record's `result`), its measurement included
    Measurement   how fast the trained model runs and how much memory it trains in (sweeps.measure)
    Record        one finished model (results.jsonl): its plan row, status, attempts, result and provenance

The spec is an AnyNetSpec in memory and its dict on disk; the complexity is counted once, by the sampler, and
carried. MEASURED (the measurement's fields) is the one list of measured keys: TrainResult's fields, the record's and
sweeps.load_results's columns all come from it. No torch here: the store, the analysis and the trainer all read
these. Folders written before a field existed still load: a missing field reads as its default.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from anynet.counting import Complexity
from anynet.spec import AnyNetSpec


@dataclass
class Measurement:
    """Measured after training when asked (sweeps.measure, whose docstring says how); None when not measured."""

    latency_ms: float | None = None  # batch 1, the BN-folded eval model
    latency_batch: int | None = None
    throughput_ips: float | None = None  # images/s at throughput_batch
    throughput_batch: int | None = None
    memory_mb: float | None = None  # peak memory of one training step at memory_batch, by memory_method
    memory_method: str | None = None
    memory_batch: int | None = None
    measure_device: str | None = None
    measure_threads: int | None = None
    measure_model: str | None = None
    measure_runs: list[int] | None = None  # timed runs: [latency, throughput]
    measure_s: float | None = None  # seconds the measurement took (not part of the training's seconds)


MEASURED = tuple(f.name for f in fields(Measurement))
MEASURED_TEXT = ("memory_method", "measure_device", "measure_model", "measure_runs")  # not numbers
MEASURED_NUMBERS = tuple(k for k in MEASURED if k not in MEASURED_TEXT)


@dataclass(kw_only=True)
class TrainResult(Measurement):
    """What one brief training run gives. error and val_error are top-1 percentages. The model's complexity is not
    here: it is its plan row's (a record's), counted once, by the sampler (a record written before this kept a copy
    in its result, read past)."""

    status: str  # ok, diverged or failed
    error: float | None
    val_error: float | None
    train_loss: float | None
    epochs: list[dict[str, Any]]
    images: int
    steps: int
    train_size: int  # training images the run drew from (an epoch)
    seconds: float
    train_seconds: float
    images_per_s: float
    seed: int
    device: str
    threads: int
    message: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    measure_error: str | None = None  # why a model that trained ok has no measurement

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON; a non-finite loss (a diverged run) becomes None."""
        return _finite(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        """A result as a record holds it; a field it lacks (written before anynet had it) reads as its default, or
        None where it has none (an empty list for epochs)."""
        return cls(**{**_RESULT_REQUIRED, "epochs": [], **{k: v for k, v in data.items() if k in _RESULT_FIELDS}})

    @property
    def selected_error(self) -> float | None:
        """The error a model is selected on: the validation error where the run had a split (never the test set's
        then), else the test error."""
        return self.val_error if self.val_error is not None else self.error

    def measurement(self) -> Measurement:
        """The result's measurement alone (all None where the model was not measured)."""
        return Measurement(**{k: getattr(self, k) for k in MEASURED})


_RESULT_FIELDS = {f.name for f in fields(TrainResult)}
_RESULT_REQUIRED = {f.name: None for f in fields(TrainResult) if f.default is MISSING and f.default_factory is MISSING}

# The result's columns of sweeps.load_results, in order: the errors, the training's size and speed, the measurement.
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


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@dataclass(frozen=True)
class PlanRow:
    """One planned model: its id in the sweep, the space it was drawn from, its spec and complexity, and the recipe
    fields the space drew for it (lr, weight_decay; empty where it draws none), which override the sweep's."""

    id: int
    space: str | None
    spec: AnyNetSpec
    complexity: Complexity
    recipe: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The row as plan.jsonl holds it: id, space, spec, flops, params, acts, and recipe where drawn."""
        out = {"id": self.id, "space": self.space, "spec": self.spec.to_dict(), **self.complexity._asdict()}
        return {**out, "recipe": self.recipe} if self.recipe else out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanRow:
        return cls(
            id=data["id"],
            space=data.get("space"),
            spec=AnyNetSpec.from_dict(data["spec"]),
            complexity=Complexity(data["flops"], data["params"], data["acts"]),
            recipe=data.get("recipe") or {},
        )


@dataclass(frozen=True)
class Record:
    """One model's record in results.jsonl: its plan row, how its training ended (status ok or failed, the message
    of the last failure, attempts, each failure's message, the last attempt's seed), its result (None where no
    attempt gave one) and where and when it ran."""

    row: PlanRow
    status: str
    message: str = ""
    attempts: int | None = None
    failures: list[str] = field(default_factory=list)
    seed: int | None = None
    result: TrainResult | None = None
    wall_s: float | None = None
    node: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    worker: str | None = None  # the Tune trial that trained it

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def final(self) -> bool:
        """Finished for good: a model with such a record is never trained again."""
        return self.status in FINAL

    def to_dict(self) -> dict[str, Any]:
        """The record as results.jsonl holds it: the plan row's fields (its space left out), then the rest."""
        planned = {k: v for k, v in self.row.to_dict().items() if k != "space"}
        result = None if self.result is None else self.result.to_dict()
        rest = {name: getattr(self, name) for name in _RECORD_FIELDS}
        return {**planned, **rest, "result": result}

    @classmethod
    def from_dict(cls, data: dict[str, Any], row: PlanRow | None = None) -> Record:
        """A record as results.jsonl holds it, with its plan row where known (a record does not repeat the row's
        space, and its spec need not be parsed twice); else the row as the record has it, without a space."""
        result = data.get("result")
        return cls(
            row=row if row is not None else PlanRow.from_dict({**data, "space": None}),
            result=None if result is None else TrainResult.from_dict(result),
            **{k: v for k, v in data.items() if k in _RECORD_FIELDS},
        )


_RECORD_FIELDS = tuple(f.name for f in fields(Record) if f.name not in ("row", "result"))
FINAL = ("ok", "failed")
