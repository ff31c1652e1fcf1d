"""Whether parser worker processes can start without running the caller's script a second time.

Worker processes start by the forkserver method, and every new worker first imports the main module
again, as `__mp_main__` (Python's multiprocessing does this for the spawn and forkserver methods). A script
that calls `pipeline.run(session_stream(...))` at its top level, without an `if __name__ == "__main__":`
guard, would start a whole second load inside each worker: the workers crash and the run fails. So before
starting workers the loader reads the main script: if its top-level code does more than define things,
parsing stays in the loader's own process (slower, same result) and one line says why.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from functools import lru_cache

_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass,
                ast.Global, ast.Nonlocal)


def main_reimport_problem() -> str | None:
    """Why a worker process would run the main module's code again, or None when starting workers is safe.

    Follows what multiprocessing's spawn preparation re-imports: nothing for an interactive session, a
    notebook or `python -c` (no file), nothing for `python -m package` (a `__main__` module is skipped),
    else the module or file the program was started from.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if name is not None:
        if name == "__main__" or name.endswith(".__main__"):
            return None
        path = getattr(spec, "origin", None) or _origin(name)
    else:
        path = getattr(main, "__file__", None)
        if path is None:
            return None
    return _top_level_problem(str(path)) if path else f"its main module {name} has no source file"


def _origin(name: str) -> str | None:
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return getattr(found, "origin", None)


@lru_cache(maxsize=8)
def _top_level_problem(path: str) -> str | None:
    """The first top-level statement of `path` that does more than define names, described for the user."""
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(), filename=path)
    except (OSError, SyntaxError, ValueError) as exc:
        return f"its main script {path} cannot be read ({type(exc).__name__})"
    line = _first_action(tree.body)
    if line is None:
        return None
    return (f"{path} line {line} runs at import, outside `if __name__ == \"__main__\":`, and each worker "
            "would run it again")


def _first_action(body: list[ast.stmt]) -> int | None:
    """Line of the first statement in `body` that would act when imported (calls, loops, ...), else None."""
    for stmt in body:
        if isinstance(stmt, _DEFINITIONS) or _is_docstring(stmt):
            continue
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)) and not _calls(stmt):
            continue
        if isinstance(stmt, ast.If) and _is_main_guard(stmt):
            inner = _first_action(stmt.orelse)  # its body runs in the main process only; an `else:` in each worker
        elif isinstance(stmt, ast.If) and not _calls(stmt.test):
            inner = _first_action(stmt.body) or _first_action(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            inner = _first_action([*stmt.body, *stmt.orelse, *stmt.finalbody,
                                   *(s for handler in stmt.handlers for s in handler.body)])
        else:
            return stmt.lineno
        if inner is not None:
            return inner
    return None


def _is_main_guard(stmt: ast.If) -> bool:
    """`if __name__ == "__main__":` (either order of the comparison)."""
    if not isinstance(stmt.test, ast.Compare) or len(stmt.test.ops) != 1:
        return False
    sides = [stmt.test.left, *stmt.test.comparators]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    values = {s.value for s in sides if isinstance(s, ast.Constant)}
    return isinstance(stmt.test.ops[0], ast.Eq) and names == {"__name__"} and values == {"__main__"}


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _calls(node: ast.AST) -> bool:
    """Whether `node` calls anything beyond what set-up code does at the top of a script.

    Harmless to repeat in a worker: paths, environment, logging and warnings, and making (not running) a dlt
    pipeline or source. Everything else counts, and so does any `run`, `extract`, `normalize` or `load`.
    """
    return any(isinstance(child, (ast.Await, ast.Yield, ast.YieldFrom))
               or (isinstance(child, ast.Call) and not _harmless(child)) for child in ast.walk(node))


_HARMLESS_ROOTS = {"sys", "os", "logging", "warnings", "Path", "str", "int", "float", "bool", "print", "datetime",
                   "date", "timedelta", "dlt",
                   "session_stream", "monetate_metadata"}
_RUN_VERBS = {"run", "extract", "normalize", "load"}


def _harmless(call: ast.Call) -> bool:
    """`call` starts at a harmless name (`sys.path.insert`, `dlt.pipeline(...)`) and runs nothing on the way."""
    node: ast.AST = call.func
    while True:
        if isinstance(node, ast.Attribute):
            if node.attr in _RUN_VERBS:
                return False
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return isinstance(node, ast.Name) and node.id in _HARMLESS_ROOTS
