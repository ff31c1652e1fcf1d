"""Window and retention arithmetic: which 15-minute windows should have a file by now, and what expires when.

Pure functions on dates, no listing and no warehouse, so the rules the completeness scan, the retention
guard and `--check` share are tested in isolation (tests/unit/test_coverage.py).

The vendor writes one or more files per 15-minute window (UTC), named by the window's start, into the day
folder of that start; 96 windows a day. A window counts as due once its end is `DELIVERY_GRACE` in the
past: the same two hours after which the dbt monitor `delivery_windows` warns. Files stay on
the server `VENDOR_RETENTION_DAYS` after they are generated; we date a file by its day folder, which
makes every expiry date a day early at worst (the safe side for a backfill).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

VENDOR_RETENTION_DAYS = 820
"""Files are available for 820 days after they are generated (the vendor's Session Stream documentation)."""
WINDOW = timedelta(minutes=15)
WINDOWS_PER_DAY = 96
DELIVERY_GRACE = timedelta(hours=2)
"""How long after a window ends its file may still be on the way before the window counts as missing."""
SCAN_EVERY = timedelta(hours=1)
"""The completeness scan beyond the look-back runs at most this often."""


@dataclass(frozen=True)
class CompletenessScan:
    """What a run's completeness scan did: the day folders it listed and the late files it found there."""

    first: date
    last: date
    found: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RetentionRisk:
    """Files on the server, not loaded, that expire within the warning period (oldest day folders first)."""

    files: int
    first_day: date
    last_day: date
    expires: date  # when the oldest of them leaves the server
    days_left: int

    def message(self) -> str:
        """One line: what is at risk, until when, and the backfill that saves it."""
        return (f"{self.files} file(s) in day folders {self.first_day} .. {self.last_day} are not loaded and the "
                f"vendor deletes them from {self.expires} (in {max(self.days_left, 0)} day(s)); backfill now, "
                f"oldest first: python dlt_pipeline/run.py --start-date {self.first_day} --end-date {self.last_day}")


def day_windows(day: date) -> list[datetime]:
    """The 96 window starts (UTC) of a day folder."""
    midnight = datetime.combine(day, time(), UTC)
    return [midnight + i * WINDOW for i in range(WINDOWS_PER_DAY)]


def due_windows(day: date, now: datetime, grace: timedelta = DELIVERY_GRACE) -> list[datetime]:
    """The windows of `day` whose file should be on the server at `now`: ended at least `grace` ago."""
    return [start for start in day_windows(day) if start + WINDOW + grace <= now]


def missing_windows(day: date, present: set[datetime], now: datetime,
                    grace: timedelta = DELIVERY_GRACE) -> list[datetime]:
    """Due windows of `day` without any file (`present` holds the window starts that have one)."""
    return [start for start in due_windows(day, now, grace) if start not in present]


def expires_on(day: date, retention_days: int = VENDOR_RETENTION_DAYS) -> date:
    """The first day a file of this day folder may be gone from the server."""
    return day + timedelta(days=retention_days)


def last_day_at_risk(today: date, warn_days: int, retention_days: int = VENDOR_RETENTION_DAYS) -> date | None:
    """The newest day folder whose files expire within `warn_days` of `today`; None when the guard is off (0)."""
    if warn_days <= 0:
        return None
    return today - timedelta(days=retention_days - warn_days)


def scan_days(today: date, look_back_start: date, completeness_days: int) -> tuple[date, date] | None:
    """Day folders the completeness scan lists: the last `completeness_days` days before the look-back's first.

    None when the look-back already reaches that far, or the scan is off (0).
    """
    if completeness_days <= 0:
        return None
    first, last = today - timedelta(days=completeness_days - 1), look_back_start - timedelta(days=1)
    return (first, last) if first <= last else None


def is_due(last: datetime | None, now: datetime, every: timedelta = SCAN_EVERY) -> bool:
    """Whether a periodic check runs now: never ran, ran `every` ago or longer, or the clock went backwards."""
    return last is None or not timedelta(0) <= now - last < every


def days(first: date, last: date) -> list[date]:
    """Every day from first through last."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
