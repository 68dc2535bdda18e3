"""Field checks that turn bad input into one-line errors naming the field and what is allowed."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from anynet.errors import SpecError


def check_int(field: str, value: Any, *, minimum: int | None = None) -> int:
    """Return value as an int (integral floats accepted), or raise naming the field."""
    bad = isinstance(value, bool) or not isinstance(value, numbers.Real)
    if not bad and not isinstance(value, numbers.Integral):
        bad = not float(value).is_integer()
    if bad or (minimum is not None and value < minimum):
        allowed = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise SpecError(f"{field}: must be {allowed}, got {value!r}")
    return int(value)


def check_real(field: str, value: Any, *, low: float | None = None, strict: bool = False) -> float:
    """Return value as a float, or raise naming the field; low bounds it (exclusively when strict)."""
    bad = isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value
    if not bad and low is not None:
        bad = value <= low if strict else value < low
    if bad:
        allowed = "a number" if low is None else f"a number {'>' if strict else '>='} {low:g}"
        raise SpecError(f"{field}: must be {allowed}, got {value!r}")
    return float(value)


def check_choice(field: str, value: Any, choices: Sequence[str]) -> str:
    """Return value if it is one of choices, or raise listing them."""
    if value not in choices:
        raise SpecError(f"{field}: {value!r} is not one of {', '.join(choices)}")
    return value


def check_list(field: str, value: Any, length: int | None = None) -> list:
    """Return value as a list (a scalar is refused), of the given length when one is given."""
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Sequence):
        raise SpecError(f"{field}: must be a list, one value per stage, got {value!r}")
    if length is not None and len(value) != length:
        raise SpecError(f"{field}: must have one value per stage ({length}), got {len(value)}: {list(value)}")
    return list(value)
