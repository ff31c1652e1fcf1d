"""`--archive` and replay, as cron runs them: a load from the private sshd keeps every file byte for byte (sha256 in
the ledger); `--source ARCHIVE --reload` after a PII-policy change replaces exactly that day's raw rows and the
marts stay exact; a write the archive refuses fails that file (retried next run), never the run silently, and
an archived file is never overwritten."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.data import ACCOUNT, Tree
from support.dbt import WITHOUT_READOUT, Warehouse, assert_matches_truth, build_and_check
from support.loader import Target, explain, summary
from support.servers import PrivatePostgres, PrivateSshd
from support.sftp import sftp_args

SALT = "replay-salt"
LAYOUT = Path(str(ACCOUNT), "raw_data", "session_stream")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.json.gz"))}


def _targets(wh: Target) -> dict[str, tuple[str, str, str]]:
    """Custom target rows of completed loads by their stable _dlt_id: (file path, target id, value)."""
    rows = wh.sql(f"select t._dlt_id, s._source_path, t.id, t.value from {wh.dataset}.sessions__custom_targets t "
                  f"join {wh.dataset}.sessions s on s._dlt_id = t._dlt_root_id "
                  f"where t._dlt_load_id in (select load_id from {wh.dataset}._dlt_loads where status = 0)")
    return {dlt_id: (path, target, value) for dlt_id, path, target, value in rows}


def _archive_then_replay(wh: Target, sshd: PrivateSshd, root: Path, replay_day: str, tmp: Path) -> dict[str, bytes]:
    """Load everything from SFTP with --archive (--pii-mode keep), then replay `replay_day` from the archive with
    --reload --pii-mode hash; check the archive's bytes and checksums, and that exactly that day's rows changed."""
    archive = tmp / "archive"
    first = wh.run(*sftp_args(sshd, root), "--start-date", "2026-10-01", "--archive", archive, "--pii-mode", "keep",
                   timeout=600)
    assert first.returncode == 0, explain(first)
    source = _files(root)
    assert _files(archive / LAYOUT) == source, "the archive holds every file byte for byte in the vendor's layout"
    assert not [p for p in archive.rglob("*") if p.is_file() and not p.name.endswith(".json.gz")], "no temp files"
    ledger = dict(wh.sql(f"select file_path, sha256 from {wh.dataset}.session_stream_files"))
    assert ledger == {path: hashlib.sha256(data).hexdigest() for path, data in source.items()}

    before = _targets(wh)
    sessions_before = wh.count("sessions")
    replay_files = [p for p in source if p.startswith(replay_day.replace("-", "/"))]
    replay = wh.run("--source", archive / LAYOUT, "--reload", "--start-date", replay_day, "--end-date", replay_day,
                    "--pii-mode", "hash", env={"SESSION_STREAM__PII_SALT": SALT}, timeout=600)
    assert replay.returncode == 0, explain(replay)
    assert summary(replay.stdout)["loaded"] == len(replay_files)

    after = _targets(wh)
    assert after.keys() == before.keys(), "the replay replaced rows, it added or lost none"
    assert wh.count("sessions") == sessions_before
    lines = Counter(wh.sql(f"select _source_path, _source_line from {wh.dataset}.sessions"))
    assert max(lines.values()) == 1, "each line of each file exactly once after the replay"
    hashed = 0
    for dlt_id, (path, target, value) in before.items():
        if path in replay_files:
            want = hmac.new(SALT.encode(), value.encode(), hashlib.sha256).hexdigest()
            assert after[dlt_id] == (path, target, want)
            hashed += 1
        else:
            assert after[dlt_id] == (path, target, value), "files outside the replayed day keep their values"
    assert 0 < hashed < len(before)
    return source


@pytest.mark.timeout(900)
def test_archive_then_replay_a_day_with_another_pii_mode(tmp_path: Path, sshd: PrivateSshd,
                                                         mart_data: tuple[dict, Path]) -> None:
    """DuckDB, then one dbt build: the marts equal the ground truth after the replay, and the monitors agree."""
    truth, root = mart_data
    wh = Warehouse(tmp_path, "duckdb", name="arch")
    source = _archive_then_replay(wh, sshd, root, "2026-11-01", tmp_path)

    build_and_check(wh, *WITHOUT_READOUT)
    assert_matches_truth(wh, truth)
    (dupes,), = wh.query("select count(*) - count(distinct session_id) from {mart}.sessions")
    assert dupes == 0
    # the monitors of the same build: the windows from the first to the latest delivered one, each with its files
    windows = wh.query("select window_date, count(*), sum(files), sum(case when is_missing then 1 else 0 end) "
                       "from {mart}.delivery_windows group by window_date order by window_date")
    per_day = Counter(p[:10].replace("/", "-") for p in source)
    starts = {datetime.strptime(p.rsplit("/", 1)[1][:15], "%Y%m%dT%H%M%S") for p in source}
    spine = [min(starts) + timedelta(minutes=15 * i)
             for i in range(int((max(starts) - min(starts)).total_seconds()) // 900 + 1)]
    spine_per_day = Counter(w.date().isoformat() for w in spine)
    delivered_per_day = Counter(w.date().isoformat() for w in starts)
    assert [(str(d), int(n), int(f), int(m)) for d, n, f, m in windows] == [
        (day, spine_per_day[day], per_day[day], spine_per_day[day] - delivered_per_day[day]) for day in sorted(per_day)]


@pytest.mark.timeout(600)
def test_archive_then_replay_on_postgres(tmp_path: Path, sshd: PrivateSshd, postgres: PrivatePostgres,
                                         tree: Tree) -> None:
    """The same archive and replay into PostgreSQL (loader only: the marts' PostgreSQL build is test_dbt_e2e's)."""
    wh = Target(tmp_path / "wh", postgres=postgres, dataset="archive_replay_pg")
    _archive_then_replay(wh, sshd, tree.root, "2026-11-20", tmp_path)


def test_failed_archive_write_fails_the_file_and_never_overwrites(tmp_path: Path, tree: Tree) -> None:
    target = Target(tmp_path / "wh")
    archive = tmp_path / "archive"
    archive.write_text("a file where the archive folder should be")
    failed = target.run("--source", tree.root, "--start-date", "2026-11-01", "--archive", archive)
    assert failed.returncode == 3, explain(failed)
    counts = summary(failed.stdout)
    assert counts["loaded"] == 0
    assert "could not be written to the archive" in failed.stdout + failed.stderr
    assert "sessions" not in target.tables(), "no rows of a file the archive did not take"
    statuses = set(target.sql(f"select distinct status from {target.dataset}.session_stream_files"))
    assert statuses == {("unreadable",)}

    archive.unlink()
    files = _files(tree.root)
    clash = sorted(files)[0]
    (archive / LAYOUT / clash).parent.mkdir(parents=True)
    (archive / LAYOUT / clash).write_bytes(b"an earlier, different copy")
    retried = target.run("--source", tree.root, "--start-date", "2026-11-01", "--archive", archive)
    assert retried.returncode == 3, explain(retried)
    assert "never overwrites" in retried.stdout + retried.stderr
    assert (archive / LAYOUT / clash).read_bytes() == b"an earlier, different copy"
    archived = _files(archive / LAYOUT)
    assert {p: d for p, d in archived.items() if p != clash} == {p: d for p, d in files.items() if p != clash}
    status = dict(target.sql(f"select file_path, status from {target.dataset}.session_stream_files"))
    assert status[clash] == "unreadable"
    assert {s for p, s in status.items() if p != clash} == {"loaded"}
    assert target.count("sessions") == sum(n for p, n in tree.per_file.items() if p != clash)
