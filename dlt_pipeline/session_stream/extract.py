"""The body of the `session_stream` resource: download, parse and reshape planned files into dlt items.

Everything a file produces (its rows in every raw table, its rejects and its ledger row) goes into the
same dlt load package, so the warehouse sees a file completely or not at all. dlt's Arrow path is used
because our reshape already produces typed columns: dlt only writes them to parquet and loads them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa

from dlt_pipeline.session_stream.archive import Archive, ArchiveError, Staged, open_archive, stage
from dlt_pipeline.session_stream.columns import OpenColumns
from dlt_pipeline.session_stream.identity import SourceIdentity, identify
from dlt_pipeline.session_stream.ledger import (
    LEDGER_TABLE,
    LOADED,
    QUARANTINED,
    REJECTS_TABLE,
    UNREADABLE,
    ledger_digests,
)
from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.session_stream.plan import Candidate, Plan
from dlt_pipeline.session_stream.reshape import FileContext
from dlt_pipeline.session_stream.run_stats import RunStats, StrictModeFailure
from dlt_pipeline.session_stream.supersede import CLEANUP_COLUMN
from dlt_pipeline.session_stream.transport import FileChanged, FileUnreadable, Transport, TransportError
from dlt_pipeline.session_stream.workers import FileOutcome, ParseJob, ParsePool
from dlt_pipeline.testhooks import checkpoint

log = logging.getLogger("session_stream")


NAME_NOTE = "file name does not follow the vendor's pattern YYYYMMDDTHHMMSS.sssZ_PT15M-TOKEN.json.gz (no window start)"


LEDGER_HINTS = dlt.mark.make_hints(table_name=LEDGER_TABLE, write_disposition="merge", primary_key="file_path",
                                   columns={"reason": {"data_type": "text", "nullable": True},
                                            "window_start": {"data_type": "timestamp", "nullable": True},
                                            "modified_at": {"data_type": "timestamp", "nullable": True},
                                            "sha256": {"data_type": "text", "nullable": True},
                                            "source_account": {"data_type": "text", "nullable": True},
                                            "source_location": {"data_type": "text", "nullable": True},
                                            CLEANUP_COLUMN: {"data_type": "bool", "nullable": True}})
REJECT_HINTS = dlt.mark.make_hints(table_name=REJECTS_TABLE, write_disposition="append", file_format="insert_values",
                                   columns={"file_path": {"data_type": "text", "nullable": True},
                                            "line_number": {"data_type": "bigint", "nullable": True},
                                            "reason": {"data_type": "text", "nullable": True},
                                            "raw_text": {"data_type": "text", "nullable": True},
                                            "load_id": {"data_type": "text", "nullable": True}})
"""Every documented column of the rejects table (docs/raw_tables.md), so it can be created before any reject.
Loaded as INSERT statements (few rows): dlt's parquet path into PostgreSQL (ADBC) fails on the empty file that
creates the table before any reject (`Must pass schema, or at least one RecordBatch`); every destination takes
INSERTs."""


def rejects_table(pipeline: dlt.Pipeline) -> Iterator[Any]:
    """An empty item that makes dlt create `session_stream_rejects` with its columns before anything is rejected.

    dlt creates a table only when rows arrive, but users alert on this table (README "What to alert on"): a
    query on a missing table fails instead of returning no rows. Yielded while dlt's schema lacks the table.
    """
    known = _known_schema(pipeline)
    if known is None or REJECTS_TABLE not in known.tables:
        yield dlt.mark.with_hints(dlt.mark.materialize_table_schema(), REJECT_HINTS, create_table_variant=True)


Downloaded = tuple[Path, Staged]
"""A downloaded file: its local path, its checksum and (with --archive) its bytes staged in the archive."""


def _downloads(files: list[Candidate], transport: Transport, spool: Path, depth: int,
               archive: Archive | None = None) -> Iterator[tuple[Candidate, Downloaded | None, BaseException | None]]:
    """Download files in name order on a background thread, up to `depth` files ahead of the parser.

    Network time then overlaps parsing and dlt's writing instead of adding to it (on a real link with
    tens of milliseconds of latency this is most of a run). The same thread hashes each file and stages
    it in the archive. Yields (file, (local path, staged) or None, error). The thread stops after a fatal
    transport error; the consumer decides what each error means.
    """
    items: queue.Queue[tuple[Candidate, Downloaded | None, BaseException | None] | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for cand in files:
                if stop.is_set():
                    return
                try:
                    local = transport.fetch(cand.path, cand.size, spool)
                except (FileChanged, FileNotFoundError, FileUnreadable) as exc:
                    items.put((cand, None, exc))
                    continue
                except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises or stops
                    items.put((cand, None, exc))
                    return
                try:
                    staged = stage(archive, cand.path, local)
                except ArchiveError as exc:
                    transport.release(local)
                    items.put((cand, None, exc))
                    continue
                checkpoint("after_download")
                items.put((cand, (local, staged), None))
        finally:
            items.put(None)

    thread = threading.Thread(target=work, name="session-stream-download", daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not None:
            yield item
    finally:
        stop.set()
        while thread.is_alive() or not items.empty():  # unblock a put() and forget unconsumed downloads
            try:
                leftover = items.get(timeout=0.1)
            except queue.Empty:
                continue
            if leftover is not None and leftover[1] is not None:
                transport.release(leftover[1][0])
                if archive is not None:
                    archive.discard(leftover[1][1].tmp)
        thread.join()


def _known_schema(pipeline: dlt.Pipeline) -> Any | None:
    """dlt's schema of earlier loads (None on a first run): open columns keep the types recorded there."""
    return pipeline.default_schema if pipeline.default_schema_name else None


def _download_failed(cand: Candidate, error: BaseException, stats: RunStats, buffer: _Buffer) -> bool:
    """Record a file whose download gave no bytes; True when the connection is gone and the run stops downloading.

    Unreadable files get their ledger row (every later run tries them again), changed or vanished ones wait
    for the next run, an archive that cannot keep a copy quarantines the file; anything else is a bug: raised.
    """
    if isinstance(error, ArchiveError):
        _archive_failed(cand, error, stats, buffer)
    elif isinstance(error, FileUnreadable):
        log.warning("%s", error)
        stats.unreadable.append((cand.path, str(error)))
        buffer.record(cand, UNREADABLE, str(error))
    elif isinstance(error, FileChanged):
        log.warning("%s", error)
        stats.waiting.append(cand.path)
    elif isinstance(error, FileNotFoundError):
        log.warning("%s disappeared from the server after it was listed; skipped", cand.path)
        stats.waiting.append(cand.path)
    elif isinstance(error, TransportError):
        stats.fatal = str(error)
        return True
    else:
        raise error
    return False


def file_items(plan: Plan, transport: Transport, options: LoadOptions, stats: RunStats,
               spool: Path, pipeline: dlt.Pipeline, progress: Any = None) -> Iterator[Any]:
    """Yield every file's Arrow batches, rejects and ledger row, file by file, in name order.

    Downloads run on a background thread and parsing in worker processes a few files ahead, so the
    network, the parser and dlt's writer overlap.
    """
    pii = options.pii_policy()
    buffer = _Buffer(OpenColumns.from_schema(_known_schema(pipeline)), dlt.current.load_package_state()["load_id"],
                     plan.known, identify(transport.description))
    archive = open_archive(options.archive, transport.description) if options.archive else None
    digests = ledger_digests(pipeline, plan.known) if plan.known else {}
    pool = ParsePool(max(0, options.workers), spool)

    def finished(keep: int) -> Iterator[Any]:
        """Hand on the parsed files beyond `keep` still in flight, oldest first, and free their downloads."""
        for (done, done_local, staged), outcome in pool.drain(keep=keep):
            if digests.get(done.path, staged.sha256) != staged.sha256:
                # the plan warned already when the listing showed the change; a reload (--reload) says it here
                say = log.info if done.path in stats.changed else log.warning
                say("%s: these bytes differ from the copy loaded before (sha256 %s…, now %s…); the new rows "
                    "replace the old ones", done.path, digests[done.path][:12], staged.sha256[:12])
            if _archived(archive, done, staged, outcome, stats, buffer, digests.get(done.path)):
                yield from _file_rows(done, outcome, options, stats, buffer, staged.sha256)
            transport.release(done_local)
            if progress is not None:
                progress(done)

    try:
        for cand in plan.files:
            if cand.problem is not None:
                _quarantine_file(cand, cand.problem, options, stats, buffer)
        readable = [cand for cand in plan.files if cand.problem is None]
        for cand, got, error in _downloads(readable, transport, spool, pool.capacity + 1, archive):
            if error is not None:
                if _download_failed(cand, error, stats, buffer):
                    break  # load the files already read; the rest waits for the next run
                continue
            assert got is not None
            local, staged = got
            stats.bytes_read += staged.size
            job = ParseJob(str(local), FileContext(cand.path, cand.name, cand.window_start), pii,
                           options.batch_size, options.max_line_bytes)
            pool.submit((cand, local, staged), job)
            yield from finished(keep=pool.capacity)
        yield from finished(keep=0)
        yield from buffer.flush()
        yield from rejects_table(pipeline)
    finally:
        pool.close()
        if archive is not None:
            archive.close()


def _archived(archive: Archive | None, cand: Candidate, staged: Staged, outcome: FileOutcome, stats: RunStats,
              buffer: _Buffer, loaded_before: str | None = None) -> bool:
    """Move a parsed file into the archive before any of its rows go on; False when that failed.

    A quarantined file is not archived (its staged copy is dropped): a truncated upload must not take the
    name its complete re-delivery needs. A failed write drops the file's parsed rows. `loaded_before` is the
    sha256 of the copy the ledger loaded earlier: the archive sets that copy aside for the new one.
    """
    if archive is None:
        return True
    if outcome.problem is not None:
        archive.discard(staged.tmp)
        return True
    try:
        archive.commit(staged, replaces=loaded_before)
    except ArchiveError as exc:
        discard = getattr(outcome.batches, "discard", None)
        if discard is not None:
            discard()
        _archive_failed(cand, exc, stats, buffer, staged.sha256)
        return False
    stats.files_archived += 1
    return True


def _archive_failed(cand: Candidate, exc: ArchiveError, stats: RunStats, buffer: _Buffer,
                    sha256: str | None = None) -> None:
    """A file the archive did not take loads nothing; a new file is recorded as unreadable (retried every run).

    A file the ledger has already (a --reload, a retry) keeps its ledger row and its earlier rows: recording
    it as unreadable would have the cleanup after this load delete them.
    """
    reason = f"not loaded: {exc.reason}"
    log.warning("%s: %s", cand.path, reason)
    stats.unreadable.append((cand.path, reason))
    if cand.path not in buffer.known:
        buffer.record(cand, UNREADABLE, reason, sha256=sha256)


FLUSH_BATCHES = 4
"""The buffer hands dlt its tables every FLUSH_BATCHES * batch_size sessions (20,000 by default)."""


class _Buffer:
    """Collects rows across files and hands them to dlt in large pieces.

    dlt recomputes a table's schema for every Arrow item it receives (~6 ms each on the shared machine)
    and writes each item as its own parquet row group; yielding one item per table per file made small
    files cost more than their rows. Flushing every FLUSH_BATCHES * `batch_size` sessions keeps that
    overhead small (at 100k sessions: 5 flushes of ~11 tables instead of 20) while memory stays bounded
    by the batch size (20,000 sessions are ~40 MB of Arrow data).
    """

    def __init__(self, registry: OpenColumns, load_id: str, known: set[str],
                 source: SourceIdentity | None = None) -> None:
        self.registry = registry
        self.source = source  # recorded on every ledger row: a dataset holds one account (identity.py)
        self.load_id = load_id
        self.known = known
        self.tables: dict[str, list[pa.Table]] = {}
        self.rejects: list[dict[str, Any]] = []
        self.ledger: list[dict[str, Any]] = []
        self.sessions = 0

    def record(self, cand: Candidate, status: str, reason: str | None, sessions: int = 0, rejected: int = 0,
               sha256: str | None = None) -> None:
        """The file's ledger row; `cleanup_pending` when the ledger knew it, so earlier rows may exist.

        `sha256` is the checksum of the downloaded gzip bytes (None when nothing was downloaded).
        """
        self.ledger.append({
            "file_path": cand.path, "file_name": cand.name, "day": cand.day, "window_start": cand.window_start,
            "size_bytes": cand.size,
            "modified_at": None if cand.mtime is None else datetime.fromtimestamp(cand.mtime, UTC),
            "sessions_loaded": sessions, "rejected_lines": rejected, "status": status, "reason": reason,
            "load_id": self.load_id, "loaded_at": datetime.now(UTC), CLEANUP_COLUMN: cand.path in self.known,
            "sha256": sha256, "source_account": self.source and self.source.account,
            "source_location": self.source and self.source.location,
        })

    def reject(self, cand: Candidate, line_number: int | None, reason: str, raw_text: str | None) -> None:
        self.rejects.append({"file_path": cand.path, "line_number": line_number, "reason": reason,
                             "raw_text": raw_text, "load_id": self.load_id})

    def add(self, table_name: str, table: pa.Table) -> None:
        self.tables.setdefault(table_name, []).append(self.registry.conform(table_name, table))

    def flush(self) -> Iterator[Any]:
        for table_name, parts in self.tables.items():
            table = parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="permissive")
            # dlt leaves `_dlt_load_id` off Arrow tables unless its normalizer is configured to add it; the
            # models read only rows of completed loads, so every row carries it, in any user's pipeline
            table = table.append_column("_dlt_load_id", pa.array([self.load_id] * table.num_rows, pa.string()))
            yield dlt.mark.with_table_name(table, table_name)
        if self.rejects:
            yield dlt.mark.with_hints(self.rejects, REJECT_HINTS, create_table_variant=True)
        if self.ledger:
            yield dlt.mark.with_hints(self.ledger, LEDGER_HINTS, create_table_variant=True)
        self.tables, self.rejects, self.ledger, self.sessions = {}, [], [], 0


def _file_rows(cand: Candidate, outcome: FileOutcome, options: LoadOptions, stats: RunStats,
               buffer: _Buffer, sha256: str | None = None) -> Iterator[Any]:
    """Feed one parsed file (data tables, rejects, then its ledger row) to the buffer; all in one package."""
    stats.parse_seconds += outcome.seconds
    if outcome.problem is not None:
        _quarantine_file(cand, outcome.problem, options, stats, buffer, sha256)
        return
    sessions = rejected = 0
    for batch in outcome.batches:
        if batch.rejects:
            if options.strict:
                first = batch.rejects[0]
                raise StrictModeFailure(f"{cand.path} line {first.line_number}: {first.reason}")
            rejected += len(batch.rejects)
            for r in batch.rejects[: max(0, 5 - len(stats.reject_examples))]:
                stats.reject_examples.append((cand.path, r.line_number, r.reason))
            for r in batch.rejects:
                buffer.reject(cand, r.line_number, r.reason, r.raw_text)
        for table_name, table in batch.tables.items():
            buffer.add(table_name, table)
        sessions += batch.sessions
        buffer.sessions += batch.sessions
        if buffer.sessions >= options.batch_size * FLUSH_BATCHES:
            yield from buffer.flush()
    stats.sessions += sessions
    stats.rejected_lines += rejected
    stats.files_loaded += 1
    notes = [f"{rejected} line(s) quarantined, see {REJECTS_TABLE}"] if rejected else []
    if cand.window_start is None:
        notes.append(NAME_NOTE)
        stats.odd_names.append(cand.path)
    buffer.record(cand, LOADED, "; ".join(notes) or None, sessions, rejected, sha256)


def _quarantine_file(cand: Candidate, reason: str, options: LoadOptions, stats: RunStats, buffer: _Buffer,
                     sha256: str | None = None) -> None:
    """The whole file goes to quarantine: a reject row without a line number and its ledger row."""
    if options.strict:
        raise StrictModeFailure(f"{cand.path}: {reason}")
    stats.files_quarantined.append((cand.path, reason))
    buffer.reject(cand, None, reason, None)
    buffer.record(cand, QUARANTINED, reason, sha256=sha256)
