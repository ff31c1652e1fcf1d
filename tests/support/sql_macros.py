"""Render the project's dbt macros to SQL text without starting dbt (for in-process tests of macro SQL).

dbt itself takes seconds to start and needs a profile; the statistics macros (``macros/statistics.sql``) are
pure text generators, so a plain Jinja environment with the two dbt features they use is enough:
``adapter.dispatch`` (``<adapter>__name`` when the file defines it, else ``default__name``) and ``return``.
The e2e tests build the same macros with real dbt, so a difference between this shim and dbt would show there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

REPO = Path(__file__).resolve().parents[2]


class _Adapter:
    def __init__(self, module: Any, adapter: str) -> None:  # noqa: ANN401
        self._module = module
        self._adapter = adapter

    def dispatch(self, name: str, _package: str | None = None) -> Any:  # noqa: ANN401
        for prefix in (f"{self._adapter}__", "default__"):
            macro = getattr(self._module, prefix + name, None)
            if macro is not None:
                return macro
        raise KeyError(name)


def macros(adapter: str, *files: str) -> Any:  # noqa: ANN401
    """The macros of `files` (paths under the repo, default ``macros/statistics.sql``) as callables returning SQL."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined)
    source = "\n".join((REPO / f).read_text() for f in (files or ("macros/statistics.sql",)))
    holder: dict[str, Any] = {}
    env.globals["adapter"] = _Lazy(holder, adapter)
    env.globals["return"] = lambda value: value
    module = env.from_string(source).module
    holder["module"] = module
    return module


class _Lazy:
    """`adapter` that resolves the template module once it exists (macros refer to each other through it)."""

    def __init__(self, holder: dict[str, Any], adapter: str) -> None:
        self._holder = holder
        self._adapter = adapter

    def dispatch(self, name: str, package: str | None = None) -> Any:  # noqa: ANN401
        return _Adapter(self._holder["module"], self._adapter).dispatch(name, package)


def render(adapter: str, macro: str, *args: str) -> str:
    """SQL text of `macro(*args)` for `adapter` (``duckdb``, ``postgres``, ``redshift``)."""
    return str(getattr(macros(adapter), macro)(*args)).strip()
