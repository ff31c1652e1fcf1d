"""A run with nothing new (issue 13): no dlt load, no parser or Arrow imports, yet its history row and summary.

Most scheduled runs find nothing new, so this path is kept lean (docs/benchmark.md): the plan is empty, so
no extract, normalize or load starts; the ledger queries share one connection; the run's
`session_stream_runs` row is one INSERT. These tests pin the behaviour that must not change with it, and
the imports it must not grow back (a local-folder source, DuckDB).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.data import ACCOUNT, days_ago, write_window
from support.loader import REPO, Target, explain, loader_env, summary

from dlt_pipeline.session_stream.run_row import RUNS_TABLE
from dlt_pipeline.synthetic.generator import session_stream_root

HEAVY = ("pyarrow", "paramiko", "rich.progress", "dlt_pipeline.session_stream.extract",
         "dlt_pipeline.session_stream.workers", "dlt_pipeline.metadata_api.source", "dlt_pipeline.publish")
"""Modules a run with nothing new from a local folder has no use for (each costs 0.05-0.3 s to import)."""

PROBE = """
import json, sys
from dlt_pipeline.cli import main
code = main(sys.argv[1:])
sys.stderr.write("MODULES=" + json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)) + "\\n")
sys.exit(code)
"""


def test_noop_run_loads_nothing_with_dlt_but_records_itself(tmp_path: Path) -> None:
    out = tmp_path / "src"
    root = session_stream_root(out, ACCOUNT)
    day = days_ago(1)
    for k in range(2):
        write_window(out, day, f"{10 + k}00", 200 + k, 3, first_seed=10 * k)
    target = Target(tmp_path / "w")
    first = target.run("--source", str(root), "--start-date", day.isoformat())
    assert first.returncode == 0, explain(first)
    loads = target.count("_dlt_loads")
    sessions = target.count("sessions")

    # in a fresh interpreter, like a scheduler: what the run imports, and what it writes
    probe = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *target.args(), "--source", str(root),
                            "--json"], cwd=REPO, env=loader_env(), capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, explain(probe)
    report = json.loads(probe.stdout.splitlines()[-1])
    modules = json.loads(probe.stderr.split("MODULES=")[1].splitlines()[0])
    assert modules == [], f"a run with nothing new imported {modules}"

    assert target.count("_dlt_loads") == loads, "nothing new: no dlt load may start"
    assert target.count("sessions") == sessions
    assert (report["files_listed"], report["files_already_loaded"], report["files_loaded"]) == (2, 2, 0)
    assert report["exit_code"] == 0 and report["recorded"] is True
    row = target.sql(f"select files_loaded, files_already_loaded, exit_code, _dlt_load_id from "
                     f"{target.dataset}.{RUNS_TABLE} where run_id = '{report['run_id']}'")
    assert row == [(0, 2, 0, report["run_id"])], row  # one INSERT: its load id is the run id, no dlt load's

    again = target.run("--source", str(root))  # the console summary says the same
    assert again.returncode == 0, explain(again)
    assert summary(again.stdout) == {"listed": 2, "known": 2, "loaded": 0, "quarantined": 0, "waiting": 0}
    assert target.count("_dlt_loads") == loads
    assert target.count(RUNS_TABLE) == 3


def test_dlt_connecting_with_other_duckdb_settings_than_the_lock_probe(tmp_path: Path) -> None:
    """The lock probe's connection is reused by the plan's (duckdb_access.py); DuckDB refuses a second connection
    with other settings, so with a `custom_user_agent` in dlt's DuckDB config the probe is released and dlt
    connects again: the run is the same as without."""
    out = tmp_path / "src"
    root = session_stream_root(out, ACCOUNT)
    day = days_ago(1)
    write_window(out, day, "1000", 300, 3, first_seed=1)
    target = Target(tmp_path / "w")
    env = {"DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG": '{"memory_limit": "512MB", "custom_user_agent": "t"}'}
    first = target.run("--source", str(root), "--start-date", day.isoformat(), env=env)
    assert first.returncode == 0, explain(first)
    again = target.run("--source", str(root), env=env)  # a run with nothing new, the file exists: probe held
    assert again.returncode == 0, explain(again)
    assert summary(again.stdout) == {"listed": 1, "known": 1, "loaded": 0, "quarantined": 0, "waiting": 0}
    assert target.count(RUNS_TABLE) == 2
