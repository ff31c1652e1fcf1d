"""Window and retention arithmetic (`dlt_pipeline.session_stream.coverage`): the rules `--check`, the completeness
scan and the retention guard share, on fixed dates (leap years, month ends, the clock going backwards)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dlt_pipeline.session_stream.coverage import (
    DELIVERY_GRACE,
    VENDOR_RETENTION_DAYS,
    RetentionRisk,
    day_windows,
    days,
    due_windows,
    expires_on,
    is_due,
    last_day_at_risk,
    missing_windows,
    scan_days,
)

DAY = date(2026, 11, 22)


def _at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)


def test_a_day_has_96_windows_of_15_minutes_in_utc() -> None:
    windows = day_windows(DAY)
    assert len(windows) == 96 and windows[0] == _at(0) and windows[-1] == _at(23, 45)
    assert {b - a for a, b in zip(windows, windows[1:], strict=False)} == {timedelta(minutes=15)}


def test_a_window_is_due_two_hours_after_it_ends() -> None:
    """At 10:00 the windows up to 07:45 (ended 08:00) are due; 08:00 (ends 08:15) is not yet."""
    due = due_windows(DAY, _at(10))
    assert due[-1] == _at(7, 45) and len(due) == 32
    assert due_windows(DAY, _at(2)) == [] and len(due_windows(DAY, _at(2, 0, DAY + timedelta(days=1)))) == 96
    assert due_windows(DAY + timedelta(days=1), _at(23)) == []  # a future day has nothing due
    assert DELIVERY_GRACE == timedelta(hours=2)  # the same grace as the dbt monitor's warning


def test_missing_windows_are_the_due_ones_without_a_file() -> None:
    present = {w for w in day_windows(DAY) if w != _at(3, 15)} - {_at(9)}
    assert missing_windows(DAY, present, _at(10)) == [_at(3, 15)]  # 09:00 is not due yet at 10:00
    assert missing_windows(DAY, present, _at(12)) == [_at(3, 15), _at(9)]


def test_retention_dates_count_820_days_from_the_day_folder() -> None:
    assert VENDOR_RETENTION_DAYS == 820
    assert expires_on(date(2024, 2, 29)) == date(2026, 5, 29)  # across a leap day
    today = date(2026, 11, 26)
    assert last_day_at_risk(today, 30) == today - timedelta(days=790)
    assert expires_on(last_day_at_risk(today, 30)) == today + timedelta(days=30)  # type: ignore[arg-type]
    assert last_day_at_risk(today, 0) is None  # 0 turns the guard off
    risk = RetentionRisk(3, date(2024, 8, 29), date(2024, 8, 30), expires_on(date(2024, 8, 29)), 4)
    assert "3 file(s)" in risk.message() and "--start-date 2024-08-29 --end-date 2024-08-30" in risk.message()


def test_scan_days_are_the_last_n_days_before_the_look_back() -> None:
    today = date(2026, 3, 2)
    assert scan_days(today, date(2026, 2, 28), 7) == (date(2026, 2, 24), date(2026, 2, 27))
    assert scan_days(today, date(2026, 2, 24), 7) is None  # the look-back reaches that far already
    assert scan_days(today, date(2026, 2, 25), 7) == (date(2026, 2, 24), date(2026, 2, 24))
    assert scan_days(today, date(2026, 3, 1), 0) is None  # off
    assert days(date(2024, 2, 28), date(2024, 3, 1)) == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]


def test_a_periodic_check_is_due_hourly_and_when_the_clock_went_backwards() -> None:
    now = _at(12)
    assert is_due(None, now)
    assert not is_due(now - timedelta(minutes=59), now) and is_due(now - timedelta(hours=1), now)
    assert is_due(now + timedelta(minutes=5), now)  # a clock set back must not silence the scan for days
