"""The moment a run's plan is known, announced to whoever runs the source.

The source says what it planned (`plan.plan_files` calls `announce`); it knows nothing of who listens. The
command line listens during its loads (`head_start.planned`: the parser's head start, or the plan's connection
kept for the run-history row); a user's own pipeline and the unit tests register nothing, so nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Listener = Callable[[Any, int, int], None]
"""Called with (the dlt pipeline, the number of files to load, the parser workers to use)."""

_listeners: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Within this block, `listener` hears every plan the source makes in this process."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def announce(pipeline: Any, files: int, workers: int) -> None:  # noqa: ANN401 - a dlt.Pipeline
    """Tell every listener the plan: `files` to load with `workers` parser processes."""
    for listener in list(_listeners):
        listener(pipeline, files, workers)
