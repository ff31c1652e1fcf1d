"""Crash safety reaches the marts: a loader killed mid-load, then re-run, gives marts equal to the ground truth.

The raw-table side of this is proved in test_reliability.py; here the same crash is followed by `dbt build`
so the promise "no missing and no duplicate rows in the marts" is checked where analysts read it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_dbt_e2e import GEN_ARGS, REPO, Warehouse, assert_matches_truth, build_and_check, generate, session_stream_dir


def _load(wh: Warehouse, source: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(REPO / "dlt_pipeline" / "run.py"), "--source", str(source),
           "--dataset-name", wh.raw_schema, "--duckdb-path", str(wh.duckdb_path), "--min-file-age-seconds", "0",
           "--pipelines-dir", str(wh.tmp / "pipelines"), "--start-date", "2026-10-01", "-q"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("point", ["after_normalize", "during_load"])
def test_kill_9_then_rerun_gives_exact_marts(tmp_path: Path, point: str) -> None:
    truth = generate(tmp_path / "data", *GEN_ARGS)
    wh = Warehouse(tmp_path, "duckdb", name="crash")
    source = session_stream_dir(tmp_path / "data")
    crashed = _load(wh, source, {**wh.env(), "SESSION_STREAM_TEST_CRASH_AT": point})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    rerun = _load(wh, source, wh.env())
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    build_and_check(wh)
    assert_matches_truth(wh, truth)
