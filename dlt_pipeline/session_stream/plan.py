"""Decide which files a run loads: list only the day folders the look-back needs, skip what the ledger has.

Peers that keep a cursor on modification time or on the highest file name miss late files; peers that
rescan everything get slower every day for 820 days. We list the month folders in range (to learn
which days exist) and then only those day folders, and compare names with the ledger.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import dlt

from dlt_pipeline.session_stream.ledger import (
    LOADED,
    QUARANTINED,
    UNREADABLE,
    Ledger,
    LedgerEntry,
    last_loaded_day,
    read_ledger,
)
from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.session_stream.run_stats import RunStats
from dlt_pipeline.session_stream.transport import RemoteEntry, Transport, TransportError

log = logging.getLogger("session_stream")
NAME_RE = re.compile(r"^(\d{8}T\d{6}\.\d{3}Z)_PT15M-([0-9A-Za-z]+)\.json\.gz$")


@dataclass(frozen=True)
class Candidate:
    """A file on the server that this run may load.

    `size` and `mtime` are None only when the server reports them neither in the listing nor on stat.
    `problem` is set for an entry that must not be downloaded (e.g. a symlink leading outside the account
    folder): the loader quarantines it with that reason.
    """

    path: str  # relative to the session_stream folder: YYYY/MM/DD/name
    name: str
    day: date
    window_start: datetime | None
    size: int | None
    mtime: float | None
    problem: str | None = None


def window_start(name: str) -> datetime | None:
    """The 15-minute window start encoded in a Session Stream file name (UTC), or None for other names."""
    match = NAME_RE.match(name)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _months(start: date, end: date) -> list[tuple[int, int]]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _numeric_dirs(entries: list[RemoteEntry] | None, width: int, where: str = "") -> list[int]:
    """The YYYY / MM / DD folders of a listing, each once, in order (entries may repeat on some servers).

    A folder-like name the transport would not follow (a symlink to elsewhere) is named in a warning
    rather than dropped silently: a whole day behind it would otherwise go unnoticed.
    """
    found = set()
    for e in entries or []:
        if not (e.name.isdigit() and len(e.name) == width):
            continue
        if e.problem:
            log.warning("ignoring %s: %s", f"{where}/{e.name}".lstrip("/"), e.problem)
        elif e.is_dir:
            found.add(int(e.name))
    return sorted(found)


def earliest_day(transport: Transport, root: list[RemoteEntry]) -> date | None:
    """First day folder on the server: where a first run with no --start-date begins (one listing per level).

    `root` is the listing of the session_stream folder the caller already made.
    """
    for year in _numeric_dirs(root, 4):
        for month in _numeric_dirs(transport.list_dir(f"{year:04d}"), 2, f"{year:04d}"):
            days = _numeric_dirs(transport.list_dir(f"{year:04d}/{month:02d}"), 2, f"{year:04d}/{month:02d}")
            if days:
                return date(year, month, days[0])
    return None


def list_candidates(transport: Transport, start: date, end: date) -> tuple[list[Candidate], list[str]]:
    """All `.json.gz` files in day folders from start through end, in name order, plus unexpected names.

    A listing that fails raises (after the transport's retries): a day must never look empty because
    the server hiccupped. A name listed twice is one candidate; entries the transport would not follow
    keep their `problem`.
    """
    files: list[Candidate] = []
    odd: list[str] = []
    for year, month in _months(start, end):
        month_rel = f"{year:04d}/{month:02d}"
        for day_num in _numeric_dirs(transport.list_dir(month_rel), 2, month_rel):
            try:
                day = date(year, month, day_num)
            except ValueError:
                continue
            if not start <= day <= end:
                continue
            rel = f"{month_rel}/{day_num:02d}"
            entries = transport.list_dir(rel)
            if entries is None:
                raise TransportError(f"day folder {rel} disappeared while listing; run again")
            seen: set[str] = set()
            for entry in entries:
                if entry.name in seen:
                    continue
                seen.add(entry.name)
                if entry.is_dir:
                    continue
                if not entry.name.endswith(".json.gz"):
                    continue
                if ("/" in entry.name or "\\" in entry.name or entry.name.startswith(".")
                        or any(ord(ch) < 32 or ord(ch) == 127 for ch in entry.name)):
                    odd.append(f"{rel}/{entry.name!r}")
                    continue
                files.append(Candidate(f"{rel}/{entry.name}", entry.name, day, window_start(entry.name),
                                       entry.size, entry.mtime, entry.problem))
    files.sort(key=lambda c: (c.name, c.path))
    return files, odd


def look_back_start(last_loaded: date | None, lookback_days: int) -> date | None:
    """First day to list on an incremental run: the last loaded day minus the look-back."""
    return None if last_loaded is None else last_loaded - timedelta(days=lookback_days)


def today_utc() -> date:
    return datetime.now(UTC).date()


@dataclass
class Plan:
    """The files a run loads, and which of them the ledger knows already (their earlier rows get replaced)."""

    files: list[Candidate] = field(default_factory=list)
    known: set[str] = field(default_factory=set)


def plan_files(transport: Transport, pipeline: dlt.Pipeline, options: LoadOptions, stats: RunStats) -> Plan:
    """Which files to load now: listed in the needed day folders and not in the ledger (or worth a retry)."""
    root = transport.list_dir("")
    if root is None:
        raise TransportError(f"source folder {transport.description} does not exist; point --source at the "
                             "account's raw_data/session_stream folder")
    end = min(options.end_date or today_utc(), today_utc())
    start = options.start_date or look_back_start(last_loaded_day(pipeline), options.lookback_days)
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
    files += _retries_outside(transport, ledger, options, start, end)
    stats.listed = len(files)
    now = time.time()
    todo = []
    for cand in files:
        entry = ledger.entries.get(cand.path)
        if not options.reload and not _worth_loading(cand, entry, options):
            stats.skipped_known += 1
        elif _too_young(cand, options.min_file_age_seconds, now):
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


def _worth_loading(cand: Candidate, entry: LedgerEntry | None, options: LoadOptions) -> bool:
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
    if options.retry_quarantined:
        return True
    if cand.problem is not None:
        return False
    changed_size = entry.size is not None and cand.size is not None and cand.size != entry.size
    changed_time = entry.modified is not None and cand.mtime is not None and abs(cand.mtime - entry.modified) > 1
    return changed_size or changed_time


def _retries_outside(transport: Transport, ledger: Ledger, options: LoadOptions, start: date,
                     end: date) -> list[Candidate]:
    """Unreadable files (and quarantined ones on --retry-quarantined) from days this run does not list.

    Only their own day folders are listed again, so a retry reaches a file whatever its age at the cost
    of one listing per such day.
    """
    wanted = {path for path, e in ledger.not_loaded().items()
              if e.status == UNREADABLE or options.retry_quarantined}
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
