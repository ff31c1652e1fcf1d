"""Ending the command-line process quickly: the interpreter's own teardown is a third of a run with nothing new.

After `main` returns, CPython tears down every module and collects every object it ever made; with dlt,
DuckDB and their imports loaded (~1,300 modules) that took 0.4-0.6 s on the development machine, as long as
all the work of a run with nothing new (docs/benchmark.md, "where the time goes"). Everything a run writes is
committed and closed before `main` returns (warehouse connections, locks, the parser processes), so `run.py`
runs the exit handlers (logging, dlt's telemetry, multiprocessing), flushes stdout and stderr, and leaves
with `os._exit`. Code that calls `main()` in-process (the tests) is unaffected.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Run the exit handlers, flush the standard streams, and end the process with `code` without teardown.

    Under a profiler or a coverage tracer the normal exit is kept: they write their results at teardown.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    try:
        atexit._run_exitfuncs()  # noqa: SLF001 - the handlers normal exit would run (no public API for it)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing more to say
                pass
        os._exit(code)
