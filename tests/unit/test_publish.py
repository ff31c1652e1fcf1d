"""Publishing marts for BI tools (dlt_pipeline/publish.py): what Tableau, Domo and pandas read back is the mart.

A small hand-made DuckDB holds every type the marts use plus the ones a BI tool stumbles on (HUGEINT,
DECIMAL(38,2), time zones, unsigned and nested types), NULLs, empty strings and unicode. Each format is read
back with the reader its users have (pantab for Hyper, pyarrow for Parquet, DuckDB for CSV) and compared, row
by row and type by type, with the mart as DuckDB returns it.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pantab
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlt_pipeline.hyper_extract import HYPER_TABLE
from dlt_pipeline.publish import FORMATS, MANIFEST, PublishError, bi_type, parse_formats, publish

SCHEMA = "analytics"
ARROW = {"BIGINT": pa.int64(), "INTEGER": pa.int32(), "SMALLINT": pa.int16(), "DOUBLE": pa.float64(),
         "BOOLEAN": pa.bool_(), "VARCHAR": pa.string(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
         "DECIMAL(18,2)": pa.decimal128(18, 2), "DECIMAL(18,3)": pa.decimal128(18, 3)}
"""The Arrow type each published type must come back as."""


def _warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(f"create schema {SCHEMA}")
    con.execute(f"""
        create table {SCHEMA}.sessions (
            session_key varchar, purchased_quantity hugeint, purchased_items_value decimal(38, 2),
            session_value decimal(18, 2), duration decimal(18, 3), page_views bigint, purchase_count integer,
            tiny tinyint, big_unsigned ubigint, score double, is_converted boolean, session_date date,
            session_start_at timestamp, loaded_at timestamptz, tags varchar[], note varchar)""")
    con.execute(f"""insert into {SCHEMA}.sessions values
        ('a|1', 3, 1234567890123.45, 10.50, 1.250, 4, 1, -5, 7, 0.125, true, date '2026-11-01',
         timestamp '2026-11-01 00:00:00.123456', timestamptz '2026-11-01 10:00:00+00', ['x', 'y'], 'Zürich ☕ 東京'),
        ('b|2', null, null, null, null, null, null, null, null, null, null, null, null, null, null, null),
        ('c|3', -9223372036854775808, -0.01, 0.00, 0, 9223372036854775807, -2147483648, 127, 0, -1e300, false,
         date '1970-01-01', timestamp '2099-12-31 23:59:59.999999', timestamptz '2026-06-01 12:00:00+02', [],
         '')""")
    con.execute(f"create table {SCHEMA}.splits (split_id bigint, split_name varchar)")
    con.execute(f"insert into {SCHEMA}.splits values (1, 'Control \"A\", with comma'), (2, 'line\nbreak')")
    con.execute(f"create view {SCHEMA}.experiment_results as select split_id, count(*) as n from "
                f"{SCHEMA}.splits group by split_id")
    con.execute(f"create table {SCHEMA}.empty_mart (id bigint, seen_at timestamp)")
    con.close()


def _expected(db: Path, table: str, manifest: dict) -> list[tuple]:
    """The mart's rows as DuckDB gives them, in the published types (the casts are exact for these values)."""
    cols = next(t["columns"] for t in manifest["tables"] if t["name"] == table)
    con = duckdb.connect(str(db), read_only=True)
    try:
        exprs = ", ".join(
            f"timezone('UTC', {c['name']})" if c["name"] == "loaded_at" else f"cast({c['name']} as {c['type']})"
            for c in cols)
        return con.sql(f"select {exprs} from {SCHEMA}.{table}").fetchall()
    finally:
        con.close()


def _normal(schema: pa.Schema) -> list[tuple[str, pa.DataType]]:
    """Hyper returns large_string where Parquet has string: the same type to a BI tool."""
    return [(f.name, pa.string() if f.type == pa.large_string() else f.type) for f in schema]


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, Path, dict]:
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    out = tmp_path / "publish"
    publish(db, out, list(FORMATS), SCHEMA)
    return db, out, json.loads((out / MANIFEST).read_text())


def test_manifest_lists_every_relation_with_bi_types(published: tuple[Path, Path, dict]) -> None:
    db, out, manifest = published
    assert [t["name"] for t in manifest["tables"]] == ["empty_mart", "experiment_results", "sessions",
                                                      "splits"]
    types = {c["name"]: c["type"] for c in manifest["tables"][2]["columns"]}
    assert types == {"session_key": "VARCHAR", "purchased_quantity": "BIGINT", "purchased_items_value": "DECIMAL(18,2)",
                     "session_value": "DECIMAL(18,2)", "duration": "DECIMAL(18,3)", "page_views": "BIGINT",
                     "purchase_count": "INTEGER", "tiny": "SMALLINT", "big_unsigned": "BIGINT", "score": "DOUBLE",
                     "is_converted": "BOOLEAN", "session_date": "DATE", "session_start_at": "TIMESTAMP",
                     "loaded_at": "TIMESTAMP", "tags": "VARCHAR", "note": "VARCHAR"}
    assert {t["name"]: t["rows"] for t in manifest["tables"]} == {"splits": 2, "empty_mart": 0,
                                                                  "experiment_results": 2, "sessions": 3}
    assert manifest["built_at"] and manifest["schema"] == SCHEMA
    for table in manifest["tables"]:
        assert [f["format"] for f in table["files"]] == list(FORMATS)
        for f in table["files"]:
            assert (out / f["path"]).stat().st_size == f["bytes"] > 0
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temporary file left


@pytest.mark.parametrize("table", ["sessions", "splits", "experiment_results", "empty_mart"])
def test_hyper_and_parquet_round_trip_rows_and_types(published: tuple[Path, Path, dict], table: str) -> None:
    db, out, manifest = published
    columns = next(t["columns"] for t in manifest["tables"] if t["name"] == table)
    want_types = [(c["name"], ARROW[c["type"]]) for c in columns]
    want_rows = _expected(db, table, manifest)
    hyper = pantab.frame_from_hyper(out / f"{table}.hyper", table=HYPER_TABLE, return_type="pyarrow")
    parquet = pq.read_table(out / f"{table}.parquet")
    for name, got in (("hyper", hyper), ("parquet", parquet)):
        assert _normal(got.schema) == want_types, name
        rows = [tuple(r.values()) for r in got.to_pylist()]
        if name == "hyper":  # a Hyper table has no row order (hyper_extract.py); the rows are the same
            rows, want_rows = sorted(rows, key=repr), sorted(want_rows, key=repr)
        assert rows == want_rows, name


def test_csv_round_trip_keeps_nulls_apart_from_empty_strings(published: tuple[Path, Path, dict]) -> None:
    db, out, manifest = published
    con = duckdb.connect()
    for table in manifest["tables"]:
        types = {c["name"]: c["type"] for c in table["columns"]}
        got = con.sql(f"select * from read_csv('{out / (table['name'] + '.csv')}', header = true, "
                      f"columns = {types!r}, auto_detect = false, allow_quoted_nulls = false)")
        assert [(n, str(t)) for n, t in zip(got.columns, got.types, strict=True)] == list(types.items())
        assert got.fetchall() == _expected(db, table["name"], manifest), table["name"]
    rows = dict(con.sql(f"select session_key, note from read_csv('{out / 'sessions.csv'}', "
                          "allow_quoted_nulls = false)").fetchall())
    assert rows == {"a|1": "Zürich ☕ 東京", "b|2": None, "c|3": ""}


def test_spot_values_survive(published: tuple[Path, Path, dict]) -> None:
    """The values a BI tool shows, checked literally (not only against DuckDB's own reading)."""
    _, out, _ = published
    row = pq.read_table(out / "sessions.parquet").to_pylist()[0]
    assert row["purchased_quantity"] == 3 and row["purchased_items_value"] == Decimal("1234567890123.45")
    assert row["session_start_at"] == datetime(2026, 11, 1, 0, 0, 0, 123456)
    assert row["loaded_at"] == datetime(2026, 11, 1, 10, 0) and row["session_date"] == date(2026, 11, 1)
    assert row["tags"] == "[x, y]"


def test_republish_replaces_files_and_failure_keeps_the_old_ones(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _warehouse(db)
    out = tmp_path / "publish"
    publish(db, out, ["parquet"], SCHEMA)
    before = (out / "sessions.parquet").read_bytes()
    con = duckdb.connect(str(db))
    con.execute(f"insert into {SCHEMA}.sessions (session_key, purchased_quantity) values ('d|4', 1)")
    con.close()
    publish(db, out, ["parquet"], SCHEMA)
    assert pq.read_table(out / "sessions.parquet").num_rows == 4
    con = duckdb.connect(str(db))
    con.execute(f"insert into {SCHEMA}.sessions (session_key, purchased_quantity) values ('e|5', 1e20::hugeint)")
    con.close()
    current = (out / "sessions.parquet").read_bytes()
    with pytest.raises(PublishError, match=r"mart analytics\.sessions cannot be published"):
        publish(db, out, ["parquet"], SCHEMA)
    assert (out / "sessions.parquet").read_bytes() == current != before
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]


def test_no_marts_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    with pytest.raises(PublishError, match="run `dbt build` first"):
        publish(db, tmp_path / "out", ["csv"], SCHEMA)


def test_types_and_formats() -> None:
    assert bi_type("HUGEINT") == "BIGINT" and bi_type("DECIMAL(38,2)") == "DECIMAL(18,2)"
    assert bi_type("DECIMAL(10,4)") == "DECIMAL(10,4)" and bi_type("STRUCT(a INTEGER)") == "VARCHAR"
    assert parse_formats("csv, Hyper,csv") == ["csv", "hyper"]
    with pytest.raises(ValueError, match="--publish-formats"):
        parse_formats("xlsx")
