"""Seeded simulations, on the real code paths, of every p-value and interval anynet prints: the false-positive
rate of each test under a null, and the coverage of each 95% interval. `benchmarks/calibration.py` prints them all;
`tests/test_calibration_*.py` hold each to its target.

Each topic module (pairs, normalized, fidelity) exposes `checks(quick: bool, seed: int) -> list[Check]`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One simulated figure: `kind` is "false-positive rate", "coverage" or "power"; `value` was measured over
    `reps` seeded repetitions and should lie in [low, high]."""

    name: str
    kind: str
    value: float
    low: float
    high: float
    reps: int
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.low <= self.value <= self.high

    def line(self) -> str:
        verdict = "ok" if self.passed else "OUT OF TARGET"
        extra = f"; {self.detail}" if self.detail else ""
        return (
            f"{self.name}: {self.kind} {self.value:.3f} (target {self.low:g}-{self.high:g}, {self.reps} "
            f"repetitions{extra}) {verdict}"
        )
