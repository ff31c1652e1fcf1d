"""The run history's pieces that need no server: the stored source URL, the JSON line, the row's columns."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from dlt_pipeline.run_history import print_json, usage_error
from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.session_stream.run_row import COLUMNS, run_row, without_password
from dlt_pipeline.session_stream.run_stats import RunStats


@pytest.mark.parametrize(("url", "stored"), [
    ("sftp://user:s3cret@host:22/1/raw_data/session_stream", "sftp://user@host:22/1/raw_data/session_stream"),
    ("sftp://user@host/1/raw_data/session_stream", "sftp://user@host/1/raw_data/session_stream"),
    ("s3://key:secret@bucket/archive", "s3://key@bucket/archive"),
    ("/data/1234/raw_data/session_stream", "/data/1234/raw_data/session_stream"),
    (None, None),
])
def test_a_stored_source_never_carries_a_password(url: str | None, stored: str | None) -> None:
    assert without_password(url) == stored


def test_print_json_writes_one_line_with_iso_dates(capsys: pytest.CaptureFixture[str]) -> None:
    when = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    print_json({"started_at": when, "day": date(2026, 11, 25), "n": 3})
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert json.loads(out) == {"started_at": "2026-11-26T15:00:00+00:00", "day": "2026-11-25", "n": 3}
    assert usage_error("bad")["exit_code"] == 2


def test_the_row_has_exactly_the_declared_columns_and_no_secret() -> None:
    stats = RunStats(listed=5, skipped_known=2, files_loaded=3, sessions=40, bytes_read=1234, source="/x")
    row = run_row(stats, LoadOptions(pii_mode="hash", pii_salt="salty"), "duckdb", "raw")
    assert set(row) == set(COLUMNS)
    assert "salty" not in json.dumps(row, default=str)
    assert (row["files_listed"], row["files_loaded"], row["sessions"], row["bytes_downloaded"]) == (5, 3, 40, 1234)
    assert row["exit_code"] is None and row["finished_at"] is None, "only the end of a run knows these"
