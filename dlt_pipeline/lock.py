"""One run at a time per destination: a second run started meanwhile stops with a clear message.

Two overlapping runs would both see the same files as new and load them twice. Locks are OS-level
`flock`s (released even when a run is killed): one in dlt's pipelines folder, and for DuckDB one next to
the database file, so runs with different working folders still exclude each other. On PostgreSQL a
session-level advisory lock on the dataset does the same across machines. (Redshift has no advisory
locks: schedule one loader per dataset there.)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType
from typing import Any


class LockBusy(Exception):
    """Another loader run holds the lock."""


def _busy(what: str) -> LockBusy:
    return LockBusy(f"another loader run ({what}) is still loading into this destination; this run stopped without "
                    "loading anything. Try again when it has finished.")


class RunLock:
    """Exclusive, non-blocking locks held for the duration of a run."""

    def __init__(self, pipeline: Any, settings: Any) -> None:
        root = Path(pipeline.pipelines_dir)
        root.mkdir(parents=True, exist_ok=True)
        self.paths = [root / f"{settings.pipeline_name}.lock"]
        if settings.destination == "duckdb":
            db = Path(settings.duckdb_path).resolve()
            self.paths.append(db.with_name(f"{db.name}.loader.lock"))
        self.pipeline = pipeline
        self.settings = settings
        self._fds: list[int] = []
        self._pg: Any = None
        self._pg_key = int.from_bytes(
            hashlib.blake2b(f"session_stream:{settings.dataset_name}".encode(), digest_size=8).digest(), "big",
            signed=True)

    def __enter__(self) -> RunLock:
        try:
            for path in self.paths:
                self._flock(path)
            if self.settings.destination == "postgres":
                self._advisory_lock()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _flock(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise _busy(f"pid {holder}, lock {path}") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fds.append(fd)

    def _advisory_lock(self) -> None:
        """Session-level advisory lock on a separate connection, held until the run ends."""
        cm = self.pipeline.sql_client()
        client = cm.__enter__()
        self._pg = cm
        rows = client.execute_sql(f"select pg_try_advisory_lock({self._pg_key})")
        if not rows or not rows[0][0]:
            raise _busy(f"PostgreSQL advisory lock {self._pg_key} on dataset {self.settings.dataset_name}")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._pg is not None:
            try:
                self._pg.__exit__(None, None, None)  # closing the connection releases the advisory lock
            except Exception:  # noqa: BLE001 - the server may be gone; its lock went with the session
                pass
            self._pg = None
        for fd in self._fds:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._fds = []
