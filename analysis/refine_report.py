"""The report of a refinement (`anynet refine`): <out>/report/report.html, self-contained, with its PNGs beside it.

Per round, what the paper looked at before proposing a constraint (its Figs. 7-8) on the round's parent space: the
error against each parameter's ratio between neighbouring stages (w2/w1, d3/d2, ...; 1: equal stages), the
per-stage values of the best quarter of the models, and the bootstrap ranges of the best model of a random quarter
(its footnote 4), with each candidate's evidence in words beside the test that decided it; then the EDFs of the
parent and its best child, and at the end the refined space, sampled afresh, against the other spaces. The report
reads the refinement's files (refine.jsonl, refine-compare.jsonl, the sweep folders), so it can be redrawn at any
time."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import plots
from analysis.report import CSS, _img
from analysis.stats import AnalysisError, Bootstrap, bootstrap_best
from anynet.files import write_text_atomic
from sweeps import load_results

PARAMS = ("d", "w", "b", "g")  # per-stage parameters with a column per stage (d1, w1, ...) in a sweep's records
RANGES = "best model of a random quarter of the parent's models (bootstrap, 2.5-97.5%)"


def ratio(p: str, i: int) -> str:
    """The column of parameter p's ratio between stage i + 1 and stage i: 'w2/w1'."""
    return f"{p}{i + 1}/{p}{i}"


def ok_errors(sweep: str | Path) -> np.ndarray:
    """The errors of a sweep's models that trained ok, in record order."""
    frame = load_results(sweep)
    return frame.loc[frame.status == "ok", "error"].to_numpy(dtype=float)


def parent_frame(sweep: Path) -> tuple[pd.DataFrame, list[str], int]:
    """The parent sweep's models that trained ok, with a ratio column per parameter and neighbouring stages; the
    per-stage parameters it has, and its stages."""
    frame = load_results(sweep)
    frame = frame[(frame.status == "ok") & frame.error.notna()].copy()
    if frame.empty:
        raise AnalysisError(f"{sweep}: no model trained ok")
    stages = int(frame.stages.max())
    params = [p for p in PARAMS if all(f"{p}{i}" in frame for i in range(1, stages + 1))]
    for p in params:
        for i in range(1, stages):
            frame[ratio(p, i)] = frame[f"{p}{i + 1}"].astype(float) / frame[f"{p}{i}"].astype(float)
    return frame, params, stages


def evidence(constraint: dict[str, Any], ranges: pd.DataFrame, stages: int) -> str:
    """What the bootstrap ranges of the best of a random quarter say about a constraint, in words: for 'shared p'
    and 'p non-decreasing' the ranges of p's ratios between neighbouring stages (shared: 1 inside each; ordered: at
    or above 1), for 'p = v' and 'p in [lo, hi]' the ranges of p by stage; 'regnet' has no such trend."""
    kind, p = constraint["kind"], constraint.get("param")
    if kind in ("share", "order"):
        columns = [ratio(p, i) for i in range(1, stages)]
    elif kind in ("fix", "narrow"):
        columns = [f"{p}{i}" for i in range(1, stages + 1)]
    else:
        return "the quantized linear rule: judged by its test alone"
    if not all(c in ranges.index for c in columns):
        return f"no per-stage records of {p}"
    found = ranges.loc[columns]
    shown = ", ".join(f"{c} {r.low:.3g}-{r.high:.3g}" for c, r in found.iterrows())
    if kind == "share":
        inside = int(((found.low <= 1) & (found.high >= 1)).sum())
        said = f"1 inside {inside} of {len(found)} ranges"
    elif kind == "order":
        said = f"median at or above 1 in {int((found['median'] >= 1).sum())} of {len(found)}"
    elif kind == "fix":
        v = constraint["value"]
        said = f"{v:g} inside {int(((found.low <= v) & (found.high >= v)).sum())} of {len(found)} ranges"
    else:
        lo, hi = constraint["low"], constraint["high"]
        said = f"{int(((found.low >= lo) & (found.high <= hi)).sum())} of {len(found)} ranges inside [{lo:g}, {hi:g}]"
    return f"{shown}: {said}"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a refinement file (none where it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_report(out: str | Path, seed: int = 0) -> Path:
    """Draw <out>/report/report.html from the refinement in <out>; returns its path."""
    out = Path(out)
    rows = read_rows(out / "refine.jsonl")
    if not rows:
        raise AnalysisError(f"{out}: no refine.jsonl; run anynet refine --out {out} first")
    comparison = read_rows(out / "refine-compare.jsonl")
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>anynet refine: {html.escape(rows[0]['parent'])}</title>",
        f"<style>{CSS}</style><h1>Refinement of {html.escape(rows[0]['parent'])}</h1>",
        _path_html(rows),
    ]
    for r in sorted({row["round"] for row in rows}):
        parts += _round_html(out, folder, [row for row in rows if row["round"] == r], seed)
    if comparison:
        parts += _comparison_html(out, folder, comparison)
    path = folder / "report.html"
    write_text_atomic(path, "\n".join(parts))
    return path


def _path_html(rows: list[dict[str, Any]]) -> str:
    """The path in a table: a row a round, the accepted constraint (or none), sizes and mean errors."""
    table = []
    for r in sorted({row["round"] for row in rows}):
        these = [row for row in rows if row["round"] == r]
        kept = [row for row in these if row["decision"] == "accepted"]
        first = kept[0] if kept else these[0]
        table.append(
            {
                "round": r,
                "parent": first["parent"],
                "candidates": len(these),
                "accepted": kept[0]["constraint"] if kept else "none",
                "size (log10)": f"{first['parent_log10_size']:.2f} to {first['child_log10_size']:.2f}"
                if kept
                else f"{first['parent_log10_size']:.2f}",
                "mean error": f"{first['parent_mean']:.2f}% to {first['child_mean']:.2f}%"
                if kept
                else f"{first['parent_mean']:.2f}%",
            }
        )
    n, margin = rows[0]["parent_n"], rows[0]["margin"]
    words = (
        f"<p>Each round trains every candidate child at the parent's band, budget and recipe ({n} models a space) "
        f"and keeps the child of lowest mean error among those shown no worse than the parent by {margin:g} "
        f"point{'' if margin == 1 else 's'} "
        "(a one-sided non-inferiority test, Holm over the round). The evidence column is what the paper looked at "
        f"before proposing a constraint: the {RANGES}, of each parameter's ratio between neighbouring stages or of "
        "its value by stage. It motivates a candidate; the test decides it.</p>"
    )
    return "<h2>The path</h2>" + words + pd.DataFrame(table).to_html(index=False)


def _round_html(out: Path, folder: Path, rows: list[dict[str, Any]], seed: int) -> list[str]:
    r, parent = rows[0]["round"], rows[0]["parent"]
    frame, params, stages = parent_frame(out / "sweeps" / parent)
    ratios = [[ratio(p, i) for i in range(1, stages)] for p in params]
    columns = [f"{p}{i}" for p in params for i in range(1, stages + 1)] + [c for row in ratios for c in row]
    boot: Bootstrap = bootstrap_best(frame, columns, seed=seed)
    table = pd.DataFrame(
        {
            "constraint": row["constraint"],
            "evidence (best of a random quarter)": evidence(row["constraint_dict"], boot.ranges, stages),
            "child mean error": f"{row['child_mean']:.2f}%",
            "difference": f"{row['difference']:+.2f}",
            "p worse, Holm": f"{row['p_worse_holm']:.3g}",
            "p better": f"{row['p_better']:.3g}",
            "decision": row["decision"],
        }
        for row in rows
    )
    top = max(3, len(frame) // 4)
    figures = [
        plots.ratios_plot(
            frame, ratios, boot, folder / f"r{r}_ratios.png", f"round {r}: {parent}, error vs ratio between stages"
        )
        if stages > 1
        else None,
        plots.stages_plot(
            frame, params, stages, folder / f"r{r}_stages.png", f"round {r}: {parent}, the best {top} by stage", top
        ),
        plots.edf_plot(_round_curves(out, rows, frame), folder / f"r{r}_edf.png", f"round {r}: error EDF"),
    ]
    return [
        f"<h2>Round {r}: {html.escape(parent)}</h2>",
        f"<p>{len(frame)} models of {html.escape(parent)}, mean error {frame.error.mean():.2f}%; sizes and the "
        "tests are in refine.md.</p>",
        table.to_html(index=False),
        *[_img(p) for p in figures if p is not None],
        f"<p>Ranges of the {RANGES}: median and 2.5%, 97.5% percentiles.</p>",
        boot.ranges.to_html(float_format=lambda v: f"{v:.3g}"),
    ]


def _round_curves(out: Path, rows: list[dict[str, Any]], frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, None]]:
    """The parent's errors and its accepted child's (or, where none was accepted, the child of lowest mean)."""
    chosen = [row for row in rows if row["decision"] == "accepted"] or [min(rows, key=lambda row: row["child_mean"])]
    errors = ok_errors(out / "sweeps" / chosen[0]["child"])
    label = f"{chosen[0]['constraint']} ({chosen[0]['decision']})"
    return {f"parent {rows[0]['parent']}": (frame.error.to_numpy(dtype=float), None), label: (errors, None)}


def _comparison_html(out: Path, folder: Path, comparison: list[dict[str, Any]]) -> list[str]:
    refined = comparison[0]["refined"]
    names = [refined] + [row["other"] for row in comparison]
    curves = {name: (ok_errors(out / "sweeps" / name), None) for name in names}
    figure = plots.edf_plot(curves, folder / "compare_edf.png", "the refined space (sampled afresh) and the others")
    table = pd.DataFrame(comparison)[["other", "other_n", "other_mean", "difference", "low", "high", "p", "p_holm"]]
    return [
        "<h2>The refined space against the others</h2>",
        f"<p>{html.escape(refined)}: the refined space's models sampled afresh with another seed (the loop's own "
        "models of the chosen child were picked for their low mean), against each space's models at the same band, "
        "budget and recipe; difference: refined minus the other, points, with its 95% interval; p one-sided in the "
        "observed direction, Holm over the comparisons.</p>",
        table.to_html(index=False, float_format=lambda v: f"{v:.3g}"),
        "<ul class='verdict'>" + "".join(f"<li>{html.escape(row['words'])}</li>" for row in comparison) + "</ul>",
        _img(figure),
    ]
