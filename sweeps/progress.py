"""The live lines of running sweeps: per sweep, models done of planned, ok / failed / running, models per hour, ETA.

One Tune run may train several sweeps: each has its own line (a tqdm bar), stacked in the run's order."""

from __future__ import annotations

import time

from tqdm import tqdm

from sweeps.records import Record


class Progress:
    """A tqdm bar over one sweep's planned models, starting from those already finished."""

    def __init__(
        self, total: int, done: int, running: int, enabled: bool = True, name: str = "", position: int | None = None
    ) -> None:
        self.total, self.running = total, running
        self.ok = self.failed = 0
        self.started = time.perf_counter()
        self.bar = tqdm(
            total=total,
            initial=done,
            desc=name or None,
            unit="model",
            disable=not enabled,
            dynamic_ncols=True,
            position=position,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
        )
        self._show()

    def update(self, record: Record) -> None:
        if record.status == "ok":
            self.ok += 1
        else:
            self.failed += 1
        self.running = min(self.running, self.total - self.bar.n - 1)
        self._show(refresh=False)
        self.bar.update(1)

    def set_running(self, running: int) -> None:
        """How many of the sweep's models are being trained now (as the run's dispatcher counts them)."""
        running = min(running, self.total - self.bar.n)
        if running != self.running:
            self.running = running
            self._show()

    def _show(self, refresh: bool = True) -> None:
        finished = self.ok + self.failed
        hours = (time.perf_counter() - self.started) / 3600
        rate = f", {finished / hours:,.0f} models/h" if finished and hours > 0 else ""
        postfix = f"ok {self.ok}, failed {self.failed}, running {max(self.running, 0)}{rate}"
        self.bar.set_postfix_str(postfix, refresh=refresh)

    def close(self) -> None:
        self.bar.close()


class Bars:
    """One Progress line per sweep of a Tune run, in the run's order of sweeps."""

    def __init__(self, sweeps: list[tuple[str, int, int, int]], enabled: bool = True) -> None:
        """`sweeps`: (name, planned models, models finished before, models running at the start) of each."""
        self.enabled = enabled
        position = 0 if len(sweeps) > 1 else None
        self.bars = [
            Progress(total, done, running, enabled, name, None if position is None else position + k)
            for k, (name, total, done, running) in enumerate(sweeps)
        ]

    def __getitem__(self, sweep: int) -> Progress:
        return self.bars[sweep]

    def set_running(self, busy: dict[int, int]) -> None:
        """Each sweep's models in training now, by its index (a sweep not named has none)."""
        for k, bar in enumerate(self.bars):
            bar.set_running(busy.get(k, 0))

    def close(self) -> None:
        for bar in self.bars:
            bar.close()
