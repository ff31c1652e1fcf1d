"""Settings in process (`dlt_pipeline.settings.resolve`): where data goes must not depend on where a pipeline
happened to run first, and every range is checked at its edges, whichever way a value was set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.data import today

from dlt_pipeline.scheduled_run import make_pipeline
from dlt_pipeline.settings import MAX_LOOKBACK_DAYS, MAX_WORKERS, resolve


@pytest.fixture(autouse=True)
def no_session_stream_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only what a test sets: none of the caller's SESSION_STREAM* variables."""
    for key in [k for k in os.environ if k.startswith("SESSION_STREAM")]:
        monkeypatch.delenv(key)
    yield


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


EDGES_ACCEPTED = {
    "lookback_days": (0, MAX_LOOKBACK_DAYS),
    "workers": (0, MAX_WORKERS),
    "batch_size": (1,),
    "min_file_age_seconds": (0,),
    "max_line_bytes": (1,),
    "retries": (0,),
    "backoff": (0.0,),
    "timeout": (0.001,),
    "completeness_days": (0, 820),
    "retention_warn_days": (0, 819),
}
JUST_OUTSIDE = {
    "lookback_days": (-1, MAX_LOOKBACK_DAYS + 1),
    "workers": (-1, MAX_WORKERS + 1),
    "batch_size": (0,),
    "min_file_age_seconds": (-1,),
    "max_line_bytes": (0,),
    "retries": (-1,),
    "backoff": (-0.001, float("inf")),
    "timeout": (0, float("nan"), float("inf")),
    "completeness_days": (-1, 821),
    "retention_warn_days": (-1, 820),
}


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in EDGES_ACCEPTED.items() for v in vs])
def test_range_edges_are_accepted(name: str, value: float) -> None:
    assert getattr(resolve({name: value}), name) == value


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in JUST_OUTSIDE.items() for v in vs])
def test_values_just_outside_a_range_are_refused_naming_the_flag(name: str, value: float) -> None:
    """One line, naming the option as the user set it (here the flag) and what is allowed."""
    with pytest.raises(ValueError) as refused:
        resolve({name: value})
    message = str(refused.value)
    assert message.startswith(f"--{name.replace('_', '-')} is ") and "must be" in message
    assert "\n" not in message


def test_the_environment_is_named_when_it_set_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value from the environment is refused under its variable's name; a flag overrides the environment."""
    monkeypatch.setenv("SESSION_STREAM__WORKERS", "65")
    with pytest.raises(ValueError, match="^SESSION_STREAM__WORKERS is 65; it must be 0 to 64"):
        resolve({})
    assert resolve({"workers": 3}).workers == 3
    monkeypatch.setenv("SESSION_STREAM__WORKERS", "4")
    assert resolve({}).workers == 4


@pytest.mark.parametrize(("name", "value", "kind"), [
    ("workers", "2.5", "a whole number"), ("workers", True, "a whole number"),
    ("lookback_days", "1e3", "a whole number"),
    ("strict", "maybe", "true or false"), ("timeout", True, "a number"), ("start_date", "2026-02-30", "a date"),
])
def test_values_of_the_wrong_kind_are_refused(name: str, value: object, kind: str) -> None:
    """Never rounded or read as no: `2.5` workers, `true` as a number, `maybe` as a boolean, 30 February."""
    with pytest.raises(ValueError, match=f"it must be {kind}"):
        resolve({name: value})


def test_whole_numbers_and_words_that_are_clear_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve({"workers": 2.0}).workers == 2
    assert resolve({"lookback_days": " 7 "}).lookback_days == 7
    monkeypatch.setenv("SESSION_STREAM__STRICT", "yes")
    monkeypatch.setenv("SESSION_STREAM__PII_TARGET_IDS", "9001, 9002,,")
    settings = resolve({})
    assert settings.strict is True and settings.pii_target_ids == ["9001", "9002"]


def test_dates_in_range_and_out_of_it() -> None:
    """Today is the last day there is (UTC); a start after the end holds no days; --reload needs a start."""
    now = today()
    settings = resolve({"start_date": now.isoformat(), "end_date": now.isoformat()})
    assert settings.start_date == settings.end_date == now
    with pytest.raises(ValueError, match="--end-date .* is in the future"):
        resolve({"end_date": (now + timedelta(days=1)).isoformat()})
    with pytest.raises(ValueError, match="--start-date .* is after --end-date"):
        resolve({"start_date": now.isoformat(), "end_date": (now - timedelta(days=1)).isoformat()})
    with pytest.raises(ValueError, match="--reload needs --start-date"):
        resolve({"reload": True})
    assert resolve({"reload": True, "start_date": now}).reload


@pytest.mark.parametrize(("cli", "match"), [
    ({"destination": "mysql"}, "--destination must be one of duckdb, postgres, redshift"),
    ({"pii_mode": "mask"}, "--pii-mode must be one of keep, hash, drop"),
    ({"pii_mode": "hash"}, "--pii-mode hash needs a secret salt"),
])
def test_choices_are_checked(cli: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        resolve(cli)


def test_one_shot_actions_come_only_from_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stray SESSION_STREAM__DEMO or __RELOAD in a cron environment never turns a load into a demo or reload."""
    monkeypatch.setenv("SESSION_STREAM__DEMO", "true")
    monkeypatch.setenv("SESSION_STREAM__RELOAD", "true")
    monkeypatch.setenv("SESSION_STREAM__CHECK", "maybe")  # not even read, so not even refused
    settings = resolve({})
    assert not settings.demo and not settings.reload and not settings.check
