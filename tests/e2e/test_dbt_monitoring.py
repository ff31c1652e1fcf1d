"""The dbt monitors on one small build per engine (DuckDB, PostgreSQL): a deliberately missing window and a day whose
volume collapses.

Only the monitors and what they read are built (`+monitor_*`, cautious test selection), so this costs seconds, not
a full `dbt build`. Expected values come from the files left on disk and the generator's per-file truth; the
z-scores from numpy over the per-day session counts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from support.data import generate_cli
from support.dbt import Warehouse

from dlt_pipeline.synthetic.generator import session_stream_root

START = date(2026, 9, 1)
DAYS = 8
GONE_WINDOW = "2026/09/03/20260903T1200"
"""Every file of this window is removed: the missing window."""
DROP_DAY = date(2026, 9, 8)
"""Files of this day from 06:00 on are removed: files exist, the volume collapses."""
QUARANTINED_WINDOW = "2026/09/05/20260905T0800"
"""Every file of this window is replaced by one that is not gzip: delivered, quarantined, so missing all the same."""


@pytest.mark.timeout(600)
@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_monitors_flag_the_missing_window_and_the_volume_drop(tmp_path: Path, engine: str,
                                                              request: pytest.FixtureRequest) -> None:
    truth = generate_cli(tmp_path / "gen", "--start-date", START.isoformat(), "--days", str(DAYS),
                         "--sessions-per-day", "300", "--files-per-window", "1", "--seed", "5")
    root = session_stream_root(tmp_path / "gen", 1234)
    sessions_of = {f["path"]: f["sessions"] for f in truth["files"]}
    for path in sessions_of:
        day_folder, name = path.rsplit("/", 1)
        late_on_drop_day = day_folder == f"{DROP_DAY:%Y/%m/%d}" and name[9:13] >= "0600"
        if path.startswith(GONE_WINDOW) or late_on_drop_day:
            (root / path).unlink()
        if path.startswith(QUARANTINED_WINDOW):
            (root / path).write_bytes(b"not gzip")
    kept = {p.relative_to(root).as_posix() for p in root.rglob("*.json.gz")
            if not p.relative_to(root).as_posix().startswith(QUARANTINED_WINDOW)}
    assert any(p.startswith(GONE_WINDOW[:10]) for p in kept) and not any(p.startswith(GONE_WINDOW) for p in kept)

    pg = request.getfixturevalue("postgres") if engine == "postgres" else None
    wh = Warehouse(tmp_path / "wh", engine, pg=pg, name=f"mon_{engine}")
    loaded = wh.load_run(root, "--start-date", "2026-08-01")
    assert loaded.returncode == 3, loaded.stdout + loaded.stderr  # the quarantined window's files
    out = wh.dbt("build", "--select", "+delivery_windows", "+session_volumes_daily",
                 "--indirect-selection", "cautious")
    assert "monitor_no_missing_window_older_than_2_hours" in out and "monitor_no_daily_volume_drop_beyond_4_sd" in out
    assert "WARN=2" in out and "ERROR=0" in out, out[-3000:]

    # completeness: exactly the windows without a file are missing, from the first to the latest delivered window
    starts = {datetime.strptime(p.rsplit("/", 1)[1][:15], "%Y%m%dT%H%M%S") for p in kept}
    first, last = min(starts), max(starts)
    spine = {first + timedelta(minutes=15 * i) for i in range(int((last - first).total_seconds()) // 900 + 1)}
    rows = wh.query("select window_start_at, files, sessions, is_missing, is_overdue "
                    "from {mart}.delivery_windows")
    assert {r[0] for r in rows} == spine
    assert {r[0] for r in rows if r[3]} == spine - starts
    assert datetime(2026, 9, 3, 12) in {r[0] for r in rows if r[3] and r[4]}
    assert datetime(2026, 9, 5, 8) in {r[0] for r in rows if r[3] and r[4]}

    # run.py --check on the same data: the same missing windows on every window the monitor lists (one
    # definition); it also sees the windows after the newest loaded one, which the monitor leaves to freshness
    check = wh.run("--check", "--source", root, "--json", "--start-date", START.isoformat(),
                   "--end-date", (DROP_DAY + timedelta(days=1)).isoformat())
    assert check.returncode == 7, check.stdout + check.stderr
    report = json.loads(check.stdout.strip().splitlines()[-1])
    checked = {datetime.strptime(w, "%Y-%m-%dT%H:%M:%SZ") for w in report["missing_windows"]}
    assert {w for w in checked if first <= w <= last} == {r[0] for r in rows if r[4]}
    assert last == datetime(2026, 9, 9)  # a late session's file in the next day folder
    assert {w for w in checked if w > last} == {last + timedelta(minutes=15 * i) for i in range(1, 96)}
    undelivered = {datetime.strptime(w, "%Y-%m-%dT%H:%M:%SZ") for w in report["undelivered_windows"]}
    assert datetime(2026, 9, 3, 12) in undelivered and datetime(2026, 9, 5, 8) not in undelivered
    by_window: dict[datetime, int] = defaultdict(int)
    for path in kept:
        by_window[datetime.strptime(path.rsplit("/", 1)[1][:15], "%Y%m%dT%H%M%S")] += sessions_of[path]
    assert {r[0]: int(r[2]) for r in rows if not r[3]} == dict(by_window)

    # daily volume: sessions per day folder, z-score against the trailing days (the day itself excluded)
    per_day: dict[date, int] = defaultdict(int)
    for path in kept:
        per_day[date(*map(int, path.split("/")[:3]))] += sessions_of[path]
    volume = {d: (int(n), int(t), None if z is None else float(z), drop) for d, n, t, z, drop in wh.query(
        "select volume_date, sessions, trailing_days, z_score, is_volume_drop from {mart}.session_volumes_daily")}
    assert {d: v[0] for d, v in volume.items()} == dict(per_day)
    for day, (_, trailing, z, drop) in volume.items():
        earlier = [per_day[d] for d in per_day if day - timedelta(days=28) <= d < day]
        assert trailing == len(earlier)
        want = float((per_day[day] - np.mean(earlier)) / np.std(earlier, ddof=1)) if len(earlier) >= 7 else None
        assert z == (None if want is None else pytest.approx(want)), day
        assert drop == (want is not None and want < -4), day
    assert volume[DROP_DAY][1] == 7 and volume[DROP_DAY][3], "the cut day is flagged with exactly 7 trailing days"
