"""Completeness and retention, end to end: generated files on the private sshd, `run.py` loads and `run.py --check`.

Issue 12's list: a missing window (`--check` exit 7 names it), a file delivered after the look-back (found by
the hourly completeness scan, loaded once, no second scan within the hour), a ten-day outage (one catch-up run
loads everything once and says so), a retention warning (files ~800 days old), `--check` exit codes 0 and 7 and
its `--json` shape. Files are tiny (one session per window, or the generator with a few sessions a day) so every
run takes seconds; gaps are made by writing, deleting or back-dating files, never by changing the generator.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.data import ACCOUNT, days_ago, write_window
from support.loader import Target, explain, listed_days, summary
from support.sftp import sftp_args

from dlt_pipeline.synthetic.generator import generate, session_stream_root

THREE_HOURS_AGO = time.time() - 3 * 3600


def _hhmm(window: int) -> str:
    hh, mm = divmod(window * 15, 60)
    return f"{hh:02d}{mm:02d}"


def _write(data: Path, day: date, windows: range | list[int], token: int, mtime: float = THREE_HOURS_AGO) -> None:
    """One file with one session per window (tokens from `token` on), delivered `mtime` (default 3 hours ago)."""
    for w in windows:
        path = write_window(data, day, _hhmm(w), token + w, 1, seed=token % 997 + w)
        os.utime(path, (mtime, mtime))


def _check(target: Target, sshd: Any, root: Path, *args: str) -> Any:
    return target.run("--check", *sftp_args(sshd, root), *args)


def _check_json(target: Target, sshd: Any, root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = _check(target, sshd, root, "--json", *args)
    assert proc.returncode in (0, 7), explain(proc)
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    data = tmp_path / "sftp"
    return {"data": data, "root": session_stream_root(data, ACCOUNT), "target": Target(tmp_path / "warehouse")}


def test_check_names_a_missing_window_and_exits_7_until_it_is_delivered_and_loaded(sshd: Any,
                                                                                    site: dict[str, Any]) -> None:
    """A day with 95 of its 96 windows: --check exits 7 and names 03:15 (human and --json). Delivered late, the
    window stays missing until its file is loaded (the dbt monitor's definition), now as delivered and not loaded;
    the file is reported as new, overdue once it waited two hours; after the load the day is complete."""
    day, data, root, target = days_ago(2), site["data"], site["root"], site["target"]
    _write(data, day, [w for w in range(96) if w != 13], 4_000_000)
    loaded = target.run(*sftp_args(sshd, root))
    assert loaded.returncode == 0 and summary(loaded.stdout)["loaded"] == 95, explain(loaded)
    span = ("--start-date", day.isoformat(), "--end-date", day.isoformat())

    human = _check(target, sshd, root, *span)
    assert human.returncode == 7, explain(human)
    assert f"missing windows {day}: 03:15 (UTC" in human.stdout and "INCOMPLETE (exit 7)" in human.stdout
    code, report = _check_json(target, sshd, root, *span)
    assert code == 7 and report["status"] == "incomplete" and report["exit_code"] == 7
    assert report["missing_windows"] == [f"{day}T03:15:00Z"] and report["not_loaded"] == []
    assert report["days"] == [{"day": day.isoformat(), "windows_due": 96, "windows_missing": 1,
                               "files_on_server": 95, "files_loaded": 95, "files_not_loaded": {},
                               "files_expired": 0}]
    assert set(report) >= {"first_day", "last_day", "source", "totals", "expired", "retention"}
    assert report["totals"]["files_loaded"] == 95 and report["retention"] is None

    assert report["undelivered_windows"] == [f"{day}T03:15:00Z"]

    _write(data, day, [13], 4_000_000, mtime=time.time())  # delivered just now: new, not overdue
    code, report = _check_json(target, sshd, root, *span)
    assert code == 7 and report["missing_windows"] == [f"{day}T03:15:00Z"] and report["undelivered_windows"] == []
    assert [(u["reason"], u["overdue"]) for u in report["not_loaded"]] == [("new", False)]
    human = _check(target, sshd, root, *span)
    assert f"missing windows {day}: 03:15 (UTC; delivered, not loaded" in human.stdout, explain(human)
    _write(data, day, [13], 4_000_000)  # the same file, three hours on the server and still not loaded
    code, report = _check_json(target, sshd, root, *span)
    assert code == 7 and report["totals"]["files_overdue"] == 1
    assert target.run(*sftp_args(sshd, root)).returncode == 0
    code, report = _check_json(target, sshd, root, *span)
    assert code == 0 and report["missing_windows"] == [] and report["not_loaded"] == []


def test_check_reads_the_ledger_in_postgres(sshd: Any, postgres: Any, tmp_path: Path) -> None:
    """The same comparison against a PostgreSQL ledger: a missing window and a quarantined file (its window is
    missing too: delivered, not loaded) give exit 7 with their reasons; once the window is delivered and loaded
    and the bad file replaced, exit 0."""
    data, day = tmp_path / "sftp", days_ago(2)
    root, target = session_stream_root(data, ACCOUNT), Target(tmp_path / "w", postgres=postgres, dataset="check_pg")
    _write(data, day, [w for w in range(96) if w not in (13, 40)], 5_000_000)
    bad = root / f"{day:%Y/%m/%d}" / f"{day:%Y%m%d}T{_hhmm(40)}00.000Z_PT15M-1764000777777.json.gz"
    bad.write_bytes(b"not gzip")
    os.utime(bad, (THREE_HOURS_AGO, THREE_HOURS_AGO))
    loaded = target.run(*sftp_args(sshd, root))
    assert loaded.returncode == 3 and summary(loaded.stdout)["loaded"] == 94, explain(loaded)
    span = ("--start-date", day.isoformat(), "--end-date", day.isoformat())

    code, report = _check_json(target, sshd, root, *span)
    assert code == 7 and report["missing_windows"] == [f"{day}T03:15:00Z", f"{day}T10:00:00Z"], report
    assert report["undelivered_windows"] == [f"{day}T03:15:00Z"], report
    assert [(n["path"].rsplit("/", 1)[1], n["reason"]) for n in report["not_loaded"]] == [
        (bad.name, "quarantined")], report

    bad.unlink()
    _write(data, day, [13, 40], 5_000_000)
    again = target.run(*sftp_args(sshd, root))
    assert again.returncode == 0 and summary(again.stdout)["loaded"] == 2, explain(again)
    code, report = _check_json(target, sshd, root, *span)
    assert code == 0 and report["missing_windows"] == [] and report["not_loaded"] == [], report


def test_file_delivered_after_the_look_back_is_found_by_the_completeness_scan_once(sshd: Any,
                                                                                    site: dict[str, Any]) -> None:
    """A file lands in a day folder five days back, beyond a one-day look-back: the next run's completeness scan
    finds and loads it (and says so); the run after that does not scan again within the hour; nothing loads twice.
    --check saw it as 'outside the look-back' before."""
    data, root, target = site["data"], site["root"], site["target"]
    old_day, recent = days_ago(5), days_ago(1)
    _write(data, old_day, [4], 5_000_000)
    _write(data, recent, [4, 8], 5_100_000)
    first = target.run(*sftp_args(sshd, root), "--lookback-days", "1")
    assert first.returncode == 0 and summary(first.stdout)["loaded"] == 3, explain(first)
    assert "completeness scan" not in first.stdout  # a first run lists everything anyway

    _write(data, old_day, [40], 5_000_000)  # the late delivery
    code, report = _check_json(target, sshd, root, "--lookback-days", "1")
    assert code == 7 and [u["reason"] for u in report["not_loaded"]] == ["outside_lookback"]

    late = target.run(*sftp_args(sshd, root), "--lookback-days", "1")
    assert late.returncode == 0, explain(late)
    assert listed_days(late.stdout)[0] == recent - timedelta(days=1)
    assert summary(late.stdout)["loaded"] == 1
    assert (f"completeness scan: 1 late file(s) found in {days_ago(6)}..{recent - timedelta(days=2)}, loaded"
            in late.stdout)
    assert target.count("session_stream_files", f"day = '{old_day}' and status = 'loaded'") == 2

    _write(data, old_day, [60], 5_000_000)  # another late file, within the hour: the next scan finds it
    quiet = target.run(*sftp_args(sshd, root), "--lookback-days", "1")
    assert quiet.returncode == 0 and summary(quiet.stdout)["loaded"] == 0, explain(quiet)
    assert "completeness scan" not in quiet.stdout
    assert target.count("sessions") == 4 and target.count("session_stream_files") == 4
    sessions_per_file = target.sql("select _source_path, count(*) from monetate_raw.sessions group by 1")
    assert all(n == 1 for _path, n in sessions_per_file)


def test_a_ten_day_outage_is_caught_up_in_one_run_exactly_once(sshd: Any, site: dict[str, Any]) -> None:
    """The loader is down for ten days while the vendor keeps delivering: the first run after lists from the last
    loaded day minus the look-back through today, loads every file once and reports the range; the next run
    loads nothing; --check over the outage finds every file loaded."""
    data, root, target = site["data"], site["root"], site["target"]
    before = days_ago(12)
    _write(data, before, [10, 50], 6_000_000)
    assert target.run(*sftp_args(sshd, root)).returncode == 0
    truth = generate(data, account_id=ACCOUNT, start_date=days_ago(11), days=10, sessions_per_day=12, seed=5)
    catch_up = target.run(*sftp_args(sshd, root))
    assert catch_up.returncode == 0, explain(catch_up)
    assert listed_days(catch_up.stdout) == (before - timedelta(days=2), days_ago(0))
    assert summary(catch_up.stdout)["loaded"] == truth["raw"]["files"]
    assert f"sessions loaded {truth['raw']['sessions']:,}" in catch_up.stdout
    assert target.count("sessions") == truth["raw"]["sessions"] + 2
    again = target.run(*sftp_args(sshd, root))
    assert summary(again.stdout)["loaded"] == 0 and target.count("sessions") == truth["raw"]["sessions"] + 2
    _code, report = _check_json(target, sshd, root, "--start-date", str(days_ago(11)), "--end-date",
                                str(days_ago(1)))
    assert report["not_loaded"] == [] and report["totals"]["files_loaded"] == report["totals"]["files_on_server"]


def test_retention_warning_for_unloaded_files_close_to_expiry(sshd: Any, site: dict[str, Any]) -> None:
    """Files 800 and 799 days old that were never loaded expire in 20 days: every load run warns with the count,
    the range and the backfill command; --check fails with exit 7; after the backfill the warning is gone."""
    data, root, target = site["data"], site["root"], site["target"]
    old1, old2 = days_ago(800), days_ago(799)
    _write(data, old1, [1, 2], 7_000_000)
    _write(data, old2, [1], 7_100_000)
    _write(data, days_ago(1), range(96), 7_200_000)  # a complete recent day: only the retention risk fails
    recent = ("--start-date", str(days_ago(1)))
    span = (*recent, "--end-date", str(days_ago(1)))
    advice = f"--start-date {old1} --end-date {old2}"
    for _ in range(2):  # every run while the risk lasts
        run = target.run(*sftp_args(sshd, root), *recent)
        assert run.returncode == 0, explain(run)
        assert "RETENTION WARNING:" in run.stdout and "3 file(s)" in run.stdout and advice in run.stdout
        assert f"from {old1 + timedelta(days=820)} (in 20 day(s))" in run.stdout
    human = _check(target, sshd, root, *span)
    assert human.returncode == 7 and "retention:" in human.stdout and advice in human.stdout, explain(human)
    assert "missing windows" not in human.stdout and "not loaded 2" not in human.stdout  # retention alone fails it

    backfill = target.run(*sftp_args(sshd, root), "--start-date", str(old1), "--end-date", str(old2))
    assert summary(backfill.stdout)["loaded"] == 3, explain(backfill)
    after = target.run(*sftp_args(sshd, root), *recent)
    assert after.returncode == 0 and "RETENTION" not in after.stdout, explain(after)
    code, report = _check_json(target, sshd, root, *span)
    assert code == 0 and report["status"] == "complete" and report["retention"] is None
