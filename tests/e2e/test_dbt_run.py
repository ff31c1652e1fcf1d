"""`python dlt_pipeline/dbt_run.py`: dbt on a DuckDB file another program holds ends in one line, not a traceback.

dbt-duckdb opens the file before any project hook runs, so the wait lives in a wrapper (dlt_pipeline/dbt_run.py).
The holder is a real DuckDB connection in another process, as a BI tool's live connection is; `dbt --version`
stands in for a build where dbt must start (the wait happens before dbt is run, whatever its arguments).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
from support.loader import REPO, loader_env

from dlt_pipeline.exit_codes import EXIT_LOCKED

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _dbt_env(path: Path, wait: str) -> dict[str, str]:
    env = loader_env({"SESSION_STREAM_DUCKDB": str(path), "SESSION_STREAM__LOCK_WAIT_SECONDS": wait})
    env.pop("DBT_TARGET", None)
    return env


def _dbt_argv(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "dlt_pipeline" / "dbt_run.py"), *args]


def _dbt_run(path: Path, wait: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_dbt_argv(*args), cwd=REPO, env=_dbt_env(path, wait), capture_output=True, text=True,
                          timeout=120, check=False)


def test_held_duckdb_file_stops_dbt_with_one_line_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold(path, 60)
    try:
        proc = _dbt_run(path, "1", "build")
    finally:
        holder.kill()
        holder.communicate()
    assert proc.returncode == EXIT_LOCKED, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"PID {holder.pid}" in errors[0] and str(path) in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and not proc.stdout, proc.stderr


def test_dbt_runs_once_the_holder_lets_go(tmp_path: Path) -> None:
    """The holder lets go only once the wrapper said it waits for it (no race with a slow start), then dbt runs."""
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold(path, 120)
    proc = subprocess.Popen(_dbt_argv("--version"), cwd=REPO, env=_dbt_env(path, "60"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        said = ""
        while "is held by" not in said:  # blocks until the wrapper reports the holder (or ends)
            line = proc.stderr.readline()
            assert line, f"the wrapper ended without saying it waits: {said}"
            said += line
        assert f"PID {holder.pid}" in said, said
    finally:
        holder.kill()
        holder.communicate()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, said + err
    assert "Core" in out, out + err
