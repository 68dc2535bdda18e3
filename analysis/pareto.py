"""Design spaces by measured speed: each space's Pareto front (error against latency or flops), how many
milliseconds a space's models take per GFLOP on the measuring device, and what those figures rest on.

The measurements come from the sweep records (sweeps.measure): latency_ms is the batch-1 inference time of the
BN-folded eval model, the median of timed runs after a warm-up, on measure_device with measure_threads threads."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats import AnalysisError

# A normalize metric's column in the results frame.
COLUMNS = {"flops": "flops", "params": "params", "acts": "acts", "latency": "latency_ms", "memory": "memory_mb"}
MEASURED = ("latency", "memory")
UNITS = {"latency": "ms", "memory": "MiB"}


def figure(value: float) -> str:
    """3 significant digits without an exponent: 0.649, 12.3, 314, 1,130."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def pareto_mask(cost: np.ndarray, error: np.ndarray) -> np.ndarray:
    """True for the models on the Pareto front: no other model has a cost as low or lower and a lower error, or a
    lower cost and an error as low (ties in both: each is on it). NaN costs are never on it."""
    cost, error = np.asarray(cost, dtype=float), np.asarray(error, dtype=float)
    keep = np.zeros(len(cost), dtype=bool)
    best = np.inf
    order = np.lexsort((error, cost))  # by cost, then error
    last_cost = None
    last_error = None
    for i in order:
        if np.isnan(cost[i]) or np.isnan(error[i]):
            continue
        if error[i] < best or (cost[i] == last_cost and error[i] == last_error):
            keep[i] = True
            best, last_cost, last_error = min(best, error[i]), cost[i], error[i]
    return keep


def measured(frame: pd.DataFrame, column: str = "latency_ms") -> pd.DataFrame:
    """The rows with a measured `column`."""
    return frame[frame[column].notna()] if column in frame else frame.iloc[0:0]


def has_latency(frame: pd.DataFrame, names: list[str]) -> bool:
    """Whether every named sweep has at least one model with a measured latency."""
    rows = measured(frame)
    return bool(len(rows)) and all((rows.sweep == n).any() for n in names)


def measured_gap(frame: pd.DataFrame, names: list[str], metric: str) -> str | None:
    """Why the sweeps' measured `metric` (latency, memory) cannot be compared, in words, or None where it can: it
    must be there for every model compared, and latencies measured the same way (device, threads)."""
    column = COLUMNS[metric]
    for name in names:
        rows = frame[frame.sweep == name]
        missing = int(rows[column].isna().sum()) if column in rows else len(rows)
        if missing:
            return (
                f"{name} has no measured {metric} for {missing} of {len(rows)} models (recorded before anynet "
                "measured models, or measured with no success)"
            )
    if metric == "latency":
        ways = sorted(set(describe_ways(frame)))
        if len(ways) > 1:
            return f"the sweeps measured latency in different ways: {'; '.join(ways)}"
    return None


def check_measured(frame: pd.DataFrame, names: list[str], metric: str) -> None:
    """measured_gap as an AnalysisError naming the metric."""
    gap = measured_gap(frame, names, metric)
    if gap is not None:
        raise AnalysisError(f"normalize: {metric}: {gap}; normalize by flops, params or acts")


def describe_ways(frame: pd.DataFrame) -> list[str]:
    """Each latency-measured row's device and threads in words, e.g. 'cpu, 1 thread'."""
    rows = measured(frame)
    out = []
    for device, threads in zip(rows.measure_device, rows.measure_threads):
        threads = "" if pd.isna(threads) else f", {int(threads)} thread{'s' if threads != 1 else ''}"
        out.append(f"{device}{threads}")
    return out


def basis(frame: pd.DataFrame) -> str:
    """What the measured latencies rest on, in words."""
    ways = sorted(set(describe_ways(frame)))
    nodes = frame.node.dropna().nunique() if "node" in frame else 0
    where = f" on {nodes} machines (latencies from different machines compare only as far as they are alike)"
    return (
        f"latency: batch 1, median of timed runs after a warm-up, of the BN-folded eval model at each spec's "
        f"resolution, on {' and '.join(ways) or 'no device'}{where if nodes > 1 else ''}"
    )


def latency_per_flop(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per sweep: the median and quartiles of latency_ms per GFLOP over its measured models (n), and the median
    relative to the lowest sweep's (1.0: the fastest per multiply-add). Empty where nothing was measured."""
    rows = []
    for name in names:
        got = measured(frame[frame.sweep == name])
        if got.empty:
            continue
        per = got.latency_ms.to_numpy(dtype=float) / (got.flops.to_numpy(dtype=float) / 1e9)
        q1, median, q3 = np.percentile(per, [25, 50, 75])
        rows.append(
            {
                "sweep": name,
                "n": len(got),
                "ms_per_gflop": median,
                "ms_per_gflop_q1": q1,
                "ms_per_gflop_q3": q3,
                "median_latency_ms": float(got.latency_ms.median()),
                "median_throughput_ips": float(got.throughput_ips.median()),
                "throughput_batch": _one(got.throughput_batch),
                "median_memory_mb": float(got.memory_mb.median()),
                "memory_method": _one(got.memory_method),
                "memory_batch": _one(got.memory_batch),
                "measured_on": ", ".join(sorted(set(describe_ways(got)))),
            }
        )
    table = pd.DataFrame(rows)
    if len(table):
        table["relative"] = table.ms_per_gflop / table.ms_per_gflop.min()
    return table


def _one(values: pd.Series):
    """The single value of a column, or its distinct values joined with '/' where they differ."""
    distinct = sorted({v if isinstance(v, str) else int(v) for v in values.dropna()}, key=str)
    return distinct[0] if len(distinct) == 1 else "/".join(map(str, distinct))


def pareto_table(frame: pd.DataFrame, names: list[str], cost: str = "latency_ms") -> pd.DataFrame:
    """Each sweep's Pareto models, error against `cost` (latency_ms or flops), cheapest first: sweep, id, error,
    latency_ms, flops."""
    parts = []
    for name in names:
        rows = frame[frame.sweep == name]
        rows = rows[rows[cost].notna()]
        front = rows[pareto_mask(rows[cost].to_numpy(dtype=float), rows.error.to_numpy(dtype=float))]
        columns = ["sweep", "id", "error", "latency_ms", "flops"]
        parts.append(front.sort_values(cost)[[c for c in columns if c in front]])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["sweep", "id", "error"])


def speed_lines(frame: pd.DataFrame, names: list[str], per: pd.DataFrame) -> list[str]:
    """The speed figures in words: what they rest on, and each sweep's latency per GFLOP with n (`per`, from
    latency_per_flop(frame, names))."""
    if per.empty:
        return ["No latency was measured for these sweeps (recorded before anynet measured models)."]
    lines = [basis(frame) + "."]
    for _, row in per.iterrows():
        lines.append(
            f"{row.sweep}: median {figure(row.ms_per_gflop)} ms per GFLOP (quartiles {figure(row.ms_per_gflop_q1)}-"
            f"{figure(row.ms_per_gflop_q3)}, n={row.n}; {row.relative:.2f}x the lowest), median latency "
            f"{figure(row.median_latency_ms)} ms, throughput {row.median_throughput_ips:,.0f} images/s at batch "
            f"{row.throughput_batch}, training memory {figure(row.median_memory_mb)} MiB at batch {row.memory_batch} "
            f"({row.memory_method})"
        )
    got = measured(frame[frame.sweep.isin(names)])
    if "wall_s" in got and got.measure_s.notna().any() and got.wall_s.sum() > 0:
        spent, wall = float(got.measure_s.sum()), float(got.wall_s.sum())
        lines.append(
            f"Measuring took {spent:,.1f} s in all, {spent / wall:.1%} of these models' {wall:,.0f} s of trials."
        )
    missing = [n for n in names if n not in set(per.sweep)]
    if missing:
        lines.append(f"Not measured: {', '.join(missing)} (recorded before anynet measured models).")
    return lines
