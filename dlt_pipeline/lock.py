"""One run at a time per pipeline: a second run started meanwhile stops with a clear message.

Two overlapping runs would both see the same files as new and load them twice. The lock is an
OS-level `flock` on a file in dlt's pipelines folder, so it is released even when a run is killed.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Any


class LockBusy(Exception):
    """Another loader run holds the lock."""


class RunLock:
    """Exclusive, non-blocking lock held for the duration of a run."""

    def __init__(self, pipeline: Any, settings: Any) -> None:
        root = Path(pipeline.pipelines_dir)
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / f"{settings.pipeline_name}.lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockBusy(f"another loader run (pid {holder}) is still running for this pipeline ({self.path}); "
                           "this run stopped without loading anything. Try again when it has finished.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
