"""Run history: every run leaves one `session_stream_runs` row, and `--json` prints the same figures.

Through the private sshd into DuckDB and PostgreSQL (one test per engine): a successful run (its row in the
package of its data), a quarantining run, a run with nothing new and a run that cannot reach the server
(rows written by a separate small load), each row matching the run's `--json` object. Then the source in a
user's own dlt pipeline, which writes its row too.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Any

import dlt
import pytest
from support.data import ACCOUNT, days_ago, window_name, write_window
from support.loader import Target, explain
from support.metadata import RETAILER, USERNAME, catalog
from support.servers import PrivateSshd, free_port
from support.sftp import sftp_args
from support.warehouse import duckdb_connection

from dlt_pipeline import exit_codes as codes
from dlt_pipeline.session_stream import session_stream
from dlt_pipeline.session_stream.run_row import RUNS_TABLE
from dlt_pipeline.synthetic.generator import session_stream_root, write_session_file
from dlt_pipeline.synthetic.metadata_server import MetadataApiServer, demo_key_pair

DAY = days_ago(1)


def _json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The run's one JSON object: stdout holds it and nothing else."""
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be exactly one JSON line\n{explain(proc)}"
    return json.loads(lines[0])


def _row(target: Target, run_id: str) -> dict[str, Any]:
    names = list(target.columns(RUNS_TABLE))
    values = target.sql(f"select {', '.join(names)} from {target.dataset}.{RUNS_TABLE} where run_id = '{run_id}'")
    assert len(values) == 1, f"run {run_id}: {len(values)} rows"
    return dict(zip(names, values[0], strict=True))


def _same(reported: Any, stored: Any) -> bool:  # noqa: ANN401
    """A JSON value equals the warehouse's: dates and timestamps compare as instants, numbers as numbers."""
    if isinstance(stored, datetime):
        return reported is not None and datetime.fromisoformat(reported) == stored
    if isinstance(stored, date):
        return reported == stored.isoformat()
    return reported == stored


def _assert_json_is_row(report: dict[str, Any], row: dict[str, Any]) -> None:
    """Every history column is in the JSON object with the same value."""
    columns = [c for c in row if not c.startswith("_dlt")]
    assert set(columns) <= set(report), f"columns missing in --json: {set(columns) - set(report)}"
    differ = {c: (report[c], row[c]) for c in columns if not _same(report[c], row[c])}
    assert not differ, f"--json and {RUNS_TABLE} differ: {differ}"


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_history_rows_for_loaded_quarantined_idle_and_failed_runs(backend: str, sshd: PrivateSshd, tmp_path: Path,
                                                                  request: pytest.FixtureRequest) -> None:
    postgres = request.getfixturevalue("postgres") if backend == "postgres" else None
    target = Target(tmp_path / "w", postgres=postgres, dataset=f"runs_{backend}")
    out = tmp_path / "src"
    root = session_stream_root(out, ACCOUNT)
    for k in range(2):
        write_window(out, DAY, f"{10 + k}00", 100 + k, 3, first_seed=10 * k)
    since = ("--start-date", DAY.isoformat())

    # first, a run that cannot reach the server: its row is the warehouse's first (a small dlt load creates the table)
    failed = target.run(*sftp_args(sshd, root, port=free_port()), *since, "--json")
    assert failed.returncode == codes.EXIT_ERROR, explain(failed)
    report = _json(failed)
    row = _row(target, report["run_id"])
    _assert_json_is_row(report, row)
    assert row["exit_code"] == codes.EXIT_ERROR and row["files_listed"] == 0 and row["message"], row
    assert row["message"] in failed.stderr.replace("\n", " ") or row["message"][:60] in failed.stderr

    ok = target.run(*sftp_args(sshd, root), *since, "--json")
    assert ok.returncode == codes.EXIT_OK, explain(ok)
    report = _json(ok)
    row = _row(target, report["run_id"])
    _assert_json_is_row(report, row)
    assert (row["files_listed"], row["files_loaded"], row["sessions"], row["exit_code"]) == (2, 2, 6, 0)
    assert row["bytes_downloaded"] > 0 and row["finished_at"] >= row["started_at"]
    assert all(row[f"{phase}_seconds"] > 0 for phase in ("list", "download", "parse", "load"))
    assert row["destination"] == backend and row["invoked_as"] == "run.py" and row["message"] is None
    assert "Session Stream load" in ok.stderr, "the human summary goes to stderr with --json"
    data_load = target.scalar(f"select max(load_id) from {target.dataset}.session_stream_files")
    assert row["_dlt_load_id"] == data_load, "the row travels in the package of its data"

    write_session_file(out, ACCOUNT, window_name(DAY, "1200", 7), b"this is not gzip")
    bad = target.run(*sftp_args(sshd, root), *since, "--json")
    assert bad.returncode == codes.EXIT_QUARANTINED, explain(bad)
    report = _json(bad)
    row = _row(target, report["run_id"])
    _assert_json_is_row(report, row)
    assert (row["files_already_loaded"], row["files_quarantined"], row["exit_code"]) == (2, 1, codes.EXIT_QUARANTINED)
    assert [q["file"] for q in report["quarantined"]] == [f"{DAY:%Y/%m/%d}/{window_name(DAY, '1200', 7)}"]
    assert "gzip" in report["quarantined"][0]["reason"] and "1 file(s) quarantined" in row["message"]

    idle = target.run(*sftp_args(sshd, root), *since, "--json")
    assert idle.returncode == codes.EXIT_OK, explain(idle)
    row = _row(target, _json(idle)["run_id"])
    assert (row["files_listed"], row["files_loaded"], row["exit_code"]) == (3, 0, 0)
    assert row["_dlt_load_id"] == row["run_id"], "nothing new: the row alone, one INSERT (run_history._insert)"

    last = target.sql(f"select exit_code from {target.dataset}.{RUNS_TABLE} order by started_at desc limit 10")
    assert [code for (code,) in last] == [0, 3, 0, 1], "the README's 'last 10 runs' query"


def test_source_in_a_users_pipeline_writes_its_row(tmp_path: Path) -> None:
    out = tmp_path / "src"
    write_window(out, DAY, "1000", 100, 4)
    db = tmp_path / "mine.duckdb"
    pipeline = dlt.pipeline("mine", destination=dlt.destinations.duckdb(str(db)), dataset_name="raw",
                            pipelines_dir=str(tmp_path / "state"))
    for _ in range(2):
        pipeline.run(session_stream(str(session_stream_root(out, ACCOUNT)), min_file_age_seconds=0, workers=0))
    with duckdb_connection(db) as q:
        rows = q(f"select files_loaded, sessions, invoked_as, finished_at, exit_code, _dlt_load_id "
                 f"from raw.{RUNS_TABLE} order by started_at")
        data_load = q("select load_id from raw.session_stream_files")[0][0]
    assert [r[:5] for r in rows] == [(1, 4, "source", None, None), (0, 0, "source", None, None)], rows
    assert rows[0][5] == data_load and rows[1][5] != data_load


def test_json_and_history_carry_the_metadata_refresh(tmp_path: Path) -> None:
    out = tmp_path / "src"
    write_window(out, DAY, "1000", 100, 2)
    target = Target(tmp_path / "w")
    private, public = demo_key_pair()
    with MetadataApiServer(catalog(0), public, USERNAME, RETAILER) as api:
        env = {"SESSION_STREAM__METADATA_API__BASE_URL": api.base_url,
               "SESSION_STREAM__METADATA_API__RETAILER": RETAILER,
               "SESSION_STREAM__METADATA_API__API_USERNAME": USERNAME,
               "SESSION_STREAM__METADATA_API__PRIVATE_KEY": private.decode()}
        ok = target.run("--source", session_stream_root(out, ACCOUNT), "--json", env=env)
        assert ok.returncode == codes.EXIT_OK, explain(ok)
        api.revoke()
        failed = target.run("--source", session_stream_root(out, ACCOUNT), "--refresh-metadata", "--json", env=env)
        assert failed.returncode == codes.EXIT_METADATA, explain(failed)
    report = _json(ok)
    assert report["metadata"]["status"] == "ok" and report["metadata"]["tables"]["metadata_experiences"] > 0
    assert _row(target, report["run_id"])["metadata_refresh"] == "ok"
    report = _json(failed)
    row = _row(target, report["run_id"])
    _assert_json_is_row(report, row)
    assert report["metadata"]["status"] == "failed" and report["metadata"]["message"]
    assert (row["exit_code"], row["metadata_refresh"], row["files_loaded"]) == (codes.EXIT_METADATA, "failed", 0)
    assert row["message"].startswith("metadata refresh failed: ") and "revoked" in row["message"], row["message"]
