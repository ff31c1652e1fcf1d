"""A reader holding the DuckDB file during a load (dlt_pipeline/duckdb_access.py): a clear stop, nothing lost.

The reader is what a BI tool holds: a read-only DuckDB connection in another process. With a short
--lock-wait-seconds the loader stops with exit code 5 and one line naming that process, before it touched
anything; when the reader goes away during the wait, the load goes on and every row arrives exactly once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from support.data import ACCOUNT, days_ago
from support.loader import Target, explain
from support.reader import Reader

from dlt_pipeline.exit_codes import EXIT_LOCKED
from dlt_pipeline.synthetic.generator import CHILD_TABLES, generate, session_stream_root


def _day(root: Path, days_back: int, seed: int) -> dict[str, Any]:
    return generate(root, account_id=ACCOUNT, start_date=days_ago(days_back), days=1, sessions_per_day=300,
                    files_per_window=1, seed=seed, redeliver=0, reemit=0.0)["raw"]


def test_reader_holding_the_file_stops_the_load_then_releasing_lets_it_finish(tmp_path: Path) -> None:
    data = tmp_path / "files"
    first = _day(data, 3, seed=21)
    target = Target(tmp_path / "warehouse")
    source = ["--source", str(session_stream_root(data, ACCOUNT))]
    proc = target.run(*source, "--workers", "0")
    assert proc.returncode == 0, explain(proc)
    second = _day(data, 2, seed=22)
    before = {**target.counts(), "ledger": target.count("session_stream_files")}

    reader = Reader(target.duckdb_path, 120)
    try:
        started = time.monotonic()
        proc = target.run(*source, "--workers", "0", "--lock-wait-seconds", "2")
        waited = time.monotonic() - started
    finally:
        reader.stop()
    assert proc.returncode == EXIT_LOCKED, explain(proc)
    message = proc.stderr.strip().splitlines()[-1]
    assert f"(PID {reader.proc.pid})" in message and str(target.duckdb_path) in message, message
    assert "waited 2 s" in message and "nothing was loaded" in message and "--publish" in message, message
    assert "Traceback" not in proc.stderr and waited < 60
    assert {**target.counts(), "ledger": target.count("session_stream_files")} == before

    reader = Reader(target.duckdb_path, 12)  # longer than the loader takes to start, far less than its wait
    try:
        proc = target.run(*source, "--workers", "0", "--lock-wait-seconds", "60")
    finally:
        reader.stop()
    assert proc.returncode == 0, explain(proc)
    assert "waiting up to 60 s" in proc.stderr and f"(PID {reader.proc.pid})" in proc.stderr, explain(proc)
    expected = {t: first[t] + second[t] for t in ("sessions", *CHILD_TABLES)}
    assert target.counts() == expected
    assert target.count("session_stream_files") == first["files"] + second["files"]
    assert target.scalar("select count(*) - count(distinct session_id) from monetate_raw.sessions") == 0


@pytest.mark.parametrize("wait", ["-1", "nan"])
def test_lock_wait_must_be_a_number_of_seconds(tmp_path: Path, wait: str) -> None:
    proc = Target(tmp_path).run("--source", str(tmp_path), "--lock-wait-seconds", wait)
    assert proc.returncode == 2 and "--lock-wait-seconds" in proc.stderr, explain(proc)
