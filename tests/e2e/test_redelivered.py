"""A loaded file re-delivered under the same name with other content: loaded again once, its new rows replacing the
old, reported by the run and by `--check`; through the command line (real sshd, DuckDB and PostgreSQL) and
through the source in a user's own pipeline."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path
from typing import Any

import dlt
import orjson
import pytest
from support.data import ACCOUNT, days_ago, gzip_lines, sessions_for, window_name
from support.loader import Target, explain, summary
from support.servers import PrivateSshd
from support.sftp import sftp_args

from dlt_pipeline.session_stream import session_stream
from dlt_pipeline.session_stream.supersede import remove_superseded_rows
from dlt_pipeline.synthetic.generator import session_stream_root, write_session_file

DAY = days_ago(1)
HOUR_AGO = time.time() - 3600


def _deliver(out: Path, hhmm: str, token: int, content: list[dict[str, Any]] | bytes, mtime: float) -> Path:
    path = write_session_file(out, ACCOUNT, window_name(DAY, hhmm, token), content)
    os.utime(path, (mtime, mtime))
    return path


def _same_size_other_bytes(sessions: list[dict[str, Any]]) -> tuple[bytes, list[dict[str, Any]]]:
    """The same sessions with another screen width in the first one, gzipped to exactly the original's size."""
    original = len(gzip_lines(sessions))
    for width in range(100, 1000):
        changed = [{**sessions[0], "screen_width": width}, *sessions[1:]]
        data = gzip_lines(changed)
        if len(data) == original and width != sessions[0]["screen_width"]:
            return data, changed
    raise AssertionError("no screen width gives the same gzip size")


def _lines(target: Target, path: str) -> list[tuple[int, str, int]]:
    return sorted(target.sql(f"select _source_line, session_id, screen_width from {target.dataset}.sessions "
                             f"where _source_path = '{path}'"))


def _check(target: Target, args: list[str]) -> dict[str, Any]:
    proc = target.run("--check", *args, "--json", "--start-date", DAY.isoformat(), "--end-date", DAY.isoformat())
    assert proc.returncode in (0, 7), explain(proc)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_a_file_redelivered_with_other_content_is_loaded_again_once(sshd: PrivateSshd, tmp_path: Path, engine: str,
                                                                     request: pytest.FixtureRequest) -> None:
    """One file comes back with two more lines, another with other bytes of the same size (a new modification
    time): the next run loads both once, says so, and their new rows replace the old ones; `--check` calls them
    `changed` until then; a run after that loads nothing."""
    out = tmp_path / "src"
    grown, rewritten = sessions_for(DAY, "1000", 5, 1), sessions_for(DAY, "1100", 3, 2)
    a = _deliver(out, "1000", 701, grown[:3], HOUR_AGO - 600)
    b = _deliver(out, "1100", 702, rewritten, HOUR_AGO - 600)
    rel_a, rel_b = (p.relative_to(session_stream_root(out, ACCOUNT)).as_posix() for p in (a, b))
    pg = request.getfixturevalue("postgres") if engine == "postgres" else None
    target = Target(tmp_path / "wh", postgres=pg, dataset=f"redeliver_{engine}")
    args = sftp_args(sshd, session_stream_root(out, ACCOUNT))
    first = target.run(*args)
    assert first.returncode == 0 and summary(first.stdout)["loaded"] == 2, explain(first)

    _deliver(out, "1000", 701, grown, HOUR_AGO)  # the vendor re-delivers it with more lines
    same_size, rewritten_now = _same_size_other_bytes(rewritten)
    assert len(same_size) == b.stat().st_size
    _deliver(out, "1100", 702, same_size, HOUR_AGO)
    report = _check(target, args)
    assert sorted((u["path"], u["reason"], u["overdue"]) for u in report["not_loaded"]) == [
        (rel_a, "changed", True), (rel_b, "changed", True)], report

    again = target.run(*args)
    assert again.returncode == 0, explain(again)
    assert summary(again.stdout) == {"listed": 2, "known": 0, "loaded": 2, "quarantined": 0, "waiting": 0}
    assert "2 file(s) changed on the server since they were loaded; reloaded" in again.stdout, explain(again)
    assert _lines(target, rel_a) == [(i + 1, s["session_id"], s["screen_width"]) for i, s in enumerate(grown)]
    assert _lines(target, rel_b) == [(i + 1, s["session_id"], s["screen_width"]) for i, s in enumerate(rewritten_now)]
    assert target.count("sessions") == 8 and target.scalar(
        f"select count(*) - count(distinct _dlt_id) from {target.dataset}.sessions") == 0
    ledger = dict(target.sql(f"select file_path, size_bytes from {target.dataset}.session_stream_files"))
    assert ledger == {rel_a: a.stat().st_size, rel_b: len(same_size)}
    assert _check(target, args)["not_loaded"] == []

    quiet = target.run(*args)
    assert quiet.returncode == 0 and summary(quiet.stdout)["loaded"] == 0, explain(quiet)
    assert "changed on the server" not in quiet.stdout and target.count("sessions") == 8


def test_users_own_pipeline_reloads_a_changed_file_once(tmp_path: Path) -> None:
    """The same through `session_stream(...)` in a user's pipeline: the re-delivered file loads once; the earlier
    rows go with `remove_superseded_rows(pipeline)` right after the run, or at the start of the next run."""
    out = tmp_path / "src"
    sessions = sessions_for(DAY, "0900", 4, 3)
    path = _deliver(out, "0900", 801, sessions[:2], HOUR_AGO - 600)
    db = tmp_path / "own.duckdb"
    pipeline = dlt.pipeline("own_redeliver", destination=dlt.destinations.duckdb(str(db)), dataset_name="raw",
                            pipelines_dir=str(tmp_path / "state"))
    source = str(session_stream_root(out, ACCOUNT))

    def run() -> None:
        pipeline.run(session_stream(source, min_file_age_seconds=0, workers=0))

    def rows() -> list[tuple[int, str]]:
        with pipeline.sql_client() as client:
            return sorted(client.execute_sql("select _source_line, session_id from raw.sessions"))

    run()
    assert len(rows()) == 2
    _deliver(out, "0900", 801, sessions, HOUR_AGO)
    run()
    assert len(rows()) == 6, "the new copy is in; the old one still waits for its removal"
    assert remove_superseded_rows(pipeline) == 1
    assert rows() == [(i + 1, s["session_id"]) for i, s in enumerate(sessions)]
    _deliver(out, "0900", 801, gzip.compress(b"\n".join(orjson.dumps(s) for s in sessions[:3]) + b"\n"), HOUR_AGO + 60)
    run()
    run()  # loads nothing; removes the earlier rows of the file the run before reloaded
    assert rows() == [(i + 1, s["session_id"]) for i, s in enumerate(sessions[:3])]
    assert path.exists()


def test_a_changed_redelivery_with_an_archive_keeps_both_copies(tmp_path: Path) -> None:
    """With --archive, the vendor's new content of a loaded file is loaded once (not "unreadable" forever, as an
    archive that never overwrites made it); the archive keeps the new bytes under the vendor's name and the copy
    loaded before under `NAME.superseded-SHA12`, and a replay of the archive lists the new one only."""
    out, archive = tmp_path / "src", tmp_path / "archive"
    sessions = sessions_for(DAY, "0900", 4, 3)
    path = _deliver(out, "0900", 703, sessions[:2], HOUR_AGO - 600)
    first_bytes = path.read_bytes()
    target = Target(tmp_path / "wh")
    args = ["--source", session_stream_root(out, ACCOUNT), "--archive", archive]
    assert target.run(*args).returncode == 0
    _deliver(out, "0900", 703, sessions, HOUR_AGO)
    again = target.run(*args)
    assert again.returncode == 0 and summary(again.stdout)["loaded"] == 1, explain(again)
    rel = path.relative_to(session_stream_root(out, ACCOUNT)).as_posix()
    assert [line for line, _, _ in _lines(target, rel)] == [1, 2, 3, 4]
    kept = archive / str(ACCOUNT) / "raw_data" / "session_stream" / rel
    aside = sorted(kept.parent.glob(f"{kept.name}.superseded-*"))
    assert kept.read_bytes() == path.read_bytes() and [p.read_bytes() for p in aside] == [first_bytes]
    assert summary(target.run(*args).stdout)["loaded"] == 0
