"""Package exports loaded on first use (PEP 562), for packages whose modules are heavy to import.

It imports nothing itself, so a package's __init__ can use it without paying for its own modules."""

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """The package's module-level __getattr__: name -> getattr(import_module(exports[name]), name)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(exports[name]), name)

    return __getattr__
