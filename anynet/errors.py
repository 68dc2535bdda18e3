"""Errors that anynet reports to its users."""

from collections.abc import Mapping, Sequence
from typing import Any


class AnynetError(ValueError):
    """A user-facing error: its message names the field, the bad value and what is allowed."""


class SpecError(AnynetError):
    """An invalid network spec, RegNet parameter set or spec file."""


def check_keys(
    data: Mapping[Any, Any], allowed: Sequence[str], where: str = "", error: type[AnynetError] = SpecError
) -> None:
    """Raise `error` naming the first key of `data` not in `allowed` (as `where.key`) and listing the allowed ones."""
    unknown = [k for k in data if k not in allowed]
    if unknown:
        field = f"{where}.{unknown[0]}" if where else f"{unknown[0]}"
        raise error(f"{field}: unknown field; allowed fields: {', '.join(allowed)}")
