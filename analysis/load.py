"""Sweep folders into one table: one row per recorded model, a `sweep` column naming its sweep."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.stats import AnalysisError
from sweeps.store import SweepFolder, load_results

# Columns that describe a model's shape, in the order plots show them (those present in a sweep are used).
SHAPE = ["d", "d1", "d2", "d3", "d4", "w1", "w2", "w3", "w4", "b", "b1", "b2", "b3", "b4", "g", "g1", "g2", "g3",
         "g4", "w0", "wa", "wm"]  # fmt: skip


@dataclass(frozen=True)
class Sweeps:
    """Every recorded model of the compared sweeps (`frame`), and the ok ones the statistics use (`ok`)."""

    frame: pd.DataFrame
    names: list[str]

    @property
    def ok(self) -> pd.DataFrame:
        return self.frame[(self.frame.status == "ok") & self.frame.error.notna()]

    @property
    def excluded(self) -> pd.DataFrame:
        return self.frame[~self.frame.index.isin(self.ok.index)]

    def errors(self, name: str) -> pd.Series:
        return self.ok[self.ok.sweep == name].error

    def shape_columns(self, name: str) -> list[str]:
        """The shape parameters that vary in this sweep."""
        rows = self.ok[self.ok.sweep == name]
        return [c for c in SHAPE if c in rows and rows[c].notna().all() and rows[c].nunique() > 1]


def load_sweeps(dirs: list[str | Path], names: list[str] | None = None) -> Sweeps:
    """Read the sweep folders (possibly still running: what is recorded so far). Names default to each sweep's."""
    if names is not None and len(names) != len(dirs):
        raise AnalysisError(f"--names: {len(names)} names for {len(dirs)} sweep folders")
    frames, labels = [], []
    for i, d in enumerate(dirs):
        label = names[i] if names else SweepFolder(d).settings().get("name", Path(d).name)
        if label in labels:
            label = f"{label} ({i + 1})"
        frame = load_results(d)
        if frame.empty:
            raise AnalysisError(f"{d}: no finished models recorded yet")
        frames.append(frame.assign(sweep=label))
        labels.append(label)
    return Sweeps(pd.concat(frames, ignore_index=True), labels)
