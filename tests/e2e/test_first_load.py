"""Before and at the first load: `dbt build` on an empty warehouse says what to do in one line, and the rejects
table users alert on exists (empty, with its documented columns) from the first load on, even when nothing was
ever quarantined. Real DuckDB and PostgreSQL, the real loader and dbt (one staging model, no full build)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.data import ACCOUNT, days_ago, write_window
from support.dbt import BIN, Warehouse
from support.loader import REPO, explain, loader_env

from dlt_pipeline.exit_codes import EXIT_OK
from dlt_pipeline.synthetic.generator import session_stream_root

REJECT_COLUMNS = {"file_path", "line_number", "reason", "raw_text", "load_id", "_dlt_load_id", "_dlt_id"}


def _dbt(wh: Warehouse, *args: str) -> subprocess.CompletedProcess[str]:
    """dbt as a user runs it, whatever its exit code."""
    cmd = [str(BIN / "dbt"), *args, "--profiles-dir", str(wh.profiles_dir), "--target-path",
           str(wh.tmp / "dbt_target"), "--log-path", str(wh.tmp / "dbt_logs"), "--vars", json.dumps(wh.dbt_vars)]
    return subprocess.run(cmd, cwd=REPO, env=loader_env(wh.env()), capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_dbt_before_any_load_then_an_empty_rejects_table(kind: str, request: pytest.FixtureRequest,
                                                          tmp_path: Path) -> None:
    pg = request.getfixturevalue("postgres") if kind == "postgres" else None
    wh = Warehouse(tmp_path, kind, pg=pg, name=f"first_{kind}")

    before = _dbt(wh, "build")
    output = before.stdout + before.stderr
    assert before.returncode != 0, output[-3000:]
    lines = [line for line in output.splitlines() if "no Session Stream data loaded yet" in line]
    assert len(lines) == 1 and f"in {wh.raw_schema} " in lines[0] and "run python dlt_pipeline/run.py first" in \
        lines[0], output[-3000:]
    assert "Traceback" not in output and "Database Error" not in output, output[-3000:]

    data = tmp_path / "sftp"
    write_window(data, days_ago(1), "0500", 1764000000123, n=3, seed=4)
    proc = wh.run("--source", session_stream_root(data, ACCOUNT))
    assert proc.returncode == EXIT_OK, explain(proc)
    assert "session_stream_rejects" in wh.tables()
    assert set(wh.columns("session_stream_rejects")) == REJECT_COLUMNS
    assert "int" in wh.columns("session_stream_rejects")["line_number"].lower()
    assert wh.count("session_stream_rejects") == 0

    wh.dbt("run", "--select", "stg_monetate__rejects")  # the model users read the rejects through
    assert wh.query(f"select count(*) from {wh.schema}_staging.stg_monetate__rejects") == [(0,)]
