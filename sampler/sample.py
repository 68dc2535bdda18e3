"""Constrained sampling: n distinct specs from a design space inside complexity bands, seeded and fast."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from anynet.errors import AnynetError, SpecError
from anynet.counting import Complexity
from anynet.spec import AnyNetSpec
from anynet.validate import check_int, format_count
from sampler.builtin import get_space
from sampler.draw import draw_candidates
from sampler.frame import spec_row
from sampler.space import DesignSpace

if TYPE_CHECKING:
    import pandas as pd

BATCH = 1 << 14  # candidates per draw; fixed, so the stream of candidates does not depend on n
MAX_DRAWS = 50_000_000
PROJECT_AFTER = 1 << 21  # from here on, give up early when the acceptance rate cannot reach n in time
METRICS = ("flops", "params", "acts")

Band = tuple[float | None, float | None]


class SamplingError(AnynetError):
    """Too few specs fell inside the bands; `specs` holds those found, in order."""

    def __init__(self, message: str, specs: list[AnyNetSpec]) -> None:
        super().__init__(message)
        self.specs = specs


@dataclass(frozen=True)
class Sample:
    """The specs drawn (a list-like), their complexity, and how the draw went. `recipes`: per spec, the recipe
    fields the space draws per model (lr, weight_decay), each an empty dict where it draws none."""

    space: DesignSpace
    seed: int
    specs: list[AnyNetSpec]
    complexities: list[Complexity]
    draws: int
    seconds: float
    recipes: list[dict[str, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self) -> Iterator[AnyNetSpec]:
        return iter(self.specs)

    def __getitem__(self, i: int) -> AnyNetSpec:
        return self.specs[i]

    @property
    def acceptance(self) -> float:
        """Accepted specs per candidate drawn."""
        return len(self.specs) / self.draws if self.draws else 0.0

    def frame(self) -> pd.DataFrame:
        """One row per spec: id, space, per-stage and shared values, RegNet parameters, complexity, and the recipe
        fields drawn per model (lr, weight_decay) where the space draws them."""
        import pandas as pd  # on use: `import sampler` stays light

        rows = [{"id": i, "space": self.space.name, **spec_row(s, c), **r} for i, (s, c), r in self._rows()]
        return pd.DataFrame(rows)

    def records(self) -> list[dict]:
        """One JSON-ready dict per spec: id, space, the spec's fields (with `regnet` where it applies), complexity,
        and `recipe` (lr, weight_decay) where the space draws them per model."""
        return [
            {"id": i, "space": self.space.name, **s.to_dict(), **c._asdict(), **({"recipe": r} if r else {})}
            for i, (s, c), r in self._rows()
        ]

    def _rows(self) -> Iterator[tuple[int, tuple[AnyNetSpec, Complexity], dict[str, float]]]:
        recipes = self.recipes or [{}] * len(self.specs)
        return ((i, sc, r) for i, (sc, r) in enumerate(zip(zip(self.specs, self.complexities), recipes)))


def _check_band(name: str, band: Sequence | None) -> Band:
    if band is None:
        return (None, None)
    if isinstance(band, (str, bytes)) or len(band) != 2:
        raise SpecError(f"{name}: must be a (low, high) pair, either side None for open, got {band!r}")
    lo, hi = band
    for side in (lo, hi):
        if side is not None and (isinstance(side, bool) or not isinstance(side, (int, float)) or side < 0):
            raise SpecError(f"{name}: band sides must be numbers >= 0 or None, got {band!r}")
    if lo is not None and hi is not None and lo > hi:
        raise SpecError(f"{name}: low {lo:g} is above high {hi:g}")
    return (lo, hi)


def _describe(bands: dict[str, Band]) -> str:
    def side(x: float | None) -> str:
        return "open" if x is None else format_count(x, ".3g")

    shown = [f"{k} [{side(lo)}, {side(hi)}]" for k, (lo, hi) in bands.items() if (lo, hi) != (None, None)]
    return " and ".join(shown) or "no complexity band"


def sample(
    space: str | DesignSpace,
    n: int,
    seed: int = 0,
    *,
    flops: Band | None = None,
    params: Band | None = None,
    acts: Band | None = None,
    max_draws: int = MAX_DRAWS,
) -> Sample:
    """Draw n distinct specs from the space with complexity inside the given (low, high) bands.

    Candidates come in fixed blocks of BATCH, block k from np.random.default_rng([seed, k]); they are accepted in
    draw order and duplicates (the same network) dropped, so the first m specs of a larger sample equal a sample
    of m with the same seed. Raises SamplingError (with the specs found) if max_draws draws give fewer than n,
    early (after PROJECT_AFTER draws) when the acceptance rate so far projects past twice max_draws.
    """
    space = get_space(space)
    n = check_int("n", n, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    max_draws = check_int("max_draws", max_draws, minimum=1)
    bands = {
        "flops": _check_band("flops", flops),
        "params": _check_band("params", params),
        "acts": _check_band("acts", acts),
    }
    started = time.perf_counter()
    specs: list[AnyNetSpec] = []
    cxs: list[Complexity] = []
    recipes: list[dict[str, float]] = []
    seen: set[tuple] = set()
    draws = valid = 0
    low = {m: np.inf for m in METRICS}
    high = {m: -np.inf for m in METRICS}
    block = 0
    while len(specs) < n and draws < max_draws:
        cand = draw_candidates(space, np.random.default_rng([seed, block]), BATCH)
        block += 1
        draws += BATCH
        valid += len(cand)
        if not len(cand):
            continue
        cx = cand.complexity()
        inside = np.ones(len(cand), dtype=bool)
        for metric, (lo, hi) in bands.items():
            values = getattr(cx, metric)
            low[metric], high[metric] = min(low[metric], values.min()), max(high[metric], values.max())
            if lo is not None:
                inside &= values >= lo
            if hi is not None:
                inside &= values <= hi
        hits = np.flatnonzero(inside)
        for first in range(0, len(hits), 2 * n):  # rows as Python values only as far as needed
            part = hits[first : first + 2 * n]
            for j, row in zip(part, cand.rows(part)):
                if row in seen:
                    continue
                seen.add(row)
                specs.append(cand.spec(j, row))
                recipes.append(cand.recipe(j))
                cxs.append(Complexity(int(cx.flops[j]), int(cx.params[j]), int(cx.acts[j])))
                if len(specs) == n:
                    break
            if len(specs) == n:
                break
        if draws >= PROJECT_AFTER and len(specs) < n and draws * n > 2 * max_draws * len(specs):
            break  # at this rate n would take over twice max_draws: say so now rather than later
    if len(specs) < n:
        raise SamplingError(_shortfall(space, n, len(specs), draws, valid, bands, low, high), specs)
    return Sample(space, seed, specs, cxs, draws, time.perf_counter() - started, recipes)


def _shortfall(space, n, found, draws, valid, bands, low, high) -> str:
    where = _describe(bands)
    if not valid:  # only a RegNet draw can be invalid: anynet orderings are drawn exactly, never rejected
        return (
            f"0 of {draws:,} {space.name} draws were valid RegNets with {space.stages} stages (the quantized rule "
            f"skipped a stage or gave another stage count); change stages or the ranges of d, w0, wa, wm"
        )

    def span(m: str) -> str:
        return f"{m} {format_count(low[m], '.3g')}-{format_count(high[m], '.3g')}"

    ranged = ", ".join(span(m) for m, band in bands.items() if band != (None, None)) or ", ".join(map(span, METRICS))
    if not found:
        return f"0 of {draws:,} {space.name} draws fell in {where}; draws ranged {ranged}"
    return (
        f"found {found} of {n} distinct {space.name} specs in {where} after {draws:,} draws "
        f"(acceptance {found / draws:.2g}, so about {n * draws / found:,.0f} draws for {n}); draws ranged "
        f"{ranged}; widen the band, lower n or raise max_draws"
    )
