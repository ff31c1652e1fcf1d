"""Read a warehouse the same way whatever it is: a DuckDB file or the private PostgreSQL.

A `Query` is a function from SQL text to rows (a list of tuples). Every check of the raw tables and the
marts is written against a `Query`, so the same check runs on DuckDB and on PostgreSQL. Each call opens
and closes its own connection (DuckDB read-only), so a loader run can hold the warehouse in between;
`duckdb_connection` keeps one open for a scan of many queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

SCHEMA = "monetate_raw"
"""The loader's default dataset (schema) name."""

Query = Callable[[str], list[tuple[Any, ...]]]


@contextmanager
def duckdb_connection(path: Path) -> Iterator[Query]:
    """Queries on one read-only connection to the DuckDB file at `path`, for many queries in a row."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield lambda sql: con.sql(sql).fetchall()
    finally:
        con.close()


def duckdb_query(path: Path) -> Query:
    """Queries on the DuckDB file at `path`, read-only, each on its own connection."""

    def q(sql: str) -> list[tuple[Any, ...]]:
        with duckdb_connection(path) as one:
            return one(sql)

    return q


def postgres_query(server: Any) -> Query:  # noqa: ANN401 - a support.servers.PrivatePostgres
    """Queries on a PrivatePostgres, as its loader role."""

    def q(sql: str) -> list[tuple[Any, ...]]:
        con = server.connect()
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            con.close()

    return q


def completed(schema: str = SCHEMA) -> str:
    """SQL condition: the row belongs to a dlt load that completed."""
    return f"_dlt_load_id in (select load_id from {schema}._dlt_loads where status = 0)"


def tables(q: Query, schema: str = SCHEMA) -> set[str]:
    """Names of the tables in `schema`."""
    return {r[0] for r in q(f"select table_name from information_schema.tables where table_schema = '{schema}'")}


def table_exists(q: Query, table: str, schema: str = SCHEMA) -> bool:
    return table in tables(q, schema)


def columns(q: Query, table: str, schema: str = SCHEMA) -> dict[str, str]:
    """Column name -> data type of one table."""
    return dict(q("select column_name, data_type from information_schema.columns "
                  f"where table_schema = '{schema}' and table_name = '{table}'"))
