"""`kill -9` at every point of dlt's load step, then a plain re-run: every line once, one `_dlt_loads` row per load.

The points (dlt_pipeline/testhooks.py) fall between what a load commits in the warehouse (tables and schema
version, each job's rows, the merge of the ledger, the `_dlt_loads` row) and what dlt records about it in its
working folder, where a re-run would otherwise do the committed step a second time. Runs read a local folder:
the transport plays no part here, so each run takes a few seconds.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from support.data import Tree, assert_ground_truth
from support.loader import Target, explain
from support.servers import PrivatePostgres
from support.warehouse import Query

pytestmark = pytest.mark.timeout(180)

POINTS = ["schema_stored", "job_committed#1", "job_committed:sessions", "job_committed:session_stream_files",
          "job_committed:session_stream_files#2", "job_committed:_dlt_pipeline_state", "job_recorded#2",
          "loads_row_committed", "package_archived", "after_load"]
"""Every load point once; `session_stream_files` (the ledger, a merge) twice: its copy into the staging
dataset, then the merge."""


def crash_then_rerun(target: Target, tree: Tree, *points: str) -> None:
    """A run killed at each of `points` in turn (each after the first is killed while it finishes the package
    the one before left), then a plain run; all as cron starts them."""
    args = ("--source", str(tree.root), "--workers", "0")
    for point in points:
        crashed = target.run(*args, env={"SESSION_STREAM_TEST_CRASH_AT": point})
        assert crashed.returncode == -signal.SIGKILL, explain(crashed)
    rerun = target.run(*args)
    assert rerun.returncode == 0, explain(rerun)
    assert "refused" not in rerun.stderr, explain(rerun)  # repaired, not taken out and loaded again


def assert_one_commit_per_load(q: Query, schema: str) -> None:
    """dbt's unique test on `_dlt_loads.load_id` (stg_monetate__loads), asked directly; and dlt's own state and
    schema version rows once each."""
    for table, key in (("_dlt_loads", "load_id"), ("_dlt_pipeline_state", "_dlt_load_id"),
                       ("_dlt_version", "version_hash")):
        doubled = q(f"select {key}, count(*) from {schema}.{table} group by {key} having count(*) > 1")
        assert not doubled, f"{table}: written twice for {doubled}"


def assert_no_package_left(target: Target) -> None:
    """Nothing pending, and no job file (a copy of the data) kept in dlt's working folder."""
    load = next(target.pipelines_dir.glob("*/load"))
    assert not [p for p in (load / "normalized").glob("*") if p.is_dir()], "a package is still pending"
    assert not list(load.glob("loaded/*/completed_jobs/*")), "loaded job files were kept"


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_at_every_load_point_then_rerun(tree: Tree, tmp_path: Path, point: str) -> None:
    target = Target(tmp_path)
    crash_then_rerun(target, tree, point)
    assert_ground_truth(target.sql, tree)
    assert_one_commit_per_load(target.sql, target.dataset)
    assert_no_package_left(target)


def test_kills_while_repairing_then_rerun(tree: Tree, tmp_path: Path) -> None:
    """Killed mid-load, then killed again at each commit of the runs that finish that package."""
    target = Target(tmp_path)
    crash_then_rerun(target, tree, "during_load", "job_committed#1", "job_recorded#1", "loads_row_committed")
    assert_ground_truth(target.sql, tree)
    assert_one_commit_per_load(target.sql, target.dataset)
    assert_no_package_left(target)


@pytest.mark.parametrize("point", ["job_committed:sessions", "job_committed:session_stream_files",
                                   "loads_row_committed"])
def test_postgres_kill_9_at_the_commits_then_rerun(postgres: PrivatePostgres, tree: Tree, tmp_path: Path,
                                                  point: str) -> None:
    target = Target(tmp_path, postgres=postgres, dataset="crash_" + "".join(c for c in point if c.isalnum()))
    crash_then_rerun(target, tree, point)
    assert_ground_truth(target.sql, tree, target.dataset)
    assert_one_commit_per_load(target.sql, target.dataset)
    assert_no_package_left(target)
