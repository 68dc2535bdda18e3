"""The queue of a Tune run's models, kept by one small Ray actor that the driver and the workers share.

One Tune run may train the models of several sweeps: an item is (sweep, model id, attempt), the sweep being its
index in the run. It imports nothing heavy: its actor process should start in a blink and stay off the CPU the
trials use."""

from __future__ import annotations

from collections import Counter, deque

Item = tuple[int, int, int]  # (sweep, model id, attempt)


class Dispatcher:
    """Hands out (sweep, model id, attempt) items to workers and takes back the model of a worker that died."""

    def __init__(self, models: list[tuple[int, int]], attempts: list[int]) -> None:
        """`models`: (sweep, model id) pairs in the order to train them; `attempts`: each sweep's attempts."""
        self.queue: deque[Item] = deque((sweep, i, 1) for sweep, i in models)
        self.attempts = attempts
        self.running: dict[str, Item] = {}

    def take(self, worker: str) -> Item | str | None:
        """The next model, 'wait' while others still run (a failure may come back), None when all is done."""
        if self.queue:
            self.running[worker] = self.queue.popleft()
            return self.running[worker]
        return "wait" if self.running else None

    def attempt(self, worker: str, sweep: int, model_id: int, attempt: int) -> None:
        self.running[worker] = (sweep, model_id, attempt)

    def finish(self, worker: str, sweep: int, model_id: int) -> None:
        if self.running.get(worker, (None, None))[:2] == (sweep, model_id):
            del self.running[worker]

    def lost(self, worker: str) -> Item | None:
        """The worker's process died: its model runs again with the next attempt, or, out of attempts, is
        returned for the driver to record as failed."""
        item = self.running.pop(worker, None)
        if item is None:
            return None
        sweep, model_id, attempt = item
        if attempt < self.attempts[sweep]:
            self.queue.appendleft((sweep, model_id, attempt + 1))
            return None
        return item

    def busy(self) -> dict[int, int]:
        """How many models of each sweep are being trained now."""
        return dict(Counter(sweep for sweep, _, _ in self.running.values()))
