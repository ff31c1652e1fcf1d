"""Which files a run loads, in process (`dlt_pipeline.session_stream.plan`): file names, the look-back's day
folders, the ledger and the retry rules. The ledger is handed in directly; the folders are real (LocalTransport)
or a transport written here to fail on purpose."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dlt
import pytest
from support.data import days_ago, today

from dlt_pipeline.session_stream import plan
from dlt_pipeline.session_stream.ledger import LOADED, QUARANTINED, UNREADABLE, Ledger, LedgerEntry
from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.session_stream.plan import Plan, list_candidates, look_back_start, plan_files, window_start
from dlt_pipeline.session_stream.run_stats import RunStats
from dlt_pipeline.session_stream.transport import LocalTransport, RemoteEntry, TransportError
from dlt_pipeline.settings import MAX_LOOKBACK_DAYS

HOUR_AGO = time.time() - 3600


def _file(root: Path, day: date, name: str, data: bytes = b"x", mtime: float = HOUR_AGO) -> str:
    """A file in `day`'s folder under `root`; returns its path relative to root (the ledger's key)."""
    rel = f"{day:%Y/%m/%d}/{name}"
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return rel


def _name(day: date, hhmm: str = "0000", token: int = 1) -> str:
    return f"{day:%Y%m%d}T{hhmm}00.000Z_PT15M-{token}.json.gz"


# --------------------------------------------------------------------------------------------------
# names and dates


def test_window_start_reads_the_vendors_file_names() -> None:
    """The window start is the name's timestamp in UTC; any other name has none (it loads, flagged as odd)."""
    assert window_start("20261120T001500.000Z_PT15M-1795300000000.json.gz") == datetime(2026, 11, 20, 0, 15,
                                                                                       tzinfo=UTC)
    assert window_start("20261231T234500.000Z_PT15M-abcXYZ09.json.gz") == datetime(2026, 12, 31, 23, 45, tzinfo=UTC)
    for other in ("manual-export.json.gz", "20261120T001500.000Z_PT15M-1.json", "20261120T001500Z_PT15M-1.json.gz",
                  "20261120T001500.000Z_PT1H-1.json.gz", "20261120T001500.000Z_PT15M-.json.gz",
                  "x20261120T001500.000Z_PT15M-1.json.gz", "20261120T001500.000Z_PT15M-1.json.gz.part",
                  "20261320T001500.000Z_PT15M-1.json.gz", "20260230T001500.000Z_PT15M-1.json.gz"):
        assert window_start(other) is None, other


def test_look_back_start_counts_back_from_the_last_loaded_day() -> None:
    """The last loaded day minus the look-back, across months, leap days and years; none before a first load."""
    assert look_back_start(None, 2) is None
    assert look_back_start(date(2026, 11, 20), 0) == date(2026, 11, 20)
    assert look_back_start(date(2026, 11, 20), 2) == date(2026, 11, 18)
    assert look_back_start(date(2026, 3, 1), 1) == date(2026, 2, 28)
    assert look_back_start(date(2024, 3, 1), 1) == date(2024, 2, 29)
    assert look_back_start(date(2027, 1, 1), 3) == date(2026, 12, 29)
    assert look_back_start(date(2026, 11, 20), MAX_LOOKBACK_DAYS) == date(2016, 11, 22)  # the largest allowed


# --------------------------------------------------------------------------------------------------
# listing


def test_list_candidates_lists_the_day_folders_in_range_in_name_order(tmp_path: Path) -> None:
    """Day folders from start through end, across a month and a year boundary; files in name order (a late
    file in a later folder sorts by its window); odd names are reported, other entries ignored."""
    root = tmp_path / "session_stream"
    inside = [
        _file(root, date(2026, 10, 31), _name(date(2026, 10, 31), "2345", 3)),
        _file(root, date(2026, 11, 1), _name(date(2026, 10, 31), "2330", 9)),  # late: an earlier window
        _file(root, date(2026, 11, 1), _name(date(2026, 11, 1), "0100", 4), data=b"four"),
        _file(root, date(2026, 12, 31), _name(date(2026, 12, 31), "0000", 5)),
        _file(root, date(2027, 1, 1), "manual-export.json.gz"),
    ]
    for day in (date(2026, 10, 30), date(2027, 1, 2)):  # outside the range
        _file(root, day, _name(day))
    day = root / "2026/11/01"
    for name in (".partial.json.gz", "back\\slash.json.gz", "evil\nname.json.gz"):
        (day / name).write_bytes(b"x")
    (day / "README.txt").write_bytes(b"x")
    (day / "sub.json.gz").mkdir()
    (root / "2026" / "11" / "7").mkdir()  # not a day folder: wrong width
    (root / "2026" / "02" / "30").mkdir(parents=True)  # no such day
    (root / "2026" / "notes").mkdir()

    files, odd = list_candidates(LocalTransport(root), date(2026, 10, 31), date(2027, 1, 1))

    assert [c.path for c in files] == [inside[1], inside[0], inside[2], inside[3], inside[4]]
    assert sorted(odd) == sorted(f"2026/11/01/{n!r}" for n in (".partial.json.gz", "back\\slash.json.gz",
                                                               "evil\nname.json.gz"))
    by_path = {c.path: c for c in files}
    four = by_path[inside[2]]
    assert (four.name, four.day, four.size, four.problem) == (inside[2][11:], date(2026, 11, 1), 4, None)
    assert four.window_start == datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    assert four.mtime == pytest.approx(HOUR_AGO, abs=1)
    assert by_path[inside[4]].window_start is None  # an odd .json.gz name is still a candidate
    assert list_candidates(LocalTransport(root), date(2026, 2, 1), date(2026, 2, 28)) == ([], [])


def test_failed_day_listing_raises_in_planner() -> None:
    """Unit level: a day folder whose listing fails (or vanishes) stops planning instead of counting 0 files."""

    class Flaky:
        description = "flaky"

        def list_dir(self, rel: str) -> list[RemoteEntry] | None:
            if rel == "2026/11":
                return [RemoteEntry("20", 0, 0, True), RemoteEntry("21", 0, 0, True)]
            if rel == "2026/11/20":
                return [RemoteEntry("20261120T000000.000Z_PT15M-1.json.gz", 10, 0, False)]
            if rel == "2026/11/21":
                raise TransportError("SFTP listing of 2026/11/21 still failing after 3 retries")
            return []

    with pytest.raises(TransportError, match="still failing"):
        list_candidates(Flaky(), date(2026, 11, 20), date(2026, 11, 21))  # type: ignore[arg-type]

    class Vanishing(Flaky):
        def list_dir(self, rel: str) -> list[RemoteEntry] | None:
            return None if rel == "2026/11/21" else super().list_dir(rel)

    with pytest.raises(TransportError, match="disappeared"):
        list_candidates(Vanishing(), date(2026, 11, 20), date(2026, 11, 21))  # type: ignore[arg-type]


def test_planner_keeps_one_candidate_per_name() -> None:
    """Whatever the transport, a name listed twice in a day folder is one candidate (and one folder once)."""

    class Repeating:
        description = "repeating"

        def list_dir(self, rel: str) -> list[RemoteEntry] | None:
            if rel == "2026/11":
                return [RemoteEntry("20", None, None, True)] * 2
            name = "20261120T000000.000Z_PT15M-1.json.gz"
            return [RemoteEntry(name, 10, 1.0, False), RemoteEntry(name, 10, 1.0, False)]

    files, _ = list_candidates(Repeating(), date(2026, 11, 20), date(2026, 11, 20))  # type: ignore[arg-type]
    assert [c.path for c in files] == ["2026/11/20/20261120T000000.000Z_PT15M-1.json.gz"]


# --------------------------------------------------------------------------------------------------
# planning a run: the ledger is handed in, as the warehouse would give it


class Planner:
    """`plan_files` over a LocalTransport, with the ledger and the last loaded day given by the test."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.entries: dict[str, LedgerEntry] = {}
        self.last_loaded: date | None = None
        self.ledger_since: list[date] = []
        monkeypatch.setattr(plan, "last_loaded_day", lambda _pipeline: self.last_loaded)
        monkeypatch.setattr(plan, "read_ledger", self._read_ledger)

    def _read_ledger(self, _pipeline: object, since: date) -> Ledger:
        self.ledger_since.append(since)
        return Ledger(dict(self.entries))

    def record(self, rel: str, status: str, *, size: int | None = 1, modified: float | None = None) -> None:
        """A ledger row for `rel` (by default with the file's size and modification time as listed now)."""
        if modified is None:
            modified = (self.root / rel).stat().st_mtime
        self.entries[rel] = LedgerEntry(status, size, modified, "1")

    def __call__(self, **options: object) -> tuple[Plan, RunStats]:
        stats = RunStats()
        return plan_files(LocalTransport(self.root), None, LoadOptions(**options), stats), stats  # type: ignore[arg-type]


@pytest.fixture
def planner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Planner:
    root = tmp_path / "session_stream"
    root.mkdir()
    return Planner(root, monkeypatch)


def test_first_run_starts_at_the_earliest_day_later_runs_at_the_look_back(planner: Planner) -> None:
    """No load yet: from the earliest day folder through today. Then from the last loaded day minus the
    look-back: older folders are not even listed. --start-date and --end-date override both ends."""
    days = [days_ago(10), days_ago(5), days_ago(1)]
    paths = [_file(planner.root, d, _name(d)) for d in days]
    first, stats = planner()
    assert [c.path for c in first.files] == paths and stats.days == (days[0], today())
    assert planner.ledger_since == [days[0]]

    planner.last_loaded = days[2]
    later, stats = planner(lookback_days=2, completeness_days=0)  # the scan beyond it: test_completeness_scan_*
    assert stats.days == (days_ago(3), today()) and planner.ledger_since[-1] == days_ago(3)
    assert [c.path for c in later.files] == [paths[2]] and stats.listed == 1
    _, stats = planner(lookback_days=0)
    assert stats.days == (days[2], today())

    backfill, stats = planner(start_date=days_ago(12), end_date=days[1])
    assert stats.days == (days_ago(12), days[1]) and [c.path for c in backfill.files] == paths[:2]
    future_end, stats = planner(start_date=days[2], end_date=today() + timedelta(days=5))
    assert stats.days == (days[2], today())  # never past today
    reversed_range, stats = planner(start_date=days[2], end_date=days[0])
    assert reversed_range == Plan() and stats.days is None


def test_an_empty_server_plans_nothing(planner: Planner, caplog: pytest.LogCaptureFixture) -> None:
    """No day folders at all (or only empty year and month folders): an empty plan and a warning, no error."""
    for _ in range(2):
        result, stats = planner()
        assert result == Plan() and (stats.days, stats.listed, stats.waiting) == (None, 0, [])
        (planner.root / "2026" / "11").mkdir(parents=True, exist_ok=True)
    assert sum("no day folders" in r.getMessage() for r in caplog.records) == 2


def test_retry_rules_for_files_the_ledger_knows(planner: Planner, tmp_path: Path) -> None:
    """Loaded files are skipped until their size or modification time (by more than a second) changed on the
    server (re-delivered under the same name: loaded again, counted as changed); unreadable ones are tried on
    every run; quarantined ones only once they changed, or with --retry-quarantined, and counted apart from
    loaded ones while not retried; a quarantined symlink out of the folder is not retried by itself. --reload
    takes every file again."""
    day = days_ago(1)
    names = ["new", "loaded", "unreadable", "same", "resized", "touched", "touched_slightly", "unknown", "symlink",
             "loaded_grown", "loaded_rewritten", "loaded_touched_slightly", "loaded_unknown",
             "loaded_from_a_later_copy"]
    rel = {n: _file(planner.root, day, _name(day, f"{k:02d}00", k + 1), data=b"12345") for k, n in enumerate(names)}
    outside = tmp_path / "outside.json.gz"
    outside.write_bytes(b"x")
    link = planner.root / rel["symlink"]
    link.unlink()
    link.symlink_to(outside)
    os.utime(link, (HOUR_AGO, HOUR_AGO), follow_symlinks=False)  # as old as the others: never "too young"
    planner.record(rel["loaded"], LOADED, size=5)
    planner.record(rel["unreadable"], UNREADABLE, size=5)
    planner.record(rel["same"], QUARANTINED, size=5)
    planner.record(rel["resized"], QUARANTINED, size=4)
    planner.record(rel["touched"], QUARANTINED, size=5, modified=HOUR_AGO - 30)
    planner.record(rel["touched_slightly"], QUARANTINED, size=5, modified=HOUR_AGO - 0.5)
    planner.record(rel["unknown"], QUARANTINED, size=None, modified=None)
    planner.record(rel["symlink"], QUARANTINED, size=99, modified=0)
    planner.record(rel["loaded_grown"], LOADED, size=4)  # the same name, more bytes now
    planner.record(rel["loaded_rewritten"], LOADED, size=5, modified=HOUR_AGO - 600)  # same size, re-uploaded
    planner.record(rel["loaded_touched_slightly"], LOADED, size=5, modified=HOUR_AGO - 0.5)
    planner.record(rel["loaded_unknown"], LOADED, size=None, modified=None)
    planner.record(rel["loaded_from_a_later_copy"], LOADED, size=5, modified=HOUR_AGO + 600)  # an archive replay
    planner.last_loaded = day

    result, stats = planner()
    changed = ("loaded_grown", "loaded_rewritten")
    assert sorted(c.path for c in result.files) == sorted(rel[n] for n in ("new", "unreadable", "resized", "touched",
                                                                             *changed))
    assert result.known == {rel[n] for n in ("unreadable", "resized", "touched", *changed)}
    assert (stats.listed, stats.skipped_known, stats.skipped_quarantined, stats.retried) == (len(names), 4, 4, 3)
    assert sorted(stats.changed) == sorted(rel[n] for n in changed)

    retry, stats = planner(retry_quarantined=True)
    unchanged_loaded = ("loaded", "loaded_touched_slightly", "loaded_unknown", "loaded_from_a_later_copy")
    assert sorted(c.path for c in retry.files) == sorted(rel[n] for n in names if n not in unchanged_loaded)
    assert stats.retried == 7 and stats.skipped_quarantined == 0
    assert next(c for c in retry.files if c.path == rel["symlink"]).problem

    reload, stats = planner(reload=True)
    assert sorted(c.path for c in reload.files) == sorted(rel.values()) and stats.skipped_known == 0
    assert reload.known == set(rel.values()) - {rel["new"]}
    assert stats.changed == []  # --reload takes them all anyway; nothing is reported as changed


def test_young_files_wait_for_the_next_run(planner: Planner) -> None:
    """A file modified less than min_file_age_seconds ago waits (and is named); 0 loads it at once."""
    day = days_ago(1)
    old = _file(planner.root, day, _name(day, "0100", 1))
    young = _file(planner.root, day, _name(day, "0200", 2), mtime=time.time() - 5)
    result, stats = planner(min_file_age_seconds=600)
    assert [c.path for c in result.files] == [old] and stats.waiting == [young]
    result, stats = planner(min_file_age_seconds=0)
    assert [c.path for c in result.files] == [old, young] and stats.waiting == []


def test_retries_reach_files_older_than_the_look_back(planner: Planner) -> None:
    """An unreadable file far outside the look-back is tried again (its own day folder is listed once more);
    a quarantined one there only with --retry-quarantined; a loaded one never."""
    recent, old = days_ago(1), days_ago(40)
    fresh = _file(planner.root, recent, _name(recent))
    unreadable = _file(planner.root, old, _name(old, "0100", 1))
    quarantined = _file(planner.root, old, _name(old, "0200", 2))
    loaded = _file(planner.root, old, _name(old, "0300", 3))
    planner.record(fresh, LOADED)
    planner.record(unreadable, UNREADABLE)
    planner.record(quarantined, QUARANTINED)
    planner.record(loaded, LOADED)
    planner.last_loaded = recent
    result, stats = planner()
    assert [c.path for c in result.files] == [unreadable] and stats.days == (days_ago(3), today())
    result, _ = planner(retry_quarantined=True)
    assert [c.path for c in result.files] == [unreadable, quarantined]


# --------------------------------------------------------------------------------------------------
# the completeness scan beyond the look-back and the retention guard (remembered in dlt's local state)


def _pipeline(tmp_path: Path) -> dlt.Pipeline:
    """A pipeline with a working folder but no destination: its local state is all the planner uses of it."""
    return dlt.pipeline("plan_scan_test", pipelines_dir=str(tmp_path / "pipelines"))


def test_completeness_scan_finds_late_files_beyond_the_look_back_at_most_hourly(planner: Planner,
                                                                                tmp_path: Path) -> None:
    """A file that arrives in a folder older than the look-back (but within --completeness-days) joins the plan;
    the scan lists those folders at most once an hour; --start-date runs and completeness_days 0 never scan."""
    recent, late_day, too_old = days_ago(1), days_ago(5), days_ago(9)
    planner.record(_file(planner.root, recent, _name(recent)), LOADED)
    late = _file(planner.root, late_day, _name(late_day, "0300", 7))
    _file(planner.root, too_old, _name(too_old, "0300", 8))
    planner.last_loaded = recent
    pipeline = _pipeline(tmp_path)

    def run(**options: object) -> tuple[Plan, RunStats]:
        stats = RunStats()
        return plan_files(LocalTransport(planner.root), pipeline, LoadOptions(**options), stats), stats

    assert run(completeness_days=0)[1].completeness_scan is None
    found, stats = run(lookback_days=2)
    assert [c.path for c in found.files] == [late] and (stats.listed, stats.skipped_known) == (2, 1)
    scan = stats.completeness_scan
    assert scan is not None and (scan.first, scan.last, scan.found) == (days_ago(6), days_ago(4), [late])
    again, stats = run(lookback_days=2)  # within the hour: no scan, the late file waits for the next one
    assert again.files == [] and stats.completeness_scan is None
    pipeline.set_local_state_val(plan.SCAN_KEY, (datetime.now(UTC) - timedelta(minutes=61)).isoformat())
    assert [c.path for c in run(lookback_days=2)[0].files] == [late]
    assert run(start_date=recent)[1].completeness_scan is None


def test_a_young_late_file_keeps_the_scan_due(planner: Planner, tmp_path: Path) -> None:
    """A late file still being written is not loaded; the scan time is not remembered, so the next run looks again."""
    recent, late_day = days_ago(1), days_ago(4)
    planner.record(_file(planner.root, recent, _name(recent)), LOADED)
    _file(planner.root, late_day, _name(late_day, "0300", 7), mtime=time.time())
    planner.last_loaded = recent
    pipeline = _pipeline(tmp_path)
    for _ in range(2):
        stats = RunStats()
        result = plan_files(LocalTransport(planner.root), pipeline, LoadOptions(min_file_age_seconds=600), stats)
        assert result.files == [] and len(stats.waiting) == 1 and stats.completeness_scan is not None


def test_retention_guard_warns_on_unloaded_files_near_expiry_daily_and_while_at_risk(
        planner: Planner, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Files 800 days old and not loaded: a warning with count, range and the backfill command; checked again on
    every run while the risk lasts; once loaded, checked only on the first run of a UTC day."""
    old1, old2 = days_ago(800), days_ago(799)
    paths = [_file(planner.root, old1, _name(old1, "0100", 1)), _file(planner.root, old1, _name(old1, "0200", 2)),
             _file(planner.root, old2, _name(old2, "0100", 3))]
    _file(planner.root, days_ago(700), _name(days_ago(700)))  # not at risk yet
    pipeline = _pipeline(tmp_path)
    stats = RunStats()
    plan_files(LocalTransport(planner.root), pipeline, LoadOptions(start_date=days_ago(1)), stats)
    risk = stats.retention_risk
    assert risk is not None and (risk.files, risk.first_day, risk.last_day, risk.days_left) == (3, old1, old2, 20)
    assert f"--start-date {old1} --end-date {old2}" in caplog.text
    listed: list[str] = []

    class Counting(LocalTransport):
        def list_dir(self, rel: str) -> list[RemoteEntry] | None:
            listed.append(rel)
            return super().list_dir(rel)

    monkey = pytest.MonkeyPatch()
    monkey.setattr(plan, "ledger_between", lambda _p, _a, _b: Ledger({p: LedgerEntry(LOADED, 1, None, "1")
                                                                       for p in paths}))
    try:
        stats = RunStats()
        plan_files(Counting(planner.root), pipeline, LoadOptions(start_date=days_ago(1)), stats)
        assert stats.retention_risk is None and f"{old1:%Y/%m/%d}" in listed  # re-checked: the risk was known
        listed.clear()
        plan_files(Counting(planner.root), pipeline, LoadOptions(start_date=days_ago(1)), RunStats())
        assert not any(rel.startswith(f"{old1:%Y}") and rel.count("/") == 2 for rel in listed)  # not again today
    finally:
        monkey.undo()
    assert plan_files(LocalTransport(planner.root), _pipeline(tmp_path / "off"),
                      LoadOptions(start_date=days_ago(1), retention_warn_days=0), stats := RunStats()) is not None
    assert stats.retention_risk is None
