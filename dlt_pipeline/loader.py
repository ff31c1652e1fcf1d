"""One loader run: finish anything a crashed run left, plan from the ledger, stream files into dlt.

Everything a file produces (its rows in every raw table, its rejects and its ledger row) goes into the
same dlt load package, so the warehouse sees a file completely or not at all. dlt's Arrow path is used
because our reshape already produces typed columns: dlt only writes them to parquet and loads them.
"""

from __future__ import annotations

import copy
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa

from dlt_pipeline.columns import OpenColumns
from dlt_pipeline.ledger import (
    LEDGER_TABLE,
    LOADED,
    QUARANTINED,
    REJECTS_TABLE,
    UNREADABLE,
    Ledger,
    LedgerEntry,
    last_loaded_day,
    read_ledger,
)
from dlt_pipeline.lock import RunLock
from dlt_pipeline.pii import PiiPolicy
from dlt_pipeline.plan import Candidate, earliest_day, list_candidates, look_back_start, today_utc
from dlt_pipeline.refusal import discard_package, refusal_reason
from dlt_pipeline.reshape import FileContext
from dlt_pipeline.settings import Settings
from dlt_pipeline.supersede import CLEANUP_COLUMN, remove_superseded_rows
from dlt_pipeline.testhooks import arm_during_load, checkpoint
from dlt_pipeline.transport import FileChanged, FileUnreadable, Transport, TransportError
from dlt_pipeline.workers import FileOutcome, ParseJob, ParsePool

log = logging.getLogger("session_stream")

# dlt leaves `_dlt_load_id` off Arrow tables unless asked; staging models need it to read only
# rows of completed loads.
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
# dlt otherwise keeps a parquet copy of every loaded package under the pipelines dir forever: unbounded
# disk use for a loader that runs every 15 minutes, and a second copy of the data outside the warehouse.
os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")
# DuckDB's default memory_limit is 80% of RAM: inserting a 1M-session run's parquet files peaked at 2.2 GB RSS.
# 512 MB caps the load step near 800 MB (bench/benchmark.py --rss-only); DuckDB spills to disk if it must.
os.environ.setdefault("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "512MB"}')


class StrictModeFailure(Exception):
    """--strict is on and something had to be quarantined: this run loads nothing."""


@dataclass
class RunStats:
    """What happened, for the summary and the exit code."""

    listed: int = 0
    skipped_known: int = 0
    waiting: list[str] = field(default_factory=list)
    files_loaded: int = 0
    files_quarantined: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    odd_names: list[str] = field(default_factory=list)
    retried: int = 0
    sessions: int = 0
    rejected_lines: int = 0
    reject_examples: list[tuple[str, int, str]] = field(default_factory=list)
    bytes_read: int = 0
    fatal: str | None = None
    days: tuple[date, date] | None = None
    seconds: float = 0.0


def make_pipeline(settings: Settings) -> dlt.Pipeline:
    """The dlt pipeline for the chosen destination; credentials for postgres/redshift come from dlt config."""
    if settings.destination == "duckdb":
        Path(settings.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        destination: Any = dlt.destinations.duckdb(credentials=settings.duckdb_path)
    else:
        destination = settings.destination
    kwargs: dict[str, Any] = {}
    if settings.pipelines_dir:
        kwargs["pipelines_dir"] = settings.pipelines_dir
    elif settings.destination == "duckdb":
        # keep dlt's working state beside its database: two DuckDB files on one machine never share it
        kwargs["pipelines_dir"] = str(Path(settings.duckdb_path).parent / ".dlt_pipelines")
    if settings.staging:
        kwargs["staging"] = settings.staging
    return dlt.pipeline(pipeline_name=settings.pipeline_name, destination=destination,
                        dataset_name=settings.dataset_name, **kwargs)


def loader_file_format(settings: Settings) -> str | None:
    """Parquet wherever the destination can take it directly; otherwise let dlt pick (INSERT statements).

    Redshift loads parquet only through a staging bucket (`staging = "filesystem"` plus dlt's
    `[destination.filesystem] bucket_url`); without one dlt converts our Arrow tables to INSERTs.
    """
    if settings.destination in ("duckdb", "postgres") or settings.staging:
        return "parquet"
    return None


def finish_pending(pipeline: dlt.Pipeline) -> bool:
    """Complete a package a crashed run extracted but did not load, before deciding what is new.

    If the warehouse refuses its rows, the package is taken out again: its files have no completed ledger
    row, so this run plans them afresh and isolates the file the warehouse refuses.
    """
    if not pipeline.has_pending_data:
        return False
    log.warning("finishing the load a previous run left pending before looking for new files")
    pipeline.normalize()
    replay_interrupted_jobs(pipeline)
    try:
        pipeline.load()
    except Exception as exc:
        if refusal_reason(exc) is None:
            raise
        discard_package(pipeline, getattr(exc, "load_id", None) or _pending_load_id(pipeline))
    return True


def replay_interrupted_jobs(pipeline: dlt.Pipeline) -> None:
    """Make resuming a package killed mid-load exactly-once for append tables.

    dlt re-runs a job that was in flight when the process died, but the job's transaction may already
    have committed (the crash fell between the commit and dlt marking the job done): its rows would be
    loaded twice. So for every append table of a pending package whose jobs did not all complete, the
    package's rows are deleted and all of that table's jobs run again. Merge tables (the ledger) are
    idempotent already; tables of jobs that never started are untouched.
    """
    from dlt.common.schema.utils import get_write_disposition

    normalized = Path(pipeline.working_dir) / "load" / "normalized"
    packages = sorted(p for p in normalized.glob("*") if p.is_dir()) if normalized.is_dir() else []
    if not packages:
        return
    schema = pipeline.default_schema
    with pipeline.sql_client() as client:
        for package in packages:
            load_id = package.name
            jobs: dict[str, list[Path]] = {}
            for folder in ("new_jobs", "started_jobs", "completed_jobs"):
                for job in (package / folder).glob("*"):
                    if job.is_file() and not job.name.startswith("."):
                        jobs.setdefault(job.name.split(".", 1)[0], []).append(job)
            for table, files in jobs.items():
                states = {f.parent.name for f in files}
                if states == {"completed_jobs"} or states == {"new_jobs"} or table.startswith("_dlt"):
                    continue
                if table not in schema.tables or get_write_disposition(schema.tables, table) != "append":
                    continue
                if not load_id.replace(".", "").isdigit():
                    continue
                name = client.make_qualified_table_name(table)
                try:
                    client.execute_sql(f"delete from {name} where _dlt_load_id = '{load_id}'")
                except Exception:  # noqa: BLE001 - the table was never created: nothing to undo
                    pass
                log.warning("replaying %s of interrupted load %s from scratch", table, load_id)
                for job in files:
                    if job.parent.name != "new_jobs":
                        job.rename(package / "new_jobs" / job.name)


@dataclass
class Plan:
    """The files a run loads, and which of them the ledger knows already (their earlier rows get replaced)."""

    files: list[Candidate] = field(default_factory=list)
    known: set[str] = field(default_factory=set)


def plan_files(transport: Transport, pipeline: dlt.Pipeline, settings: Settings, stats: RunStats) -> Plan:
    """Which files to load now: listed in the needed day folders and not in the ledger (or worth a retry)."""
    root = transport.list_dir("")
    if root is None:
        raise TransportError(f"source folder {transport.description} does not exist; point --source at the "
                             "account's raw_data/session_stream folder")
    end = min(settings.end_date or today_utc(), today_utc())
    start = settings.start_date or look_back_start(last_loaded_day(pipeline), settings.lookback_days)
    if start is None:
        start = earliest_day(transport, root)
        if start is None:
            log.warning("no day folders under %s yet", transport.description)
            return Plan()
    if start > end:
        return Plan()
    stats.days = (start, end)
    ledger = read_ledger(pipeline, since=start)
    files, odd = list_candidates(transport, start, end)
    for name in odd:
        log.warning("ignoring unexpected entry %s (not a Session Stream file name)", name)
    files += _retries_outside(transport, ledger, settings, start, end)
    stats.listed = len(files)
    now = time.time()
    todo = []
    for cand in files:
        entry = ledger.entries.get(cand.path)
        if not settings.reload and not _worth_loading(cand, entry, settings):
            stats.skipped_known += 1
        elif _too_young(cand, settings.min_file_age_seconds, now):
            stats.waiting.append(cand.path)
        else:
            stats.retried += entry is not None and entry.status != LOADED
            todo.append(cand)
    return Plan(todo, {cand.path for cand in todo if cand.path in ledger.entries})


def _too_young(cand: Candidate, min_age: int, now: float) -> bool:
    """Modified less than `min_age` seconds ago: the vendor may still be writing it.

    A server that reports no modification time at all (not even on stat) cannot be judged; such files
    load, and the size check after the download still catches one that grows while we read it.
    """
    return bool(min_age) and cand.mtime is not None and now - cand.mtime < min_age


def _worth_loading(cand: Candidate, entry: LedgerEntry | None, settings: Settings) -> bool:
    """New files; unreadable ones every run; quarantined ones on --retry-quarantined or once they changed.

    A file quarantined as truncated because its upload stalled longer than the minimum age is retried by
    itself as soon as its size or modification time on the server differs from what the ledger recorded.
    """
    if entry is None:
        return True
    if entry.status == UNREADABLE:
        return True
    if entry.status != QUARANTINED:
        return False
    if settings.retry_quarantined:
        return True
    if cand.problem is not None:
        return False
    changed_size = entry.size is not None and cand.size is not None and cand.size != entry.size
    changed_time = entry.modified is not None and cand.mtime is not None and abs(cand.mtime - entry.modified) > 1
    return changed_size or changed_time


def _retries_outside(transport: Transport, ledger: Ledger, settings: Settings, start: date,
                     end: date) -> list[Candidate]:
    """Unreadable files (and quarantined ones on --retry-quarantined) from days this run does not list.

    Only their own day folders are listed again, so a retry reaches a file whatever its age at the cost
    of one listing per such day.
    """
    wanted = {path for path, e in ledger.not_loaded().items()
              if e.status == UNREADABLE or settings.retry_quarantined}
    days = {day for day in map(_day_of, wanted) if day is not None and not start <= day <= end}
    found: list[Candidate] = []
    for day in sorted(days):
        found += [c for c in list_candidates(transport, day, day)[0] if c.path in wanted]
    return found


def _day_of(path: str) -> date | None:
    try:
        y, m, d = path.split("/")[:3]
        return date(int(y), int(m), int(d))
    except ValueError:
        return None


NAME_NOTE = "file name does not follow the vendor's pattern YYYYMMDDTHHMMSS.sssZ_PT15M-TOKEN.json.gz (no window start)"


LEDGER_HINTS = dlt.mark.make_hints(table_name=LEDGER_TABLE, write_disposition="merge", primary_key="file_path",
                                   columns={"reason": {"data_type": "text", "nullable": True},
                                            "window_start": {"data_type": "timestamp", "nullable": True},
                                            "modified_at": {"data_type": "timestamp", "nullable": True},
                                            CLEANUP_COLUMN: {"data_type": "bool", "nullable": True}})
REJECT_HINTS = dlt.mark.make_hints(table_name=REJECTS_TABLE, write_disposition="append",
                                   columns={"line_number": {"data_type": "bigint", "nullable": True},
                                            "raw_text": {"data_type": "text", "nullable": True}})


def _downloads(files: list[Candidate], transport: Transport, spool: Path,
               depth: int) -> Iterator[tuple[Candidate, Path | None, BaseException | None]]:
    """Download files in name order on a background thread, up to `depth` files ahead of the parser.

    Network time then overlaps parsing and dlt's writing instead of adding to it (on a real link with
    tens of milliseconds of latency this is most of a run). Yields (file, local path or None, error).
    The thread stops after a fatal transport error; the consumer decides what each error means.
    """
    items: queue.Queue[tuple[Candidate, Path | None, BaseException | None] | None] = queue.Queue(maxsize=depth)
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
                checkpoint("after_download")
                items.put((cand, local, None))
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
                transport.release(leftover[1])
        thread.join()


def _known_schema(pipeline: dlt.Pipeline) -> Any | None:
    """dlt's schema of earlier loads (None on a first run): open columns keep the types recorded there."""
    return pipeline.default_schema if pipeline.default_schema_name else None


def file_items(plan: Plan, transport: Transport, settings: Settings, stats: RunStats,
               spool: Path, pipeline: dlt.Pipeline, progress: Any = None) -> Iterator[Any]:
    """Yield every file's Arrow batches, rejects and ledger row, file by file, in name order.

    Downloads run on a background thread and parsing in worker processes a few files ahead, so the
    network, the parser and dlt's writer overlap.
    """
    pii = PiiPolicy(settings.pii_mode,  # type: ignore[arg-type]
                    frozenset(settings.pii_target_ids) if settings.pii_target_ids else None,
                    (settings.pii_salt or "").encode())
    buffer = _Buffer(OpenColumns.from_schema(_known_schema(pipeline)), dlt.current.load_package_state()["load_id"],
                     plan.known)
    pool = ParsePool(max(0, settings.workers), spool)

    def finished(keep: int) -> Iterator[Any]:
        """Hand on the parsed files beyond `keep` still in flight, oldest first, and free their downloads."""
        for (done, done_local), outcome in pool.drain(keep=keep):
            yield from _file_rows(done, outcome, settings, stats, buffer)
            transport.release(done_local)
            if progress is not None:
                progress(done)

    try:
        for cand in plan.files:
            if cand.problem is not None:
                _quarantine_file(cand, cand.problem, settings, stats, buffer)
        readable = [cand for cand in plan.files if cand.problem is None]
        for cand, local, error in _downloads(readable, transport, spool, pool.capacity + 1):
            if isinstance(error, FileUnreadable):
                log.warning("%s", error)
                stats.unreadable.append((cand.path, str(error)))
                buffer.record(cand, UNREADABLE, str(error))
                continue
            if isinstance(error, FileChanged):
                log.warning("%s", error)
                stats.waiting.append(cand.path)
                continue
            if isinstance(error, FileNotFoundError):
                log.warning("%s disappeared from the server after it was listed; skipped", cand.path)
                stats.waiting.append(cand.path)
                continue
            if isinstance(error, TransportError):
                stats.fatal = str(error)
                break  # load the files already read; the rest waits for the next run
            if error is not None:
                raise error
            assert local is not None
            stats.bytes_read += local.stat().st_size
            job = ParseJob(str(local), FileContext(cand.path, cand.name, cand.window_start), pii,
                           settings.batch_size, settings.max_line_bytes)
            pool.submit((cand, local), job)
            yield from finished(keep=pool.capacity)
        yield from finished(keep=0)
        yield from buffer.flush()
    finally:
        pool.close()


class _Buffer:
    """Collects rows across files and hands them to dlt in large pieces.

    dlt recomputes a table's schema for every Arrow item it receives (~2 ms each); yielding one item
    per table per file made small files cost more than their rows. Flushing every `batch_size`
    sessions keeps that overhead negligible while memory stays bounded by the batch size.
    """

    def __init__(self, registry: OpenColumns, load_id: str, known: set[str]) -> None:
        self.registry = registry
        self.load_id = load_id
        self.known = known
        self.tables: dict[str, list[pa.Table]] = {}
        self.rejects: list[dict[str, Any]] = []
        self.ledger: list[dict[str, Any]] = []
        self.sessions = 0

    def record(self, cand: Candidate, status: str, reason: str | None, sessions: int = 0, rejected: int = 0) -> None:
        """The file's ledger row; `cleanup_pending` when the ledger knew it, so earlier rows may exist."""
        self.ledger.append({
            "file_path": cand.path, "file_name": cand.name, "day": cand.day, "window_start": cand.window_start,
            "size_bytes": cand.size,
            "modified_at": None if cand.mtime is None else datetime.fromtimestamp(cand.mtime, UTC),
            "sessions_loaded": sessions, "rejected_lines": rejected, "status": status, "reason": reason,
            "load_id": self.load_id, "loaded_at": datetime.now(UTC), CLEANUP_COLUMN: cand.path in self.known,
        })

    def reject(self, cand: Candidate, line_number: int | None, reason: str, raw_text: str | None) -> None:
        self.rejects.append({"file_path": cand.path, "line_number": line_number, "reason": reason,
                             "raw_text": raw_text, "load_id": self.load_id})

    def add(self, table_name: str, table: pa.Table) -> None:
        self.tables.setdefault(table_name, []).append(self.registry.conform(table_name, table))

    def flush(self) -> Iterator[Any]:
        for table_name, parts in self.tables.items():
            table = parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="permissive")
            yield dlt.mark.with_table_name(table, table_name)
        if self.rejects:
            yield dlt.mark.with_hints(self.rejects, REJECT_HINTS, create_table_variant=True)
        if self.ledger:
            yield dlt.mark.with_hints(self.ledger, LEDGER_HINTS, create_table_variant=True)
        self.tables, self.rejects, self.ledger, self.sessions = {}, [], [], 0


def _file_rows(cand: Candidate, outcome: FileOutcome, settings: Settings, stats: RunStats,
               buffer: _Buffer) -> Iterator[Any]:
    """Feed one parsed file (data tables, rejects, then its ledger row) to the buffer; all in one package."""
    if outcome.problem is not None:
        _quarantine_file(cand, outcome.problem, settings, stats, buffer)
        return
    sessions = rejected = 0
    for batch in outcome.batches:
        if batch.rejects:
            if settings.strict:
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
        if buffer.sessions >= settings.batch_size:
            yield from buffer.flush()
    stats.sessions += sessions
    stats.rejected_lines += rejected
    stats.files_loaded += 1
    notes = [f"{rejected} line(s) quarantined, see {REJECTS_TABLE}"] if rejected else []
    if cand.window_start is None:
        notes.append(NAME_NOTE)
        stats.odd_names.append(cand.path)
    buffer.record(cand, LOADED, "; ".join(notes) or None, sessions, rejected)


def _quarantine_file(cand: Candidate, reason: str, settings: Settings, stats: RunStats, buffer: _Buffer) -> None:
    """The whole file goes to quarantine: a reject row without a line number and its ledger row."""
    if settings.strict:
        raise StrictModeFailure(f"{cand.path}: {reason}")
    stats.files_quarantined.append((cand.path, reason))
    buffer.reject(cand, None, reason, None)
    buffer.record(cand, QUARANTINED, reason)


def run_load(settings: Settings, transport: Transport, progress_factory: Any = None) -> RunStats:
    """Load every new file once; return the run's statistics (raises on fatal configuration errors)."""
    started = time.perf_counter()
    stats = RunStats()
    pipeline = make_pipeline(settings)
    with RunLock(pipeline, settings):
        finish_pending(pipeline)
        remove_superseded_rows(pipeline)  # a re-load whose cleanup a crash (or the package above) left to do
        for stale in Path(pipeline.working_dir).glob("spool-*"):
            shutil.rmtree(stale, ignore_errors=True)  # downloads left by a killed run
        checkpoint("before_plan")
        plan = plan_files(transport, pipeline, settings, stats)
        if plan.files:
            _load_plan(pipeline, plan, transport, settings, stats, progress_factory)
    stats.seconds = time.perf_counter() - started
    return stats


def _load_plan(pipeline: dlt.Pipeline, plan: Plan, transport: Transport, settings: Settings, stats: RunStats,
               progress_factory: Any) -> None:
    """Extract, normalize and load the plan as one package; if the warehouse refuses rows, isolate the file.

    A refused package is taken out again and its files are loaded in halves, recursively, so every file
    the warehouse accepts loads and each file it refuses is quarantined with the database's message.
    """
    before = copy.deepcopy(stats)
    _extract_and_normalize(pipeline, plan, transport, settings, stats, progress_factory)
    # a failure from here on leaves the package pending; the next run finishes it first
    arm_during_load(pipeline)
    try:
        pipeline.load()
    except Exception as exc:
        reason = refusal_reason(exc)
        if reason is None or all(cand.problem for cand in plan.files):
            raise  # not a refusal of data, or even the quarantine rows alone were refused
        discard_package(pipeline, getattr(exc, "load_id", None) or _pending_load_id(pipeline))
        if settings.strict:
            raise StrictModeFailure(f"the warehouse refused rows: {reason}") from None
        vars(stats).update(vars(before))
        _isolate(pipeline, plan, reason, transport, settings, stats, progress_factory)
        return
    checkpoint("after_load")
    remove_superseded_rows(pipeline)


def _isolate(pipeline: dlt.Pipeline, plan: Plan, reason: str, transport: Transport, settings: Settings,
             stats: RunStats, progress_factory: Any) -> None:
    """Load the halves of a refused plan; a single refused file is quarantined with the warehouse's reason."""
    if len(plan.files) == 1:
        problem = (f"the warehouse refused its rows ({reason}); the other files loaded. Fix the cause in the "
                   "warehouse, then run with --retry-quarantined")
        plan = Plan([replace(plan.files[0], problem=problem)], plan.known)
        log.warning("%s: %s", plan.files[0].path, problem)
    else:
        log.warning("the warehouse refused rows (%s); loading the %d files in smaller groups to find the file",
                    reason, len(plan.files))
    middle = (len(plan.files) + 1) // 2
    for part in (plan.files[:middle], plan.files[middle:]):
        if part:
            _load_plan(pipeline, Plan(part, plan.known & {c.path for c in part}), transport, settings, stats,
                       progress_factory)


def _pending_load_id(pipeline: dlt.Pipeline) -> str:
    return pipeline.list_normalized_load_packages()[0]


def _extract_and_normalize(pipeline: dlt.Pipeline, plan: Plan, transport: Transport, settings: Settings,
                           stats: RunStats, progress_factory: Any) -> None:
    """Write the run's one load package: every planned file's rows, rejects and ledger row."""
    spool = Path(tempfile.mkdtemp(prefix="spool-", dir=pipeline.working_dir))
    progress = progress_factory(plan.files) if progress_factory else None
    resource = dlt.resource(
        file_items(plan, transport, settings, stats, spool, pipeline, progress.advance if progress else None),
        name="session_stream", file_format=loader_file_format(settings))
    try:
        pipeline.extract(resource)
        checkpoint("after_extract")
        pipeline.normalize()
        checkpoint("after_normalize")
    except BaseException:
        # nothing reached the warehouse yet: never leave a half-made package for the next run
        pipeline.abort_packages()
        raise
    finally:
        if progress:
            progress.close()
        shutil.rmtree(spool, ignore_errors=True)
