"""Best models chosen at a higher fidelity: each sweep's top models by brief error, trained again with several
seeds (sweeps.retrain), ranked by their mean retrained error for the study's best models and exports. The
comparison of the spaces keeps the brief errors of all models; only the selection changes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sweeps import SweepFolder, load_results, retrain_folders, retrain_run

COLUMNS = ["sweep", "id", "brief", "retrained", "spread", "seeds", "errors", "how"]
RECIPE_LABEL, BRIEF_LABEL = "the retrain recipe", "brief budget"
STAYED = 3  # the brief top-m that should stay in the retrained top-m: m = min(STAYED, retrained - 1)


@dataclass(frozen=True)
class Selection:
    """One space's choice: k models retrained (`seeds` the most ok seeds of one), `how`; the best by brief error
    among them (`brief_best`) and by retrained mean (`best`: its mean `error`, `spread` over its `best_seeds` ok
    seeds, and its `brief` error); `stayed` of the brief top-m in the retrained top-m (None below 2 retrained)."""

    k: int
    seeds: int
    how: str
    brief_best: int
    best: int
    error: float
    spread: float
    best_seeds: int
    brief: float
    m: int
    stayed: int | None


def load_retrain(dirs: list[str | Path], names: list[str], sources: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per model with an ok retrained error: sweep, id, brief (the sweep's error, %), retrained (the mean
    over its ok seeds), spread (max - min over them), seeds, errors (per seed), how (what the retrain was). A sweep
    with retrains of several kinds uses the one with the most seeds, then the largest factor. `sources`: the
    sweeps' results already loaded (a `sweep` column holding `names`), so their results are not read again."""
    frames = []
    for path, name in zip(dirs, names):
        kind = _kind(retrain_folders(path))
        if kind is None:
            continue
        how, folders = kind
        runs = pd.concat([_ok(load_results(f.path))[["id", "error"]] for f in folders], ignore_index=True)
        if runs.empty:
            continue
        source = load_results(path) if sources is None else sources[sources.sweep == name]
        brief = _ok(source)[["id", "error"]].rename(columns={"error": "brief"})
        errors = runs.groupby("id").error
        stats = errors.agg(["mean", "max", "min", "size"]).assign(errors=errors.agg(list))
        stats = stats.assign(retrained=stats["mean"], spread=stats["max"] - stats["min"], seeds=stats["size"])
        frames.append(brief.merge(stats.reset_index(), on="id").assign(sweep=name, how=how))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def _kind(folders: dict[str, SweepFolder]) -> tuple[str, list[SweepFolder]] | None:
    """The retrain a sweep's folders hold (its label, its folders in seed order): of several kinds, the one with
    the most folders, then the largest factor (a recipe's counting as 1); None without retrain folders."""
    kinds: dict[float | None, list[tuple[int, SweepFolder]]] = {}
    for name, folder in folders.items():
        run = retrain_run(name)
        if run is not None:
            kinds.setdefault(run[0], []).append((run[1], folder))
    if not kinds:
        return None
    factor = max(kinds, key=lambda f: (len(kinds[f]), f or 1))
    label = RECIPE_LABEL if factor is None else f"{factor:g}x the budget"
    return label, [folder for _, folder in sorted(kinds[factor], key=lambda item: item[0])]


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame.status == "ok") & frame.error.notna()]


def ranked(ok: pd.DataFrame, retrained: pd.DataFrame) -> pd.DataFrame:
    """One sweep's ok models (columns id, error, ...) best first for selection and export: the retrained ones (that
    sweep's rows of load_retrain) by their mean retrained error (ties: brief error), then the others by brief error.
    Added: ranked_error (the error ranked on), ranked_by ("retrained" or "brief"), spread and seeds (NaN and 0 for
    brief rows), how (the retrain, or "brief budget")."""
    extra = retrained.reindex(columns=["id", "retrained", "spread", "seeds", "how"])
    frame = ok.merge(extra.astype({"retrained": float, "spread": float, "seeds": float}), on="id", how="left")
    done = frame.retrained.notna()
    frame = frame.assign(
        ranked_error=frame.retrained.where(done, frame.error),
        ranked_by=np.where(done, "retrained", "brief"),
        seeds=frame.seeds.fillna(0).astype(int),
        how=frame.how.where(done, BRIEF_LABEL),
        brief_rows=~done,
    )
    order = frame.sort_values(["brief_rows", "ranked_error", "error", "id"], kind="stable")
    return order.drop(columns=["retrained", "brief_rows"]).reset_index(drop=True)


def selections(ok_all: pd.DataFrame, names: list[str], retrained: pd.DataFrame) -> dict[str, Selection]:
    """Per sweep with retrained models, its choice (Selection) from `ranked` over its ok models (ok_all: the ok rows
    of every sweep, a `sweep` column holding `names`)."""
    chosen = {}
    for name in names:
        order = ranked(ok_all[ok_all.sweep == name], retrained[retrained.sweep == name])
        top = order[order.ranked_by == "retrained"]
        if not top.empty:
            chosen[name] = _selection(top)
    return chosen


def _selection(top: pd.DataFrame) -> Selection:
    """The choice among a sweep's retrained models, `top` in ranked order."""
    by_brief = top.sort_values(["error", "id"], kind="stable")
    best, m = top.iloc[0], min(STAYED, len(top) - 1)
    return Selection(
        k=len(top),
        seeds=int(top.seeds.max()),
        how=best.how,
        brief_best=int(by_brief.id.iloc[0]),
        best=int(best.id),
        error=float(best.ranked_error),
        spread=float(best.spread),
        best_seeds=int(best.seeds),
        brief=float(best.error),
        m=m,
        stayed=len(set(by_brief.id[:m]) & set(top.id[:m])) if m >= 1 else None,
    )


def describe(chosen: dict[str, Selection]) -> list[str]:
    """A line saying what was done, then one per space: its best model and whether the brief top stayed on top."""
    if not chosen:
        return []
    hows = " or ".join(dict.fromkeys(f"{'under' if s.how == RECIPE_LABEL else 'at'} {s.how}" for s in chosen.values()))
    k, seeds = (_span([getattr(s, f) for s in chosen.values()]) for f in ("k", "seeds"))
    lines = [
        f"best models chosen {hows}: the top {k} of each space by brief error re-trained with {seeds} "
        f"seed{'' if seeds == '1' else 's'}; ranked by their mean error over the seeds"
    ]
    return lines + [_line(name, s) for name, s in chosen.items()]


def _span(values: list[int]) -> str:
    """8 where every space has 8, 4-8 where they differ."""
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def _line(name: str, s: Selection) -> str:
    seeds = f"mean of {s.best_seeds} seeds, spread {s.spread:.2f}" if s.best_seeds > 1 else "1 seed"
    line = f"{name}: best {name}-{s.best}, {s.error:.2f}% re-trained ({seeds}; brief {s.brief:.2f}%)"
    if s.stayed is None:
        return line
    if s.m == 1:
        return line + (
            "; the brief best stayed best" if s.stayed else f"; the brief best, {name}-{s.brief_best}, did not"
        )
    return line + f"; {s.stayed} of the brief top-{s.m} stayed in the re-trained top-{s.m}"
