"""`--check`'s comparison in process (`dlt_pipeline.completeness.build_report`): real day folders (LocalTransport),
the ledger and the last loaded day handed in, so every reason a file is not loaded, the missing windows, expired
files, the retention risk and the JSON shape are checked on exact dates."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support.data import days_ago

from dlt_pipeline import completeness
from dlt_pipeline.completeness import build_report
from dlt_pipeline.session_stream.ledger import LOADED, QUARANTINED, UNREADABLE, Ledger, LedgerEntry
from dlt_pipeline.session_stream.transport import LocalTransport
from dlt_pipeline.settings import Settings

THREE_HOURS_AGO = time.time() - 3 * 3600


def _file(root: Path, day: date, hhmm: str, token: int, mtime: float = THREE_HOURS_AGO) -> str:
    rel = f"{day:%Y/%m/%d}/{day:%Y%m%d}T{hhmm}00.000Z_PT15M-{token}.json.gz"
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, (mtime, mtime))
    return rel


def _hhmm(window: int) -> str:
    return f"{window * 15 // 60:02d}{window * 15 % 60:02d}"


@pytest.fixture
def check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A server folder, and a ledger plus last loaded day the test fills in (what the warehouse would return)."""
    state: dict = {"root": tmp_path / "session_stream", "ledger": {}, "last": None}
    state["root"].mkdir()
    monkeypatch.setattr(completeness, "ledger_between",
                        lambda _p, a, b: Ledger({p: e for p, e in state["ledger"].items()
                                                 if a <= date(*map(int, p.split("/")[:3])) <= b}))
    monkeypatch.setattr(completeness, "last_loaded_day", lambda _p: state["last"])
    return state


def _report(check: dict, **settings: object) -> completeness.CheckReport:
    return build_report(LocalTransport(check["root"]), object(), Settings(**settings),  # type: ignore[arg-type]
                        datetime.now(UTC))


def test_every_reason_a_file_is_not_loaded(check: dict) -> None:
    """As the next run sees it: quarantined, unreadable, too young, new, outside the look-back (the hourly scan gets
    it) and beyond the scan too (only a backfill does); a young new file is not overdue, everything else fails."""
    root, recent, scanned, beyond = check["root"], days_ago(1), days_ago(5), days_ago(9)
    paths = {
        "loaded": _file(root, recent, "0000", 1), "quarantined": _file(root, recent, "0100", 2),
        "unreadable": _file(root, recent, "0200", 3), "too_young": _file(root, recent, "0300", 4, time.time()),
        "new": _file(root, recent, "0400", 5), "outside_lookback": _file(root, scanned, "0100", 6),
        "beyond_scan": _file(root, beyond, "0100", 7), "young_new": _file(root, recent, "0500", 8, time.time() - 60),
    }
    check["ledger"] = {paths["loaded"]: LedgerEntry(LOADED, 1, None, "1"),
                       paths["quarantined"]: LedgerEntry(QUARANTINED, 1, None, "1"),
                       paths["unreadable"]: LedgerEntry(UNREADABLE, 1, None, "1")}
    check["last"] = recent
    report = _report(check, start_date=days_ago(10), end_date=recent, min_file_age_seconds=600, lookback_days=2)
    got = {u.path: (u.reason, u.overdue) for u in report.unloaded}
    assert got == {paths["quarantined"]: ("quarantined", True), paths["unreadable"]: ("unreadable", True),
                   paths["too_young"]: ("too_young", False), paths["new"]: ("new", True),
                   paths["outside_lookback"]: ("outside_lookback", True), paths["beyond_scan"]: ("beyond_scan", True),
                   paths["young_new"]: ("too_young", False)}
    no_age = {u.path: u.reason for u in _report(check, start_date=recent, end_date=recent, min_file_age_seconds=0,
                                               lookback_days=2).unloaded}
    assert no_age[paths["young_new"]] == "new"
    assert not report.complete


def test_missing_windows_expired_files_retention_and_json_shape(check: dict) -> None:
    """A day with 95 windows, one loaded file the server deleted (its window is covered by the ledger), nothing
    loaded 800 days ago: one missing window, one expired file, a retention risk; JSON names all of it."""
    root, day, old = check["root"], days_ago(2), days_ago(800)
    for w in range(96):
        if w not in (13, 14):
            _file(root, day, _hhmm(w), 100 + w)
    gone = f"{day:%Y/%m/%d}/{day:%Y%m%d}T033000.000Z_PT15M-114.json.gz"  # window 14: only the ledger has it
    check["ledger"] = {gone: LedgerEntry(LOADED, 1, None, "1")}
    check["ledger"].update({p: LedgerEntry(LOADED, 1, None, "1") for p in
                            (str(f.relative_to(root)) for f in root.rglob("*.json.gz"))})
    _file(root, old, "0100", 9)
    check["last"] = day
    report = _report(check, start_date=day, end_date=day)
    assert [w.strftime("%H:%M") for w in report.days[0].missing] == ["03:15"]
    assert report.expired == [gone] and report.unloaded == []
    risk = report.retention
    assert risk is not None and (risk.files, risk.first_day, risk.days_left) == (1, old, 20)
    payload = json.loads(json.dumps(report.as_dict()))
    assert payload["status"] == "incomplete" and payload["exit_code"] == 7
    assert payload["missing_windows"] == [f"{day}T03:15:00Z"] and payload["expired"] == [gone]
    assert payload["days"][0] == {"day": str(day), "windows_due": 96, "windows_missing": 1, "files_on_server": 94,
                                  "files_loaded": 94, "files_not_loaded": {}, "files_expired": 1}
    assert payload["retention"]["files"] == 1 and payload["retention"]["expires"] == str(old + timedelta(days=820))
    assert payload["undelivered_windows"] == [f"{day}T03:15:00Z"]
    assert set(payload["totals"]) == {"windows_due", "windows_missing", "windows_undelivered", "files_on_server",
                                      "files_loaded", "files_not_loaded", "files_overdue", "files_expired"}
    off = _report(check, start_date=day, end_date=day, retention_warn_days=0)
    assert off.retention is None and not off.complete  # the missing window still fails it


def test_default_range_is_the_completeness_days_and_future_windows_are_not_due(check: dict) -> None:
    """Without dates: the last --completeness-days days through today; at 10:07 UTC today's windows up to 07:45 are
    due (ended two hours ago), later ones are not missing yet."""
    today = days_ago(0)
    now = datetime(today.year, today.month, today.day, 10, 7, tzinfo=UTC)
    report = build_report(LocalTransport(check["root"]), object(), Settings(completeness_days=3),  # type: ignore[arg-type]
                          now)
    assert (report.first, report.last) == (days_ago(2), today) and len(report.days) == 3
    assert [d.windows_due for d in report.days] == [96, 96, 32]
    assert report.days[-1].missing[-1].strftime("%H:%M") == "07:45"  # an empty server: every due window missing


def test_a_window_is_missing_until_a_file_of_it_is_loaded(check: dict) -> None:
    """The definition --check shares with the dbt monitor: a due window is missing unless a file of it is loaded
    (by the window in its name, whatever its day folder). A quarantined, unreadable or new file does not fill it,
    but tells it apart from a window never delivered; a loaded file changed on the server since is reported as
    `changed` (it fails the check) while its window stays loaded."""
    root, day = check["root"], days_ago(2)
    paths = {w: _file(root, day, _hhmm(w), 200 + w) for w in range(96) if w not in (10, 11, 12, 13, 95)}
    late = f"{day + timedelta(days=1):%Y/%m/%d}/{day:%Y%m%d}T234500.000Z_PT15M-295.json.gz"  # window 95, next folder
    (root / late).parent.mkdir(parents=True)
    (root / late).write_bytes(b"x")
    os.utime(root / late, (THREE_HOURS_AGO, THREE_HOURS_AGO))
    paths[10] = _file(root, day, _hhmm(10), 210)  # quarantined
    paths[11] = _file(root, day, _hhmm(11), 211)  # unreadable
    paths[12] = _file(root, day, _hhmm(12), 212)  # new: on the server, not loaded yet
    changed = paths[20]
    check["ledger"] = {p: LedgerEntry(LOADED, 1, THREE_HOURS_AGO, "1") for w, p in paths.items()
                       if w not in (10, 11, 12)}
    check["ledger"][late] = LedgerEntry(LOADED, 1, THREE_HOURS_AGO, "1")
    check["ledger"][changed] = LedgerEntry(LOADED, 99, THREE_HOURS_AGO, "1")  # the server's copy has 1 byte now
    check["ledger"][paths[10]] = LedgerEntry(QUARANTINED, 1, THREE_HOURS_AGO, "1")
    check["ledger"][paths[11]] = LedgerEntry(UNREADABLE, 1, THREE_HOURS_AGO, "1")
    check["last"] = day + timedelta(days=1)
    report = _report(check, start_date=day, end_date=day + timedelta(days=1))
    assert [w.strftime("%H:%M") for w in report.days[0].missing] == ["02:30", "02:45", "03:00", "03:15"]
    assert [w.strftime("%H:%M") for w in report.days[0].undelivered] == ["03:15"]
    assert {u.path: u.reason for u in report.unloaded} == {paths[10]: "quarantined", paths[11]: "unreadable",
                                                           paths[12]: "new", changed: "changed"}
    assert next(u for u in report.unloaded if u.reason == "changed").overdue and not report.complete
