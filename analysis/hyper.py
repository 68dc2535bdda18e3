"""Recipe hyperparameters drawn per model (a space's params.lr and params.weight_decay, as pycls's cifar_optim
sweep draws them): error against lr, against weight decay and against their product lr x wd, log x axes, one
colour per space. Models the sweep trained at its one recipe have no drawn values and are left out.

A frame's values are read from its `lr` and `weight_decay` columns, or else from its `recipe` column (the dict each
results record carries for such a model: {"lr": ..., "weight_decay": ...})."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

DPI = 100
SIZE = (720, 450)  # pixels, as analysis/plots.py's figures
HYPER = ("lr", "weight_decay")
AXES = {  # file stem -> (column, x label)
    "hyper_lr": ("lr", "lr: learning rate (at batch 128, before scaling and decay)"),
    "hyper_wd": ("weight_decay", "weight decay"),
    "hyper_lr_wd": ("lr_wd", "lr x weight decay"),
}


def hyper_values(frame: pd.DataFrame) -> pd.DataFrame:
    """The models that have drawn recipe values, with lr, weight_decay and lr_wd (their product) columns and
    error; empty when none has both."""
    out = frame.copy()
    if "recipe" in out:
        drawn = [r if isinstance(r, Mapping) else {} for r in out["recipe"]]
        for key in HYPER:
            values = pd.Series([r.get(key, np.nan) for r in drawn], index=out.index, dtype=float)
            out[key] = out[key].astype(float).fillna(values) if key in out else values
    if not all(key in out for key in HYPER) or "error" not in out:
        return out.iloc[:0].assign(lr=[], weight_decay=[], lr_wd=[])
    out = out[out.lr.notna() & out.weight_decay.notna() & out.error.notna()]
    out = out.assign(lr=out.lr.astype(float), weight_decay=out.weight_decay.astype(float))
    return out.assign(lr_wd=out.lr * out.weight_decay)


def hyper_figures(frame_by_space: Mapping[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """Three PNGs in out_dir (hyper_lr.png, hyper_wd.png, hyper_lr_wd.png): each space's models' error against
    lr, weight decay and lr x weight decay, log x axes, one colour per space. [] when no model has drawn values
    (nothing is written then). Only the ok models of each frame should be given (errors of failed ones are None)."""
    found = {name: hyper_values(frame) for name, frame in frame_by_space.items()}
    found = {name: rows for name, rows in found.items() if len(rows)}
    if not found:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, (column, label) in AXES.items():
        fig, ax = plt.subplots(figsize=(SIZE[0] / DPI, SIZE[1] / DPI), dpi=DPI)
        for i, (name, rows) in enumerate(found.items()):
            x, y = rows[column].to_numpy(), rows.error.to_numpy()
            ax.scatter(x, y, s=16, alpha=0.65, color=f"C{i}", label=f"{name} (n={len(rows)})")
            best = int(np.argmin(y))
            ax.scatter(x[best], y[best], s=80, facecolors="none", edgecolors=f"C{i}", linewidths=1.5)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("top-1 error (%)")
        ax.set_title(f"error vs {label.split(':')[0]} (each space's best model circled)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{stem}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        paths.append(path)
    return paths
