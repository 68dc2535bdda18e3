"""Field checks that turn bad input into one-line errors naming the field and what is allowed."""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence
from typing import Any

from anynet.errors import SpecError


def check_int(field: str, value: Any, *, minimum: int | None = None) -> int:
    """Return value as an int (integral floats accepted), or raise naming the field."""
    if type(value) is int and (minimum is None or value >= minimum):
        return value
    bad = isinstance(value, bool) or not isinstance(value, numbers.Real)
    if not bad and not isinstance(value, numbers.Integral):
        bad = not float(value).is_integer()
    if bad or (minimum is not None and value < minimum):
        allowed = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise SpecError(f"{field}: must be {allowed}, got {value!r}")
    return int(value)


def check_real(field: str, value: Any, *, low: float | None = None, strict: bool = False) -> float:
    """Return value as a float, or raise naming the field; low bounds it (exclusively when strict)."""
    if type(value) is float and (low is None or (value > low if strict else value >= low)):
        return value
    bad = isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value
    if not bad and low is not None:
        bad = value <= low if strict else value < low
    if bad:
        allowed = "a number" if low is None else f"a number {'>' if strict else '>='} {low:g}"
        raise SpecError(f"{field}: must be {allowed}, got {value!r}")
    return float(value)


def check_ints(field: str, values: Sequence, *, minimum: int | None = None) -> tuple[int, ...]:
    """check_int on every element; errors name the element, e.g. widths[2]."""
    if all(type(v) is int and (minimum is None or v >= minimum) for v in values):
        return tuple(values)
    return tuple(check_int(f"{field}[{i}]", v, minimum=minimum) for i, v in enumerate(values))


def check_reals(field: str, values: Sequence, *, low: float | None = None, strict: bool = False) -> tuple[float, ...]:
    """check_real on every element; errors name the element, e.g. bot_muls[1]."""
    if all(type(v) is float and (low is None or (v > low if strict else v >= low)) for v in values):
        return tuple(values)
    return tuple(check_real(f"{field}[{i}]", v, low=low, strict=strict) for i, v in enumerate(values))


def check_choice(field: str, value: Any, choices: Sequence[str]) -> str:
    """Return value if it is one of choices, or raise listing them."""
    if value not in choices:
        raise SpecError(f"{field}: {value!r} is not one of {', '.join(choices)}")
    return value


def check_list(field: str, value: Any, length: int | None = None) -> list:
    """Return value as a list (a scalar is refused), of the given length when one is given."""
    if type(value) not in (list, tuple) and (isinstance(value, (str, bytes, dict)) or not isinstance(value, Sequence)):
        raise SpecError(f"{field}: must be a list, one value per stage, got {value!r}")
    if length is not None and len(value) != length:
        raise SpecError(f"{field}: must have one value per stage ({length}), got {len(value)}: {list(value)}")
    return list(value)


_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_NUMBER = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgt]?)\s*$", re.IGNORECASE)


def parse_number(field: str, value: Any) -> float:
    """A count written as 360e6, 360M, 0.4G, 2k or a plain number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _NUMBER.match(str(value))
    if not match:
        raise SpecError(f"{field}: {value!r} is not a number (examples: 360e6, 360M, 0.4G)")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def format_count(x: float, spec: str = ".2f") -> str:
    """1234567 -> '1.23M': the K, M, G, T suffixes parse_number reads; smaller ints as they are."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:{spec}}{unit}"
    return str(x) if isinstance(x, int) else f"{x:{spec}}"


def format_duration(seconds: float) -> str:
    """A rough duration: '45 s', '13 min', '2.5 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def parse_band(field: str, text: str) -> tuple[float | None, float | None]:
    """'LO:HI' with either side empty for open, e.g. '360M:400M', ':2G', '1e6:'."""
    if ":" not in str(text):
        raise SpecError(f"{field}: {text!r} must be LO:HI, either side may be empty (e.g. 360M:400M, :2G)")
    lo, hi = str(text).split(":", 1)
    return (parse_number(field, lo) if lo.strip() else None, parse_number(field, hi) if hi.strip() else None)
