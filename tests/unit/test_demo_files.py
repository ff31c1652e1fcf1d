"""`run.py --demo` never writes the DuckDB file (or the dlt working folder) a real load uses
(`dlt_pipeline.command.use_demo_files`): its sample account would become a second source in the real dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlt_pipeline.cli import build_parser
from dlt_pipeline.command import DEMO_DIR, DEMO_DUCKDB, _cli_values, use_demo_files
from dlt_pipeline.settings import DEFAULT_DUCKDB, resolve


def _demo(argv: list[str]) -> tuple[str, str | None]:
    args = build_parser().parse_args(["--demo", *argv])
    settings = resolve(_cli_values(args))
    use_demo_files(settings, args)
    return settings.duckdb_path, settings.pipelines_dir


def test_the_demo_has_its_own_duckdb_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever names the real load's file (the default, SESSION_STREAM_DUCKDB, the config's duckdb_path), the demo
    writes ./demo_data/demo.duckdb beside its sample; only --duckdb-path / --pipelines-dir on the command line win."""
    monkeypatch.chdir(tmp_path)
    demo_file = str((tmp_path / DEMO_DIR / DEMO_DUCKDB).resolve())
    assert _demo([]) == (demo_file, None)
    assert demo_file != str((tmp_path / DEFAULT_DUCKDB).resolve())
    monkeypatch.setenv("SESSION_STREAM_DUCKDB", str(tmp_path / "real.duckdb"))
    monkeypatch.setenv("SESSION_STREAM__DUCKDB_PATH", str(tmp_path / "real.duckdb"))
    monkeypatch.setenv("SESSION_STREAM__PIPELINES_DIR", str(tmp_path / "real_state"))
    assert _demo([]) == (demo_file, None)
    chosen = tmp_path / "mine.duckdb"
    assert _demo(["--duckdb-path", str(chosen), "--pipelines-dir", str(tmp_path / "s")]) == (
        str(chosen.resolve()), str(tmp_path / "s"))
