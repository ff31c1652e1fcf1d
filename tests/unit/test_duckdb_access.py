"""The lock probe's held connection (dlt_pipeline/duckdb_access.py): reused by the run's next connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dlt_pipeline import duckdb_access
from dlt_pipeline.duckdb_access import release_held, released_for, wait_for_file


@pytest.fixture(autouse=True)
def _released() -> Iterator[None]:
    yield
    release_held()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_hold_keeps_the_probe_open_until_released(db: Path) -> None:
    wait_for_file(db, 0, "loading", hold=True)
    assert len(duckdb_access._HELD) == 1  # noqa: SLF001
    con = duckdb.connect(str(db))  # served from the open database
    con.execute("create table t as select 1 as x")
    release_held()
    assert duckdb_access._HELD == []  # noqa: SLF001
    assert con.execute("select x from t").fetchall() == [(1,)]
    con.close()
    release_held()  # again: nothing to do


def test_without_hold_nothing_stays_open(db: Path) -> None:
    wait_for_file(db, 0, "loading")
    assert duckdb_access._HELD == []  # noqa: SLF001
    duckdb.connect(str(db), read_only=True).close()  # other settings would be refused while it was open


def test_a_connection_with_other_settings_releases_the_probe(db: Path) -> None:
    wait_for_file(db, 0, "loading", hold=True)
    with pytest.raises(duckdb.Error) as refused:
        duckdb.connect(str(db), config={"custom_user_agent": "x"})
    assert released_for(refused.value)
    assert duckdb_access._HELD == []  # noqa: SLF001
    duckdb.connect(str(db), config={"custom_user_agent": "x"}).close()
    assert not released_for(refused.value)  # nothing held any more: the caller must raise


def test_a_missing_file_is_free_and_holds_nothing(tmp_path: Path) -> None:
    wait_for_file(tmp_path / "new.duckdb", 0, "loading", hold=True)
    assert duckdb_access._HELD == []  # noqa: SLF001
