"""Parse files in worker processes while the main process feeds dlt, so both cores stay busy.

Parsing (gunzip, JSON, reshape) and dlt's extract step each cost about as much CPU; in one process they
take turns. A worker parses a whole file and returns its Arrow tables (pickled through Arrow's buffers),
so memory follows the batch size plus the few files in flight. With `--workers 0` files are parsed in
the main process, lazily, batch by batch.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlt_pipeline.parse import (
    GZIP_ERRORS,
    FileProblem,
    ParsedBatch,
    check_gzip,
    check_gzip_header,
    gzip_problem,
    parse_file,
)
from dlt_pipeline.pii import PiiPolicy
from dlt_pipeline.reshape import FileContext


@dataclass
class FileOutcome:
    """A whole file's result: its batches (a list, or a lazy iterator in-process), or why it is quarantined."""

    problem: str | None
    batches: list[ParsedBatch] | Iterator[ParsedBatch] = field(default_factory=list)


@dataclass(frozen=True)
class ParseJob:
    """Everything a worker needs, picklable."""

    local: str
    ctx: FileContext
    pii: PiiPolicy
    batch_size: int
    max_line_bytes: int


def run_job(job: ParseJob, lazy: bool = False) -> FileOutcome:
    """Check and parse one file (in a worker, or lazily in-process so memory follows the batch size).

    A worker returns the whole file at once, so a gzip error found while parsing simply quarantines it:
    no separate integrity pass is needed. The lazy in-process path hands batches on early and so checks
    the whole stream first.
    """
    path = Path(job.local)
    try:
        if lazy:
            check_gzip(path)
            return FileOutcome(None, _batches(job))
        check_gzip_header(path)
        return FileOutcome(None, list(_batches(job)))
    except FileProblem as exc:
        return FileOutcome(str(exc))
    except GZIP_ERRORS as exc:
        return FileOutcome(str(gzip_problem(exc)))


def _batches(job: ParseJob) -> Iterator[ParsedBatch]:
    return parse_file(Path(job.local), job.ctx, job.pii, job.batch_size, job.max_line_bytes)


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (a killed but not yet reaped zombie counts as gone)."""
    if os.path.isdir("/proc/self"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            return False
        return stat.rsplit(b")", 1)[-1].split()[0] not in (b"Z", b"X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exit_with_parent(parent: int) -> None:
    """Worker initializer: leave when the loader is gone.

    After a `kill -9` of the loader its workers would otherwise wait forever on their task queue (they
    hold its write end themselves), keeping the forkserver alive and the scheduler's stdout pipe open.
    """

    def watch() -> None:
        while _alive(parent):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class ParsePool:
    """Runs ParseJobs on `workers` processes (0 = in this process), yielding outcomes in submission order."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            # forkserver: workers do not inherit dlt's threads or open database handles
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                             initializer=exit_with_parent, initargs=(os.getpid(),))
        self._pending: list[tuple[Any, Future[FileOutcome] | FileOutcome]] = []

    @property
    def capacity(self) -> int:
        return max(1, self.workers + 1)

    def submit(self, key: Any, job: ParseJob) -> None:
        if self._pool is None:
            self._pending.append((key, run_job(job, lazy=True)))
        else:
            self._pending.append((key, self._pool.submit(run_job, job)))

    def drain(self, keep: int) -> Iterator[tuple[Any, FileOutcome]]:
        """Yield finished outcomes, oldest first, until at most `keep` jobs remain in flight."""
        while len(self._pending) > keep:
            key, result = self._pending.pop(0)
            yield key, result if isinstance(result, FileOutcome) else result.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
