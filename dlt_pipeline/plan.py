"""Decide which files a run loads: list only the day folders the look-back needs, skip what the ledger has.

Peers that keep a cursor on modification time or on the highest file name miss late files; peers that
rescan everything get slower every day for 820 days. We list the month folders in range (to learn
which days exist) and then only those day folders, and compare names with the ledger.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dlt_pipeline.transport import RemoteEntry, Transport, TransportError

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
