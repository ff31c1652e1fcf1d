"""Settings that decide where data goes must not depend on where a pipeline happened to run first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlt_pipeline.scheduled_run import make_pipeline
from dlt_pipeline.settings import resolve


def test_relative_duckdb_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt resolves a relative DuckDB path against the folder of the pipeline's first run; we never pass one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SESSION_STREAM_DUCKDB", raising=False)
    settings = resolve({"duckdb_path": "warehouse.duckdb"})
    assert settings.duckdb_path == str(tmp_path / "warehouse.duckdb")


def test_duckdb_working_state_lives_beside_its_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two DuckDB files on one machine never share dlt's local pipeline state."""
    monkeypatch.delenv("SESSION_STREAM_DUCKDB", raising=False)
    first = make_pipeline(resolve({"duckdb_path": str(tmp_path / "a" / "one.duckdb")}))
    second = make_pipeline(resolve({"duckdb_path": str(tmp_path / "b" / "two.duckdb")}))
    assert Path(first.pipelines_dir) == tmp_path / "a" / ".dlt_pipelines"
    assert Path(second.pipelines_dir) == tmp_path / "b" / ".dlt_pipelines"
    assert os.path.commonpath([first.working_dir, second.working_dir]) == str(tmp_path)
