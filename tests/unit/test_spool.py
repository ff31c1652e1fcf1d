"""The parser's spool, unit by unit (in this process and in a worker): memory follows the batch size.

Parser workers write each parsed batch to its own spool file as it is built, and the loader reads them back one
at a time (the whole-file run that proves the memory bound is tests/e2e/test_memory.py). Here: batch files are
read once and deleted, nothing of a file is kept when its gzip breaks or the parser hits a bug halfway through
it, and a bug quarantines the file while trouble with the machine stops the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.data import days_ago, window_name, write_big_file

from dlt_pipeline.session_stream import workers
from dlt_pipeline.session_stream.pii import PiiPolicy
from dlt_pipeline.session_stream.reshape import FileContext
from dlt_pipeline.session_stream.workers import SPOOL_PREFIX, FileOutcome, ParseJob, ParsePool, SpooledBatches, guarded


class BrokenContext:
    """Stands in for a FileContext and fails like a bug in the reshape code would, on first use."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(f"boom reading {name}")


DAY = days_ago(2)
NAME = window_name(DAY, "0500", 1234567890123)  # the name write_big_file gives its file


def _job(path: Path, ctx: Any = None, batch_size: int = 1000) -> ParseJob:
    ctx = ctx if ctx is not None else FileContext(f"{DAY:%Y/%m/%d}/{NAME}", NAME, datetime.now(UTC))
    return ParseJob(str(path), ctx, PiiPolicy(), batch_size, 16 << 20)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _outcomes(pool: ParsePool, jobs: list[ParseJob]) -> Iterator[FileOutcome]:
    for number, job in enumerate(jobs):
        pool.submit(number, job)
    for _, outcome in pool.drain(keep=0):
        yield outcome


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5,000 sessions (about 6 MB unzipped: more than one of the parser's 4 MB reads)."""
    return write_big_file(tmp_path_factory.mktemp("small"), 5_000)


@pytest.mark.parametrize("worker_count", [0, 1])
def test_batches_are_read_once_and_deleted(small_file: Path, tmp_path: Path, worker_count: int) -> None:
    """Each batch file is gone once read; a consumer that stops early leaves nothing behind either."""
    pool = ParsePool(worker_count, tmp_path)
    try:
        whole, abandoned = _outcomes(pool, [_job(small_file), _job(small_file)])
        assert whole.problem is None and isinstance(whole.batches, SpooledBatches)
        on_disk = len(_files(pool.spool))
        assert len(whole.batches.paths) >= 2 and on_disk == 2 * len(whole.batches.paths)
        sessions = 0
        for read, batch in enumerate(whole.batches, 1):
            sessions += batch.sessions
            assert len(_files(pool.spool)) == on_disk - read  # the batch just read is deleted already
        assert sessions == 5_000
        reader = iter(abandoned.batches)
        assert next(reader).sessions > 0
        reader.close()  # what happens when the loader stops in the middle of a file (e.g. --strict)
        assert _files(pool.spool) == []
    finally:
        pool.close()
    assert not pool.spool.exists()


@pytest.fixture
def truncated(small_file: Path, tmp_path: Path) -> Path:
    """The small file cut at 90%: the gzip breaks after several batches were parsed."""
    path = tmp_path / "truncated.json.gz"
    data = small_file.read_bytes()
    path.write_bytes(data[: len(data) * 9 // 10])
    return path


@pytest.mark.parametrize("worker_count", [0, 1])
def test_truncated_gzip_keeps_no_batch(truncated: Path, tmp_path: Path, worker_count: int) -> None:
    """A gzip that breaks after some batches were written quarantines the whole file and deletes them."""
    pool = ParsePool(worker_count, tmp_path)
    try:
        (outcome,) = _outcomes(pool, [_job(truncated, batch_size=100)])
        assert outcome.problem is not None and "corrupt or truncated gzip" in outcome.problem
        assert list(outcome.batches) == [] and _files(pool.spool) == []
    finally:
        pool.close()


def test_truncated_gzip_wrote_batches_before_it_broke(truncated: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The case above really deletes written batches: count what the parse wrote before the error."""
    written: list[str] = []
    real_write = workers._write_batch

    def counting_write(batch: Any, path: Path) -> str:
        written.append(real_write(batch, path))
        return written[-1]

    monkeypatch.setattr(workers, "_write_batch", counting_write)
    pool = ParsePool(0, tmp_path)
    try:
        (outcome,) = _outcomes(pool, [_job(truncated, batch_size=100)])
    finally:
        pool.close()
    assert outcome.problem is not None
    assert len(written) >= 10, "the gzip broke before any batch was written: this test no longer tests the cleanup"
    assert not any(Path(p).exists() for p in written)


@pytest.mark.parametrize("worker_count", [0, 1])
def test_parser_bug_quarantines_the_file_and_the_rest_loads(small_file: Path, tmp_path: Path,
                                                            worker_count: int) -> None:
    """An exception no data should cause becomes a quarantine reason that says it is a bug; the next file parses."""
    pool = ParsePool(worker_count, tmp_path)
    try:
        broken, good = _outcomes(pool, [_job(small_file, BrokenContext()), _job(small_file)])
        assert broken.problem is not None
        assert broken.problem.startswith("could not be parsed (RuntimeError: boom reading "), broken.problem
        assert "this is a bug in the loader, please report it" in broken.problem
        assert "the file is quarantined and the rest loads" in broken.problem
        assert good.problem is None and sum(b.sessions for b in good.batches) == 5_000
        assert _files(pool.spool) == []
    finally:
        pool.close()


def test_guard_quarantines_bugs_but_not_machine_trouble(tmp_path: Path) -> None:
    """Bugs quarantine the file; a full disk or exhausted memory stops the run, so good files are not blamed."""
    job = _job(tmp_path / "any.json.gz")

    def bug(_job: ParseJob) -> FileOutcome:
        raise KeyError("offers")

    def disk_full(_job: ParseJob) -> FileOutcome:
        raise OSError(28, "No space left on device")

    outcome = guarded(bug, job)
    assert outcome.problem == ("could not be parsed (KeyError: 'offers'); this is a bug in the loader, please "
                               "report it — the file is quarantined and the rest loads")
    with pytest.raises(OSError, match="No space left"):
        guarded(disk_full, job)


def test_spool_of_a_killed_run_is_removed(tmp_path: Path) -> None:
    """`kill -9` skips all cleanup: the next pool removes a dead loader's batch files, never a live one's."""
    dead = tmp_path / f"{SPOOL_PREFIX}999999999-abc"  # above any pid the kernel hands out
    alive = tmp_path / f"{SPOOL_PREFIX}{os.getppid()}-abc"
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "0.0.batch").write_bytes(b"x")
    ParsePool(0, tmp_path).close()
    assert not dead.exists() and (alive / "0.0.batch").exists()
