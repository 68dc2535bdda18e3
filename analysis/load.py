"""Sweep folders into one table: one row per recorded model, a `sweep` column naming its sweep."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.stats import AnalysisError
from sweeps import Recipe, SweepFolder, load_results

# Columns that describe a model's shape, in the order plots show them (those present in a sweep are used).
SHAPE = [
    "d",
    "d1",
    "d2",
    "d3",
    "d4",
    "w1",
    "w2",
    "w3",
    "w4",
    "b",
    "b1",
    "b2",
    "b3",
    "b4",
    "g",
    "g1",
    "g2",
    "g3",
    "g4",
    "w0",
    "wa",
    "wm",
]


@dataclass(frozen=True)
class Sweeps:
    """Every recorded model of the compared sweeps (`frame`), and the ok ones the statistics use (`ok`)."""

    frame: pd.DataFrame
    names: list[str]
    recipes: dict[str, str]  # sweep name -> its recipe in words
    paths: list[Path]  # the sweep folders, in the order of names

    def by_recipe(self) -> dict[str, list[str]]:
        """The sweeps grouped by their recipe (in words)."""
        groups: dict[str, list[str]] = {}
        for name in self.names:
            groups.setdefault(self.recipes[name], []).append(name)
        return groups

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
    """Read the sweep folders (possibly still running: what is recorded so far), each one's sweep.yaml once. Names
    default to each sweep's own (made unique)."""
    if names is not None and len(names) != len(dirs):
        raise AnalysisError(f"--names: {len(names)} names for {len(dirs)} sweep folders")
    frames, labels, recipes = [], [], {}
    for i, d in enumerate(dirs):
        settings = SweepFolder(d).settings()
        label = names[i] if names else settings.get("name", Path(d).name)
        label = f"{label} ({i + 1})" if label in labels else label
        frame = load_results(d)
        if frame.empty:
            raise AnalysisError(f"{d}: no finished models recorded yet")
        frames.append(frame.assign(sweep=label))
        labels.append(label)
        recipe = settings.get("config", {}).get("recipe")
        recipes[label] = Recipe.from_dict(recipe).describe() if recipe else "an unrecorded recipe"
    return Sweeps(pd.concat(frames, ignore_index=True), labels, recipes, [Path(d) for d in dirs])
