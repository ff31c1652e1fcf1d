"""`--check`: is every window of the last days loaded, and if not, why? Lists and reads the ledger; loads nothing.

One command answers the operator's question for a range of day folders (default: the days the hourly
completeness scan watches). It lists only those day folders (plus the oldest ones, for the retention
guard) and compares them with the ledger of completed loads:

- a due window (ended over two hours ago) without a loaded file is missing, the same definition as the dbt
  monitor `delivery_windows` (see `_windows`); the report tells a window never delivered from one
  whose file is on the server but not loaded;
- a file on the server without a `loaded` ledger row is not loaded, with the reason the next run has:
  quarantined, unreadable, too young, outside the look-back (the completeness scan gets it), beyond the
  scan too (only a backfill gets it), or simply new;
- a loaded file the server no longer has is expired (its rows are safe in the warehouse).

Exit 7 (EXIT_INCOMPLETE) when a window is missing, a file is quarantined or unreadable, a file has waited
longer than the two-hour grace (the schedule should have loaded it), a file lies beyond every automatic
listing, or unloaded files are close to the vendor's deletion. Expired files are reported, never a failure.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
from rich.console import Console
from rich.markup import escape

from dlt_pipeline import exit_codes as codes
from dlt_pipeline.duckdb_access import DuckDBLocked, wait_for_file
from dlt_pipeline.exception_chain import first_line
from dlt_pipeline.run_history import print_json
from dlt_pipeline.scheduled_run import make_pipeline
from dlt_pipeline.session_stream.coverage import DELIVERY_GRACE, RetentionRisk, days, due_windows, scan_days
from dlt_pipeline.session_stream.identity import SourceMismatch
from dlt_pipeline.session_stream.ledger import LOADED, QUARANTINED, UNREADABLE, Ledger, last_loaded_day, ledger_between
from dlt_pipeline.session_stream.plan import (
    Candidate,
    changed_since_loaded,
    check_source,
    list_candidates,
    look_back_start,
    retention_risk,
    window_start,
)
from dlt_pipeline.session_stream.run_stats import RunStats
from dlt_pipeline.session_stream.transport import Transport, TransportError, open_transport
from dlt_pipeline.settings import Settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

REASONS = {
    "quarantined": "quarantined (fix, then --retry-quarantined)",
    "unreadable": "unreadable on the server (every run tries again)",
    "too_young": "too young (modified less than --min-file-age-seconds ago)",
    "new": "new (the next run loads it)",
    "outside_lookback": "outside the look-back (the hourly completeness scan loads it)",
    "beyond_scan": "outside the look-back and the completeness scan (backfill with --start-date)",
    "changed": "changed on the server since it was loaded (the next run loads it again; its new rows replace the old)",
}
ALWAYS_FAILS = ("quarantined", "unreadable", "beyond_scan", "changed")


@dataclass
class Unloaded:
    """A file on the server without a `loaded` ledger row, and why."""

    path: str
    reason: str
    overdue: bool  # fails the check: always for ALWAYS_FAILS, else on the server longer than the grace


@dataclass
class DayReport:
    """One day folder: due windows, windows without any file, files on the server and what became of them."""

    day: date
    windows_due: int
    missing: list[datetime]
    on_server: int
    loaded: int
    not_loaded: Counter[str] = field(default_factory=Counter)
    expired: int = 0
    undelivered: list[datetime] = field(default_factory=list)  # missing windows without any file (server or ledger)


@dataclass
class CheckReport:
    """Everything `--check` found for a range of day folders."""

    first: date
    last: date
    source: str
    days: list[DayReport]
    unloaded: list[Unloaded]
    expired: list[str]
    retention: RetentionRisk | None

    @property
    def complete(self) -> bool:
        return (not any(d.missing for d in self.days) and not any(u.overdue for u in self.unloaded)
                and self.retention is None)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (dates ISO, windows as UTC timestamps)."""
        return {
            "status": "complete" if self.complete else "incomplete",
            "exit_code": codes.EXIT_OK if self.complete else codes.EXIT_INCOMPLETE,
            "source": self.source, "first_day": self.first.isoformat(), "last_day": self.last.isoformat(),
            "totals": self.totals(),
            "days": [{"day": d.day.isoformat(), "windows_due": d.windows_due, "windows_missing": len(d.missing),
                      "files_on_server": d.on_server, "files_loaded": d.loaded,
                      "files_not_loaded": dict(d.not_loaded), "files_expired": d.expired} for d in self.days],
            "missing_windows": [w.strftime("%Y-%m-%dT%H:%M:%SZ") for d in self.days for w in d.missing],
            "undelivered_windows": [w.strftime("%Y-%m-%dT%H:%M:%SZ") for d in self.days for w in d.undelivered],
            "not_loaded": [{"path": u.path, "reason": u.reason, "overdue": u.overdue} for u in self.unloaded],
            "expired": self.expired,
            "retention": None if self.retention is None else {
                "files": self.retention.files, "first_day": self.retention.first_day.isoformat(),
                "last_day": self.retention.last_day.isoformat(), "expires": self.retention.expires.isoformat(),
                "days_left": self.retention.days_left, "message": self.retention.message()},
        }

    def totals(self) -> dict[str, int]:
        return {"windows_due": sum(d.windows_due for d in self.days),
                "windows_missing": sum(len(d.missing) for d in self.days),
                "windows_undelivered": sum(len(d.undelivered) for d in self.days),
                "files_on_server": sum(d.on_server for d in self.days),
                "files_loaded": sum(d.loaded for d in self.days),
                "files_not_loaded": len(self.unloaded), "files_overdue": sum(u.overdue for u in self.unloaded),
                "files_expired": len(self.expired)}


def check_range(settings: Settings, today: date) -> tuple[date, date]:
    """--start-date..--end-date, else the last --completeness-days days (7 when the scan is off)."""
    last = settings.end_date or today
    first = settings.start_date or (today - timedelta(days=(settings.completeness_days or 7) - 1))
    return min(first, last), last


def build_report(transport: Transport, pipeline: dlt.Pipeline | None, settings: Settings,
                 now: datetime) -> CheckReport:
    """List the range's day folders (and the oldest ones), read the ledger, and compare."""
    today = now.date()
    first, last = check_range(settings, today)
    root = transport.list_dir("")
    if root is None:
        raise TransportError(f"source folder {transport.description} does not exist; point --source at the "
                             "account's raw_data/session_stream folder")
    check_source(transport, pipeline)  # another account's ledger would make every file look new
    files, _odd = list_candidates(transport, first, last)
    ledger = ledger_between(pipeline, first, last)
    next_first = look_back_start(last_loaded_day(pipeline), settings.lookback_days) if pipeline else None
    scanned = scan_days(today, next_first, settings.completeness_days) if next_first else None
    unloaded = [u for c in files if (u := _unloaded(c, ledger, next_first, scanned, settings, now.timestamp()))]
    on_server = {c.path for c in files}
    expired = sorted(p for p, e in ledger.entries.items() if e.status == LOADED and p not in on_server)
    windows = _windows(files, ledger)
    reports = [_day_report(day, files, windows, unloaded, expired, now) for day in days(first, last)]
    risk = retention_risk(transport, pipeline, root, settings.retention_warn_days, today)
    return CheckReport(first, last, transport.description, reports, unloaded, expired, risk)


def _unloaded(cand: Candidate, ledger: Ledger, next_first: date | None, scanned: tuple[date, date] | None,
              settings: Settings, now: float) -> Unloaded | None:
    """Why a file on the server is not loaded (None when it is), as the next run would see it."""
    entry = ledger.entries.get(cand.path)
    if entry is not None and entry.status == LOADED and not changed_since_loaded(cand, entry):
        return None
    if entry is not None and entry.status == LOADED:
        reason = "changed"
    elif entry is not None and entry.status in (QUARANTINED, UNREADABLE):
        reason = entry.status
    elif settings.min_file_age_seconds and cand.mtime is not None and now - cand.mtime < settings.min_file_age_seconds:
        reason = "too_young"
    elif next_first is None or cand.day >= next_first:
        reason = "new"
    elif scanned is not None and scanned[0] <= cand.day <= scanned[1]:
        reason = "outside_lookback"
    else:
        reason = "beyond_scan"
    waited = now - cand.mtime if cand.mtime is not None else float("inf")
    return Unloaded(cand.path, reason, reason in ALWAYS_FAILS or waited > DELIVERY_GRACE.total_seconds())


@dataclass(frozen=True)
class Windows:
    """Window starts with a loaded file (in the ledger), and with any file at all (server or ledger, any status)."""

    loaded: set[datetime]
    delivered: set[datetime]


def _windows(files: list[Candidate], ledger: Ledger) -> Windows:
    """Which windows are loaded and which delivered, by the window start in the file name (whatever its folder).

    The one definition `--check` shares with the dbt monitor `delivery_windows`: a window is
    *missing* when it is due (ended over two hours ago) and no file of it is loaded; a file on the server
    that is not loaded (new, quarantined, unreadable) does not fill it. `delivered` only tells the two kinds
    of missing window apart: never delivered (ask the vendor), or delivered and not loaded (see why).
    """
    def start(path: str) -> datetime | None:
        return window_start(path.rsplit("/", 1)[-1])

    loaded = {start(p) for p, e in ledger.entries.items() if e.status == LOADED}
    delivered = loaded | {start(p) for p in ledger.entries} | {c.window_start for c in files}
    return Windows({w for w in loaded if w}, {w for w in delivered if w})


def _day_report(day: date, files: list[Candidate], windows: Windows, unloaded: list[Unloaded], expired: list[str],
                now: datetime) -> DayReport:
    prefix = f"{day:%Y/%m/%d}/"
    mine = [c for c in files if c.day == day]
    due = due_windows(day, now)
    missing = [w for w in due if w not in windows.loaded]
    gone = [u for u in unloaded if u.path.startswith(prefix)]
    return DayReport(day, len(due), missing, len(mine), len(mine) - len(gone),
                     Counter(u.reason for u in gone), sum(p.startswith(prefix) for p in expired),
                     [w for w in missing if w not in windows.delivered])


# -- output ------------------------------------------------------------------------------------------


def print_report(report: CheckReport) -> None:
    """A short table per day, the totals, then what is missing or waiting and why."""
    out.print(f"[bold]Session Stream completeness[/] of day folders {report.first} .. {report.last} "
              f"on {escape(report.source)}")
    out.print(f"  {'day':<10}  {'windows due':>11}  {'missing':>7}  {'files':>5}  {'loaded':>6}  "
              f"{'not loaded':>10}  {'expired':>7}")
    for d in report.days:
        out.print(f"  {d.day.isoformat():<10}  {d.windows_due:>11}  {len(d.missing):>7}  {d.on_server:>5}  "
                  f"{d.loaded:>6}  {sum(d.not_loaded.values()):>10}  {d.expired:>7}")
    t = report.totals()
    out.print(f"  {'total':<10}  {t['windows_due']:>11}  {t['windows_missing']:>7}  {t['files_on_server']:>5}  "
              f"{t['files_loaded']:>6}  {t['files_not_loaded']:>10}  {t['files_expired']:>7}")
    for d in report.days:
        delivered = [w for w in d.missing if w not in d.undelivered]
        if d.undelivered:
            out.print(f"  [yellow]missing windows[/] {d.day}: {_times(d.undelivered)} (UTC; no file on the server or "
                      "in the ledger; ask the vendor to deliver them)")
        if delivered:
            out.print(f"  [yellow]missing windows[/] {d.day}: {_times(delivered)} (UTC; delivered, not loaded: "
                      "see 'not loaded' below)")
    for u in report.unloaded[:20]:
        out.print(f"  [yellow]not loaded[/] {escape(u.path)}: {REASONS[u.reason]}{_lateness(u)}")
    if len(report.unloaded) > 20:
        out.print(f"  ... and {len(report.unloaded) - 20} more not loaded (--json lists all)")
    for path in report.expired[:5]:
        out.print(f"  expired from the server (rows kept in the warehouse): {escape(path)}")
    if report.retention is not None:
        out.print(f"  [red]retention:[/] {escape(report.retention.message())}")
    verdict = "complete" if report.complete else f"INCOMPLETE (exit {codes.EXIT_INCOMPLETE})"
    out.print(f"  result: {verdict}")


def _times(windows: list[datetime]) -> str:
    shown = ", ".join(w.strftime("%H:%M") for w in windows[:12])
    return shown + (f" and {len(windows) - 12} more" if len(windows) > 12 else "")


def _lateness(u: Unloaded) -> str:
    if u.reason in ALWAYS_FAILS:
        return ""
    if u.overdue:
        return "; on the server for over 2 hours: is the scheduled load running?"
    return "; not overdue yet"


def run(settings: Settings) -> int:
    """`--check`: print the report (human or --json) and return 0 when complete, EXIT_INCOMPLETE when not."""
    try:
        transport = open_transport(settings.credentials())
    except TransportError as exc:
        return _fail(settings, codes.EXIT_ERROR, str(exc))
    started = time.perf_counter()
    try:
        if settings.destination == "duckdb":  # a load holding the file: wait like a load would, then say who
            wait_for_file(settings.duckdb_path, settings.lock_wait_seconds, "--check", notify=err.print)
        report = build_report(transport, _pipeline_if_loaded(settings), settings, datetime.now(UTC))
    except DuckDBLocked as exc:
        return _fail(settings, codes.EXIT_LOCKED, str(exc))
    except SourceMismatch as exc:
        return _fail(settings, codes.EXIT_USAGE, str(exc))
    except TransportError as exc:
        return _fail(settings, codes.EXIT_ERROR, f"{exc}; nothing was checked")
    except Exception as exc:  # noqa: BLE001 - the warehouse's own errors: one line, not a traceback
        if os.environ.get("SESSION_STREAM_DEBUG"):
            raise
        first = first_line(exc, default="")
        return _fail(settings, codes.EXIT_ERROR, f"--check could not read the ledger: {type(exc).__name__}: {first}")
    finally:
        transport.close()
    if settings.json:
        print_json({**report.as_dict(), "seconds": round(time.perf_counter() - started, 3)})
    else:
        print_report(report)
    return codes.EXIT_OK if report.complete else codes.EXIT_INCOMPLETE


def _fail(settings: Settings, code: int, message: str) -> int:
    """One line on stderr; with --json also the one JSON object a scheduler expects on stdout."""
    err.print(f"[red]error:[/] {escape(message)}")
    if settings.json:
        print_json({"status": "error", "exit_code": code, "message": message})
    return code


def _pipeline_if_loaded(settings: Settings) -> dlt.Pipeline | None:
    """The pipeline whose ledger to read; None for a DuckDB file that does not exist yet (never create it)."""
    if settings.destination == "duckdb" and not Path(settings.duckdb_path).exists():
        return None
    return make_pipeline(settings)


def run_notes(stats: RunStats) -> list[str]:
    """Summary lines of a load run about the completeness scan and the retention guard (empty when quiet)."""
    notes: list[str] = []
    scan = stats.completeness_scan
    if scan is not None and scan.found:
        failed = {p for p, _ in stats.files_quarantined} | {p for p, _ in stats.unreadable} | set(stats.waiting)
        done = "loaded" if not stats.fatal and not failed & set(scan.found) else "not all loaded (see above)"
        notes.append(f"completeness scan: {len(scan.found)} late file(s) found in {scan.first}..{scan.last}, {done}")
    elif scan is not None:
        notes.append(f"completeness scan: no late files in {scan.first}..{scan.last}")
    if stats.retention_risk is not None:
        notes.append(f"[red]RETENTION WARNING:[/] {escape(stats.retention_risk.message())}")
    return notes
