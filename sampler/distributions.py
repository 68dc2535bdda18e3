"""Quantized distributions, drawn in numpy batches with pycls's conventions (pycls/sweep/random.py).

- uniform(low, high, q): f ~ U[low, high + q), floored to a multiple of q: each of low, low+q, ..., high alike.
- log_uniform(low, high, q): log f ~ U(log(low - q*), log(high)] with q* = min(q, low/2), ceiled to a multiple
  of q: P(v) proportional to log(v / (v - q)), so the CDF is linear in log v.
- power2(low, high): the powers of two in [low, high], each alike (log-uniform over them).
- power2_or_log_uniform(low, high, q): a power of two in [low, high] chosen alike; those >= q are replaced by a
  log_uniform(max(low, q), high, min(high, q)) draw (pycls's group-width sampler: powers of two below q,
  multiples of q above).
- choice(values): each value alike.
- log_uniform_real(low, high): log f ~ U[log(low), log(high)), not quantized (pycls's float_sampler with QUANTIZE
  1e-10, as its cifar_optim sweep draws lr and weight decay); for real-valued recipe fields, it has no pmf.

draw_ordered gives rows x_1 <= ... <= x_S from the conditional law of S independent draws given that order
(what drawing and rejecting gives), exactly and without rejection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from anynet.errors import SpecError

KINDS = ("uniform", "log_uniform", "power2", "power2_or_log_uniform", "choice", "log_uniform_real")


def _is_power2(x: float) -> bool:
    return x > 0 and math.log2(x).is_integer()


@dataclass(frozen=True)
class Distribution:
    """One parameter's distribution; `field` names it in errors (e.g. 'params.w')."""

    kind: str
    low: float | None = None
    high: float | None = None
    q: float = 1
    values: tuple[float, ...] | None = None
    field: str = "param"

    def __post_init__(self) -> None:
        f = self.field
        if self.kind not in KINDS:
            raise SpecError(f"{f}.dist: {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "choice":
            if not self.values or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in self.values):
                raise SpecError(f"{f}.values: must be a non-empty list of numbers, got {self.values!r}")
            object.__setattr__(self, "values", tuple(self.values))
            return
        for name in ("low", "high", "q"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SpecError(f"{f}.{name}: must be a number, got {v!r}")
        if not (self.q > 0 and self.low <= self.high):
            raise SpecError(f"{f}: needs q > 0 and low <= high, got low={self.low}, high={self.high}, q={self.q}")
        if self.kind != "uniform" and self.low <= 0:
            raise SpecError(f"{f}.low: must be > 0 for {self.kind}, got {self.low}")
        if self.kind == "log_uniform_real":
            return  # not quantized: q plays no part
        if self.kind in ("uniform", "log_uniform") and not (self._on_grid(self.low) and self._on_grid(self.high)):
            raise SpecError(f"{f}: low and high must be multiples of q={self.q}, got low={self.low}, high={self.high}")
        if self.kind == "power2" and not (_is_power2(self.low) and _is_power2(self.high)):
            raise SpecError(f"{f}: low and high must be powers of two for power2, got {self.low}, {self.high}")
        if self.kind == "power2_or_log_uniform" and not all(_is_power2(v) for v in (self.low, self.high, self.q)):
            raise SpecError(f"{f}: low, high and q must be powers of two, got {self.low}, {self.high}, {self.q}")

    def _on_grid(self, x: float) -> bool:
        k = x / self.q
        return abs(k - round(k)) < 1e-9

    def _from_grid(self, k: np.ndarray, q: float) -> np.ndarray:
        """k * q, exact for decimal steps such as 0.1 (k / 10 rather than k * 0.1), as pycls's Decimal does."""
        inv = 1 / q
        if q < 1 and abs(inv - round(inv)) < 1e-9:
            return k / round(inv)
        return k * q

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """`size` independent values."""
        if self.kind == "choice":
            return np.asarray(self.values)[rng.integers(len(self.values), size=size)]
        if self.kind == "uniform":
            return self._uniform(rng, size, self.low, self.high, self.q)
        if self.kind == "log_uniform":
            return self._log_uniform(rng, size, self.low, self.high, self.q)
        if self.kind == "power2":
            return self._power2(rng, size, self.low, self.high)
        if self.kind == "log_uniform_real":
            return np.exp(rng.uniform(np.log(self.low), np.log(self.high), size))
        f = self._power2(rng, size, self.low, self.high)
        above = self._log_uniform(rng, size, max(self.low, self.q), self.high, min(self.high, self.q))
        return np.where(f >= self.q, above, f)

    def _uniform(self, rng: np.random.Generator, size, low: float, high: float, q: float) -> np.ndarray:
        return self._from_grid(np.floor(rng.uniform(low, high + q, size) / q), q)

    def _log_uniform(self, rng: np.random.Generator, size, low: float, high: float, q: float) -> np.ndarray:
        f = np.exp(rng.uniform(np.log(low - min(q, low / 2)), np.log(high), size))
        return self._from_grid(np.clip(np.ceil(f / q), round(low / q), round(high / q)), q)

    @staticmethod
    def _power2(rng: np.random.Generator, size, low: float, high: float) -> np.ndarray:
        e = rng.integers(round(math.log2(low)), round(math.log2(high)) + 1, size)
        return np.exp2(e.astype(np.float64))

    @cached_property
    def support(self) -> tuple[np.ndarray, np.ndarray]:
        """The values in increasing order and their probabilities."""
        pmf = self.pmf()
        values = np.array(sorted(pmf))
        return values, np.array([pmf[v] for v in values])

    def draw_ordered(self, rng: np.random.Generator, size: int, stages: int) -> np.ndarray:
        """`size` rows of `stages` non-decreasing values, distributed as independent draws conditioned on order.

        With p_k the probability of the k-th value, F_1 = cumsum(p) and F_i = cumsum(p * F_{i-1}) weigh the
        ordered prefixes of length i ending at or below each value. The last value is drawn from F_S, then each
        earlier one, backwards, from F_i restricted to values at or below the one after it.
        """
        values, p = self.support
        cum = [np.cumsum(p)]
        for _ in range(stages - 1):
            cum.append(np.cumsum(p * cum[-1]))
        u = rng.random((size, stages))
        index = np.empty((size, stages), dtype=np.int64)
        k = np.full(size, len(values) - 1)
        for i in range(stages - 1, -1, -1):
            k = np.minimum(np.searchsorted(cum[i], u[:, i] * cum[i][k], side="right"), k)
            index[:, i] = k
        return values[index]

    def pmf(self) -> dict[float, float]:
        """The exact probability of every value (for goodness-of-fit tests and documentation)."""
        if self.kind == "log_uniform_real":
            raise SpecError(f"{self.field}: log_uniform_real is continuous; it has no probability per value")
        if self.kind == "choice":
            out: dict[float, float] = {}
            for v in self.values:
                out[v] = out.get(v, 0.0) + 1 / len(self.values)
            return out
        if self.kind == "uniform":
            ks = range(round(self.low / self.q), round(self.high / self.q) + 1)
            return {float(self._from_grid(np.float64(k), self.q)): 1 / len(ks) for k in ks}
        if self.kind == "log_uniform":
            return self._log_uniform_pmf(self.low, self.high, self.q)
        powers = [2.0**e for e in range(round(math.log2(self.low)), round(math.log2(self.high)) + 1)]
        if self.kind == "power2":
            return {p: 1 / len(powers) for p in powers}
        out = {p: 1 / len(powers) for p in powers if p < self.q}
        share = sum(p >= self.q for p in powers) / len(powers)
        for v, pr in self._log_uniform_pmf(max(self.low, self.q), self.high, min(self.high, self.q)).items():
            out[v] = out.get(v, 0.0) + share * pr
        return out

    def _log_uniform_pmf(self, low: float, high: float, q: float) -> dict[float, float]:
        floor = low - min(q, low / 2)
        span = math.log(high) - math.log(floor)
        out = {}
        for k in range(round(low / q), round(high / q) + 1):
            v = float(self._from_grid(np.float64(k), q))
            out[v] = (math.log(v) - math.log(max(v - q, floor))) / span
        return out
