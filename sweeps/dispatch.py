"""The queue of a running sweep's models, kept by one small Ray actor that the driver and the workers share.

It imports nothing heavy: its actor process should start in a blink and stay off the CPU the trials use."""

from __future__ import annotations

from collections import deque


class Dispatcher:
    """Hands out (model id, attempt) pairs to workers and takes back the model of a worker that died."""

    def __init__(self, ids: list[int], attempts: int) -> None:
        self.queue = deque((i, 1) for i in ids)
        self.attempts = attempts
        self.running: dict[str, tuple[int, int]] = {}

    def take(self, worker: str) -> tuple[int, int] | str | None:
        """The next model, 'wait' while others still run (a failure may come back), None when all is done."""
        if self.queue:
            self.running[worker] = self.queue.popleft()
            return self.running[worker]
        return "wait" if self.running else None

    def attempt(self, worker: str, model_id: int, attempt: int) -> None:
        self.running[worker] = (model_id, attempt)

    def finish(self, worker: str, model_id: int) -> None:
        if self.running.get(worker, (None,))[0] == model_id:
            del self.running[worker]

    def lost(self, worker: str) -> tuple[int, int] | None:
        """The worker's process died: its model runs again with the next attempt, or, out of attempts, is
        returned for the driver to record as failed."""
        item = self.running.pop(worker, None)
        if item is None:
            return None
        model_id, attempt = item
        if attempt < self.attempts:
            self.queue.appendleft((model_id, attempt + 1))
            return None
        return item
