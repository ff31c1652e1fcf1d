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

from dlt_pipeline.session_stream.coverage import (
    CompletenessScan,
    RetentionRisk,
    expires_on,
    is_due,
    last_day_at_risk,
    scan_days,
)
from dlt_pipeline.session_stream.identity import identify, recorded_identities, verify_source
from dlt_pipeline.session_stream.ledger import (
    LOADED,
    QUARANTINED,
    UNREADABLE,
    Ledger,
    LedgerEntry,
    last_loaded_day,
    ledger_between,
    ledger_sources,
    read_ledger,
)
from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.session_stream.plan_events import announce
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


def _day_folders(transport: Transport, year: int, month: int) -> list[date]:
    """The day folders of one month folder that are real dates, in order (one listing)."""
    month_rel = f"{year:04d}/{month:02d}"
    days = []
    for day_num in _numeric_dirs(transport.list_dir(month_rel), 2, month_rel):
        try:
            days.append(date(year, month, day_num))
        except ValueError:
            continue
    return days


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
        for day in _day_folders(transport, year, month):
            if not start <= day <= end:
                continue
            day_files, day_odd = day_candidates(transport, day)
            files += day_files
            odd += day_odd
    files.sort(key=lambda c: (c.name, c.path))
    return files, odd


def day_candidates(transport: Transport, day: date, missing_ok: bool = False) -> tuple[list[Candidate], list[str]]:
    """The `.json.gz` files of one day folder that was listed (one listing), plus unexpected names.

    A folder gone since its month was listed fails the run (a day must never look empty), except with
    `missing_ok`: the retention guard lists the oldest days, which the vendor deletes at any moment.
    """
    rel = f"{day:%Y/%m/%d}"
    entries = transport.list_dir(rel)
    if entries is None and missing_ok:
        return [], []
    if entries is None:
        raise TransportError(f"day folder {rel} disappeared while listing; run again")
    files: list[Candidate] = []
    odd: list[str] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen or entry.is_dir or not entry.name.endswith(".json.gz"):
            continue
        seen.add(entry.name)
        if ("/" in entry.name or "\\" in entry.name or entry.name.startswith(".")
                or any(ord(ch) < 32 or ord(ch) == 127 for ch in entry.name)):
            odd.append(f"{rel}/{entry.name!r}")
            continue
        files.append(Candidate(f"{rel}/{entry.name}", entry.name, day, window_start(entry.name),
                               entry.size, entry.mtime, entry.problem))
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
    plan = _plan_files(transport, pipeline, options, stats)
    announce(pipeline, len(plan.files), options.workers)  # e.g. the command line's head start (plan_events.py)
    return plan


def _plan_files(transport: Transport, pipeline: dlt.Pipeline, options: LoadOptions, stats: RunStats) -> Plan:
    root = transport.list_dir("")
    if root is None:
        raise TransportError(f"source folder {transport.description} does not exist; point --source at the "
                             "account's raw_data/session_stream folder")
    check_source(transport, pipeline)
    end = min(options.end_date or today_utc(), today_utc())
    stats.retention_risk = retention_guard(transport, pipeline, root, options.retention_warn_days)
    start = options.start_date or look_back_start(last_loaded_day(pipeline), options.lookback_days)
    scan = None if options.start_date or start is None else _due_scan(pipeline, start, options.completeness_days)
    if start is None:
        start = earliest_day(transport, root)
        if start is None:
            log.warning("no day folders under %s yet", transport.description)
            return Plan()
    if start > end:
        return Plan()
    stats.days = (start, end)
    ledger = read_ledger(pipeline, since=min(start, scan[0]) if scan else start)
    files, odd = list_candidates(transport, start, end)
    for name in odd:
        log.warning("ignoring unexpected entry %s (not a Session Stream file name)", name)
    files += _retries_outside(transport, ledger, options, start, end)
    if scan:
        files += _completeness_scan(transport, pipeline, ledger, options, scan, {c.path for c in files}, stats)
    stats.listed = len(files)
    now = time.time()
    todo = []
    for cand in files:
        entry = ledger.entries.get(cand.path)
        if not options.reload and not _worth_loading(cand, entry, options):
            _count_skipped(entry, stats)
        elif _too_young(cand, options.min_file_age_seconds, now):
            stats.waiting.append(cand.path)
        else:
            stats.retried += entry is not None and entry.status != LOADED
            if not options.reload and entry is not None and changed_since_loaded(cand, entry):
                log.warning("%s changed on the server since it was loaded (size %s -> %s bytes); loading it again, "
                            "its new rows replace the earlier ones", cand.path, entry.size, cand.size)
                stats.changed.append(cand.path)
            todo.append(cand)
    return Plan(todo, {cand.path for cand in todo if cand.path in ledger.entries})


def _count_skipped(entry: LedgerEntry | None, stats: RunStats) -> None:
    """A file this run leaves alone: loaded before, or quarantined before and not retried (its own count)."""
    if entry is not None and entry.status == QUARANTINED:
        stats.skipped_quarantined += 1
    else:
        stats.skipped_known += 1


def check_source(transport: Transport, pipeline: dlt.Pipeline | None) -> None:
    """Raise SourceMismatch when the pipeline's dataset holds another account's files (identity.py)."""
    if pipeline is None:
        return
    rows = ledger_sources(pipeline)
    if not rows:
        return
    recorded, legacy = recorded_identities(rows)

    def names(day: date) -> tuple[set[str], set[str]]:
        on_server = {c.path for c in day_candidates(transport, day, missing_ok=True)[0]}
        ledger = ledger_between(pipeline, day, day)
        return on_server, {path for path, e in ledger.entries.items() if e.status == LOADED}

    legacy_day = last_loaded_day(pipeline) if legacy and not recorded else None
    verify_source(identify(transport.description), recorded, legacy, legacy_day, names, pipeline.dataset_name)


def _too_young(cand: Candidate, min_age: int, now: float) -> bool:
    """Modified less than `min_age` seconds ago: the vendor may still be writing it.

    A server that reports no modification time at all (not even on stat) cannot be judged; such files
    load, and the size check after the download still catches one that grows while we read it.
    """
    return bool(min_age) and cand.mtime is not None and now - cand.mtime < min_age


def _worth_loading(cand: Candidate, entry: LedgerEntry | None, options: LoadOptions) -> bool:
    """New files; unreadable ones every run; loaded or quarantined ones once they changed on the server;
    quarantined ones also on --retry-quarantined.

    A file quarantined as truncated because its upload stalled longer than the minimum age is retried by
    itself as soon as its size or modification time on the server differs from what the ledger recorded.
    """
    if entry is None:
        return True
    if entry.status == UNREADABLE:
        return True
    if entry.status == LOADED:
        return changed_since_loaded(cand, entry)
    if options.retry_quarantined:
        return True
    return cand.problem is None and _differs(cand, entry)


def changed_since_loaded(cand: Candidate, entry: LedgerEntry | None) -> bool:
    """A loaded file whose size or modification time on the server is not what the ledger recorded.

    The vendor re-delivered it under the same name (more lines, other bytes): its new content is loaded once,
    and its new rows replace the earlier ones (supersede.py). Judged from the listing only, like rsync's
    quick check: a re-upload changes the modification time even when the size stays the same, and hashing
    would mean downloading every old file on every run. A server that reports neither size nor time for a
    file leaves it as loaded (`--reload` of its day folder loads it again and compares its sha256).
    Only a newer modification time counts: a file loaded from a later copy (an archive replay with
    `--reload`) records the copy's time, and the vendor's older original is not a change.
    """
    return (entry is not None and entry.status == LOADED and cand.problem is None
            and _differs(cand, entry, newer_only=True))


def _differs(cand: Candidate, entry: LedgerEntry, newer_only: bool = False) -> bool:
    """Size, or modification time by more than a second (later only, with `newer_only`), differ from the ledger."""
    changed_size = entry.size is not None and cand.size is not None and cand.size != entry.size
    if entry.modified is None or cand.mtime is None:
        return changed_size
    later = cand.mtime - entry.modified
    return changed_size or later > 1 or (not newer_only and -later > 1)


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


# -- the completeness scan beyond the look-back, and the retention guard --------------------------------
# Both remember when they last ran in dlt's local pipeline state (state.json in the pipeline's working
# folder, never sent to the warehouse): it is per pipeline like the ledger, needs no table of its own, and
# losing it costs one extra scan, nothing else. Inside a source run dlt saves it with the extract, so an
# extract that fails does not count as a scan.

SCAN_KEY = "session_stream_completeness_scan_at"
RETENTION_KEY = "session_stream_retention_check"


def _remembered(pipeline: dlt.Pipeline | None, key: str) -> object:
    if pipeline is None:
        return None
    try:
        return pipeline.get_local_state_val(key)
    except (KeyError, TypeError):
        return None


def _remember(pipeline: dlt.Pipeline | None, key: str, value: object) -> None:
    if pipeline is not None:
        pipeline.set_local_state_val(key, value)


def _due_scan(pipeline: dlt.Pipeline | None, look_back_first: date, completeness_days: int) -> tuple[date, date] | None:
    """The day folders before the look-back to scan now, or None (off, nothing beyond the look-back, ran < 1 h ago)."""
    span = scan_days(today_utc(), look_back_first, completeness_days)
    last = _remembered(pipeline, SCAN_KEY)
    when = datetime.fromisoformat(last) if isinstance(last, str) else None
    return span if span and is_due(when, datetime.now(UTC)) else None


def _completeness_scan(transport: Transport, pipeline: dlt.Pipeline | None, ledger: Ledger, options: LoadOptions,
                       span: tuple[date, date], already: set[str], stats: RunStats) -> list[Candidate]:
    """Files in the scanned day folders that the ledger lacks: late deliveries the look-back no longer reaches.

    Listing only (one listing per day folder that exists); the files found join this run's plan. The scan
    time is remembered unless a file found was too young to load: then the next run scans again.
    """
    found = [c for c in list_candidates(transport, *span)[0]
             if c.path not in already and _worth_loading(c, ledger.entries.get(c.path), options)]
    stats.completeness_scan = CompletenessScan(span[0], span[1], [c.path for c in found])
    if found:
        log.warning("completeness scan: %d late file(s) in day folders %s .. %s, beyond the look-back; loading "
                    "them now", len(found), *span)
    if not any(_too_young(c, options.min_file_age_seconds, time.time()) for c in found):
        _remember(pipeline, SCAN_KEY, datetime.now(UTC).isoformat())
    return found


def retention_guard(transport: Transport, pipeline: dlt.Pipeline | None, root: list[RemoteEntry],
                    warn_days: int) -> RetentionRisk | None:
    """The retention check of a load run: once per UTC day, and on every run while files are at risk.

    Which day folders are at risk changes only when the date changes, so checking on the first run of a
    day finds every new risk; while a risk lasts, every run checks (and warns) again, so the warning stops
    on the run after the backfill. The cost is a listing of the oldest day folders (about `warn_days` of
    them once history reaches back 820 days), once a day.
    """
    if warn_days <= 0:
        return None
    today = today_utc()
    last = _remembered(pipeline, RETENTION_KEY)
    if isinstance(last, dict) and last.get("day") == today.isoformat() and not last.get("risk"):
        return None
    risk = retention_risk(transport, pipeline, root, warn_days, today)
    _remember(pipeline, RETENTION_KEY, {"day": today.isoformat(), "risk": risk is not None})
    if risk is not None:
        log.warning("RETENTION: %s", risk.message())
    return risk


def retention_risk(transport: Transport, pipeline: dlt.Pipeline | None, root: list[RemoteEntry],
                   warn_days: int, today: date) -> RetentionRisk | None:
    """Files on the server, not loaded, in the day folders that expire within `warn_days` (oldest first)."""
    last = last_day_at_risk(today, warn_days)
    if last is None:
        return None
    at_risk = oldest_days(transport, root, last)
    if not at_risk:
        return None
    ledger = ledger_between(pipeline, at_risk[0], at_risk[-1])
    unloaded: list[Candidate] = []
    for day in at_risk:
        unloaded += [c for c in day_candidates(transport, day, missing_ok=True)[0]
                     if (e := ledger.entries.get(c.path)) is None or e.status != LOADED]
    if not unloaded:
        return None
    first, newest = min(c.day for c in unloaded), max(c.day for c in unloaded)
    expires = expires_on(first)
    return RetentionRisk(len(unloaded), first, newest, expires, (expires - today).days)


def oldest_days(transport: Transport, root: list[RemoteEntry], last: date) -> list[date]:
    """Day folders on the server up to `last`, oldest first: one listing per year and month folder in range."""
    found: list[date] = []
    for year in _numeric_dirs(root, 4):
        if year > last.year:
            break
        for month in _numeric_dirs(transport.list_dir(f"{year:04d}"), 2, f"{year:04d}"):
            if (year, month) > (last.year, last.month):
                break
            found += [day for day in _day_folders(transport, year, month) if day <= last]
    return found
