"""The command line's start-up without Python's cyclic garbage collector: a sixth of a run with nothing new.

Importing dlt, DuckDB and their dependencies creates some 10^6 objects that live as long as the process. Each
time enough new objects pile up, the cyclic collector walks them again, and it finds almost nothing to free:
on the development machine 220 collections took 0.2-0.3 s of CPU (0.35-0.5 s wall) of a ~1.5 s no-op run
(docs/benchmark.md). So a process started for one command (`run.py`, the `session-stream-load` script) pauses
the collector while it imports and plans, and resumes it before any real work: the load of new files, a
metadata refresh, --check, --publish, --demo. A run with nothing new ends without ever collecting.

On resume the objects alive by then (modules, classes, settings) move to the permanent generation with
`gc.freeze()` (the standard library's advice for exactly this, see the `gc` docs), so later collections
during a load do not walk them again either. The price is that cyclic garbage made while paused, if any,
is never freed: a start-up's worth, once per process. Nothing is paused for code that calls the loader
in-process (tests, a user's own pipeline), and `resume` is harmless when nothing was paused.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Stop automatic collections until `resume` (nothing when the collector is off already)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze what is alive now and turn automatic collections back on, if `pause` turned them off."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
