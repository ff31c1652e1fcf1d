"""Package attributes imported on first use (PEP 562), for the packages whose heavy parts most runs never need.

A run with nothing new must not pay for the parser, Arrow or dlt's REST client (docs/benchmark.md), yet users
import the public names from the package (`from dlt_pipeline.session_stream import session_stream`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, home: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `package.<home[name]>` when `name` is first asked for, then keeps it."""

    def __getattr__(name: str) -> Any:  # noqa: ANN401
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
