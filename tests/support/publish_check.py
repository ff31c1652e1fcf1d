"""Check the files of `run.py --publish` against the marts they came from (used by the demo's e2e test).

Independent of dlt_pipeline/publish.py: the expected Arrow type of each column comes from the mart's DuckDB type
through the table below (a type it does not list fails the check, so a new one is looked at), and the rows are
compared by DuckDB as multisets (EXCEPT ALL both ways, NULLs equal), straight against the mart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pantab
import pyarrow as pa
import pyarrow.parquet as pq

ARROW = {"BIGINT": pa.int64(), "HUGEINT": pa.int64(), "INTEGER": pa.int32(), "SMALLINT": pa.int16(),
         "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(), "VARCHAR": pa.string(), "DATE": pa.date32(),
         "TIMESTAMP": pa.timestamp("us"), "TIMESTAMP WITH TIME ZONE": pa.timestamp("us")}


def expected_arrow(duckdb_type: str) -> pa.DataType:
    found = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duckdb_type)
    if found:
        return pa.decimal128(min(int(found[1]), 18), int(found[2]))
    assert duckdb_type in ARROW, f"no expected BI type for DuckDB type {duckdb_type}"
    return ARROW[duckdb_type]


def _types(table: pa.Table) -> list[tuple[str, pa.DataType]]:
    return [(f.name, pa.string() if f.type == pa.large_string() else f.type) for f in table.schema]


def _same_rows(con: duckdb.DuckDBPyConnection, got: str, mart: str) -> None:
    (missing, extra), = con.sql(f"select (select count(*) from (select * from {mart} except all select * from {got})),"
                                f" (select count(*) from (select * from {got} except all select * from {mart}))"
                                ).fetchall()
    assert (missing, extra) == (0, 0), f"{got} vs {mart}: {missing} rows missing, {extra} extra"


def assert_published_equals_marts(db: Path, out: Path, schema: str = "analytics") -> dict:
    """Every mart in `schema` is in `out` as .hyper, .parquet and .csv with its rows and BI types; the manifest."""
    manifest = json.loads((out / "manifest.json").read_text())
    con = duckdb.connect(str(db), read_only=True)
    con.execute("set enable_progress_bar = false")
    try:
        marts = [n for (n,) in con.execute("select table_name from information_schema.tables where table_schema = ? "
                                           "order by 1", [schema]).fetchall()]
        assert [t["name"] for t in manifest["tables"]] == marts
        for table in manifest["tables"]:
            name = table["name"]
            cols = con.execute("select column_name, data_type from information_schema.columns where table_schema = ?"
                               " and table_name = ? order by ordinal_position", [schema, name]).fetchall()
            want = [(c, expected_arrow(t)) for c, t in cols]
            mart = f'"{schema}"."{name}"'
            (rows,), = con.sql(f"select count(*) from {mart}").fetchall()
            assert table["rows"] == rows, name
            hyper = pantab.frame_from_hyper(out / f"{name}.hyper", table=("Extract", "Extract"), return_type="pyarrow")
            parquet = pq.read_table(out / f"{name}.parquet")
            for fmt, got in (("hyper", hyper), ("parquet", parquet)):
                assert _types(got) == want, f"{name}.{fmt}"
                con.register("_got", got)
                _same_rows(con, "_got", mart)
                con.unregister("_got")
            csv_types = {c["name"]: c["type"] for c in table["columns"]}
            con.execute(f"create temp view _csv as select * from read_csv('{out / (name + '.csv')}', header = true, "
                        f"columns = {csv_types!r}, auto_detect = false, allow_quoted_nulls = false)")
            _same_rows(con, "_csv", mart)
            con.execute("drop view _csv")
    finally:
        con.close()
    return manifest
