"""Parse files in worker processes while the main process feeds dlt, so both cores stay busy.

Parsing (gunzip, JSON, reshape) and dlt's extract step each cost about as much CPU; in one process they
take turns. A file is parsed whole before any of its rows are handed on, so a corrupt gzip or a parser
bug found on its last line still quarantines the whole file and loads nothing of it.

Memory follows the batch size, not the file size: each batch is written to its own file in a private
spool folder as soon as it is built, the parse returns only the list of those files, and the main process
reads them back one at a time, deleting each once read. (Returning a whole file's tables in one pickle
made the worker, the pickle and the main process each hold the whole file: 2 GB for 300,000 sessions.)
With `--workers 0` the same happens in the main process, and so it does when worker processes would run
the caller's script again (a script without an `if __name__ == "__main__":` guard: main_guard.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dlt_pipeline.exception_chain import first_line
from dlt_pipeline.session_stream.main_guard import main_reimport_problem
from dlt_pipeline.session_stream.parse import (
    GZIP_ERRORS,
    FileProblem,
    ParsedBatch,
    check_gzip_header,
    gzip_problem,
    parse_file,
)
from dlt_pipeline.session_stream.pii import PiiPolicy
from dlt_pipeline.session_stream.reshape import FileContext
from dlt_pipeline.session_stream.spool_folders import alive, make_folder

log = logging.getLogger("session_stream")

SPOOL_PREFIX = "session-stream-parsed-"
"""Name prefix of a pool's spool folder; the pid after it lets a later run remove a killed run's folder."""


@dataclass
class SpooledBatches:
    """A parsed file's batches on disk, in order; iterating reads one at a time and deletes each once read.

    Only this short list of paths travels from a worker to the main process. Files left unread (the
    consumer stopped early) are deleted when iteration ends or by `discard`.
    """

    paths: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[ParsedBatch]:
        try:
            while self.paths:
                path = self.paths[0]
                with open(path, "rb") as fh:
                    batch: ParsedBatch = pickle.load(fh)  # our own file, in a folder only we can write
                os.unlink(path)
                del self.paths[0]
                yield batch
        finally:
            self.discard()

    def discard(self) -> None:
        """Delete the batch files not read yet."""
        for path in self.paths:
            Path(path).unlink(missing_ok=True)
        self.paths = []


@dataclass
class FileOutcome:
    """A whole file's result: its batches (read lazily, one at a time), or why it is quarantined."""

    problem: str | None
    batches: Iterable[ParsedBatch] = field(default_factory=list)
    seconds: float = 0.0  # the parse's wall time in its worker (run history's parse_seconds)


@dataclass(frozen=True)
class ParseJob:
    """Everything a worker needs, picklable. `ParsePool.submit` fills in `spool` and `tag`."""

    local: str
    ctx: FileContext
    pii: PiiPolicy
    batch_size: int
    max_line_bytes: int
    spool: str = ""
    tag: str = "0"


def bug_problem(exc: BaseException) -> str:
    """The quarantine reason for an exception no data should cause: a bug, reported as one."""
    text = first_line(exc, default="")
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return (f"could not be parsed ({detail}); this is a bug in the loader, please report it — the file is "
            "quarantined and the rest loads")


def guarded(parse: Callable[[ParseJob], FileOutcome], job: ParseJob) -> FileOutcome:
    """Run `parse(job)`, turning a bad file or a parser bug into a quarantine outcome instead of a failed run.

    A bug that trips on one file must not stop every scheduled run from loading the others. OSError and
    MemoryError still propagate: a full disk or exhausted memory is about this machine, not this file,
    and quarantining would mark good files as bad; the run stops and the next one tries again.
    """
    try:
        return parse(job)
    except FileProblem as exc:
        return FileOutcome(str(exc))
    except GZIP_ERRORS as exc:  # BadGzipFile is an OSError: caught before OSError is let through
        return FileOutcome(str(gzip_problem(exc)))
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring: quarantine the file, keep the run going
        if os.environ.get("SESSION_STREAM_DEBUG"):
            traceback.print_exc(file=sys.stderr)
        return FileOutcome(bug_problem(exc))


def spool_file(job: ParseJob) -> FileOutcome:
    """Parse the whole file, writing each batch to the spool as it is built; on any error keep none of them."""
    check_gzip_header(Path(job.local))
    spooled = SpooledBatches()
    try:
        batches = parse_file(Path(job.local), job.ctx, job.pii, job.batch_size, job.max_line_bytes)
        for number, batch in enumerate(batches):
            spooled.paths.append(_write_batch(batch, Path(job.spool) / f"{job.tag}.{number}.batch"))
    except BaseException:
        spooled.discard()
        raise
    return FileOutcome(None, spooled)


def _write_batch(batch: ParsedBatch, path: Path) -> str:
    """Pickle protocol 5 writes Arrow's buffers straight to the file, without a second in-memory copy.

    A half-written file (disk full) is removed here: it is not in the outcome's list yet.
    """
    try:
        with path.open("wb") as fh:
            pickle.dump(batch, fh, protocol=5)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return str(path)


def run_job(job: ParseJob) -> FileOutcome:
    """Check and parse one file into the spool (in a worker, or in this process with `--workers 0`)."""
    started = time.perf_counter()
    outcome = guarded(spool_file, job)
    return replace(outcome, seconds=time.perf_counter() - started)


def exit_with_parent(parent: int) -> None:
    """Worker initializer: leave when the loader is gone.

    After a `kill -9` of the loader its workers would otherwise wait forever on their task queue (they
    hold its write end themselves), keeping the forkserver alive and the scheduler's stdout pipe open.
    """

    def watch() -> None:
        while alive(parent):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def make_spool(parent: Path | None) -> Path:
    """A private folder (mode 0700) for one pool's batch files: under `parent`, else the system temp folder."""
    return make_folder(Path(parent) if parent is not None else Path(tempfile.gettempdir()), SPOOL_PREFIX)


def _workers_allowed(workers: int) -> int:
    """`workers`, or 0 when worker processes would run the caller's script again (main_guard.py)."""
    problem = main_reimport_problem()
    if problem is None:
        return workers
    log.info("parsing in this process instead of %d worker process(es): %s", workers, problem)
    return 0


class ParsePool:
    """Runs ParseJobs on `workers` processes (0 = in this process), yielding outcomes in submission order.

    Batch files go to a spool folder under `spool` (best: the run's download folder, on the same disk as
    dlt's working folder), else under the system temp folder. `close` removes it with anything left.
    """

    def __init__(self, workers: int, spool: Path | None = None) -> None:
        self.workers = workers if workers <= 0 else _workers_allowed(workers)
        self.spool = make_spool(spool)
        self._submitted = 0
        self._pool: ProcessPoolExecutor | None = None
        if self.workers > 0:
            # forkserver: workers do not inherit dlt's threads or open database handles. It imports this module
            # (parse, reshape, pyarrow: ~0.5-1 s) once, and every worker forks from it with them loaded, instead
            # of each worker importing them again (docs/benchmark.md)
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=exit_with_parent,
                                             initargs=(os.getpid(),))
        self._pending: list[tuple[Any, Future[FileOutcome] | FileOutcome]] = []

    @property
    def capacity(self) -> int:
        return max(1, self.workers + 1)

    def submit(self, key: Any, job: ParseJob) -> None:
        job = replace(job, spool=str(self.spool), tag=str(self._submitted))
        self._submitted += 1
        if self._pool is None:
            self._pending.append((key, run_job(job)))
        else:
            self._pending.append((key, self._pool.submit(run_job, job)))

    def drain(self, keep: int) -> Iterator[tuple[Any, FileOutcome]]:
        """Yield finished outcomes, oldest first, until at most `keep` jobs remain in flight."""
        while len(self._pending) > keep:
            key, result = self._pending.pop(0)
            yield key, result if isinstance(result, FileOutcome) else result.result()

    def close(self) -> None:
        """Stop the workers and delete every batch file still on disk (of outcomes never read to the end)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()
        shutil.rmtree(self.spool, ignore_errors=True)
