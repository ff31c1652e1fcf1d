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
import jinja2.runtime

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


class CompilerError(Exception):
    """What dbt's ``exceptions.raise_compiler_error`` raises, in the shim."""


class _Exceptions:
    @staticmethod
    def raise_compiler_error(message: str) -> None:
        raise CompilerError(message)


class _Returned(Exception):  # noqa: N818 (control flow, not an error)
    def __init__(self, value: Any) -> None:  # noqa: ANN401
        self.value = value


def macros(adapter: str, *files: str, variables: dict[str, Any] | None = None) -> Any:  # noqa: ANN401
    """The macros of `files` (paths under the repo, default ``macros/statistics.sql``) as callables returning SQL.

    ``variables`` are what dbt's ``var(name, default)`` returns. A macro that calls ``return(value)`` returns the
    value itself (a list, a mapping), as in dbt; the others return their SQL text.
    """
    env = jinja2.Environment(extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined)
    env.context_class = _ReturningContext
    source = "\n".join((REPO / f).read_text() for f in (files or ("macros/statistics.sql",)))
    holder: dict[str, Any] = {}
    env.globals["adapter"] = _Lazy(holder, adapter)
    env.globals["return"] = _return
    env.globals["var"] = lambda name, default=None: (variables or {}).get(name, default)
    env.globals["exceptions"] = _Exceptions()
    module = env.from_string(source).module
    holder["module"] = _Returning(module)
    return holder["module"]


def _return(value: Any) -> str:  # noqa: ANN401
    raise _Returned(value)


class _ReturningContext(jinja2.runtime.Context):
    """Every call from inside a template goes through here: a macro that hit `return(value)` gives the value."""

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401, N805
        try:
            return super().call(__obj, *args, **kwargs)
        except _Returned as returned:
            if isinstance(__obj, jinja2.runtime.Macro):
                return returned.value
            raise


class _Returning:
    """The template module, with dbt's `return`: a macro that returns a value gives that value, not text."""

    def __init__(self, module: Any) -> None:  # noqa: ANN401
        self._module = module

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        macro = getattr(self._module, name)

        def call(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            try:
                return macro(*args, **kwargs)
            except _Returned as returned:
                return returned.value

        return call


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
