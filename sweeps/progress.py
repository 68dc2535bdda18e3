"""The live line of a running sweep: models done of planned, ok / failed / running, models per hour and ETA."""

from __future__ import annotations

import time
from typing import Any

from tqdm import tqdm


class Progress:
    """A tqdm bar over the sweep's planned models, starting from those already finished."""

    def __init__(self, total: int, done: int, running: int, enabled: bool = True, name: str = "") -> None:
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
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
        )
        self._show()

    def update(self, record: dict[str, Any]) -> None:
        if record["status"] == "ok":
            self.ok += 1
        else:
            self.failed += 1
        self.running = min(self.running, self.total - self.bar.n - 1)
        self._show(refresh=False)
        self.bar.update(1)

    def _show(self, refresh: bool = True) -> None:
        finished = self.ok + self.failed
        hours = (time.perf_counter() - self.started) / 3600
        rate = f", {finished / hours:,.0f} models/h" if finished and hours > 0 else ""
        postfix = f"ok {self.ok}, failed {self.failed}, running {max(self.running, 0)}{rate}"
        self.bar.set_postfix_str(postfix, refresh=refresh)

    def close(self) -> None:
        self.bar.close()
