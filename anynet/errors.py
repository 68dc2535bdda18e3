"""Errors that anynet reports to its users."""


class AnynetError(ValueError):
    """A user-facing error: its message names the field, the bad value and what is allowed."""


class SpecError(AnynetError):
    """An invalid network spec, RegNet parameter set or spec file."""
