"""`--publish DIR` from a PostgreSQL warehouse: the marts read over ADBC, written like the DuckDB ones.

Live connections are the first choice on PostgreSQL (README, 'Connect your BI tool'); files are for Tableau
extracts kept beside a workbook, Domo Workbench or a hand-over. The credentials are dlt's own
(`DESTINATION__POSTGRES__CREDENTIALS` or `[destination.postgres.credentials]` in .dlt/secrets.toml), the ones
the loader uses. All marts are read in one REPEATABLE READ, READ ONLY transaction, so the files agree with each
other even while a `dbt build` runs. Types follow publish.py's rules: numeric(p, s) becomes DECIMAL(min(p, 18), s)
(read as text, converted exactly), an unbounded numeric DOUBLE, timestamptz a UTC timestamp, anything else
without an Arrow twin (json, uuid, arrays, intervals) its text form.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dlt_pipeline.exception_chain import first_line
from dlt_pipeline.publish import Manifest, PublishError, publish_marts

_PLAIN = {"smallint": "SMALLINT", "integer": "INTEGER", "bigint": "BIGINT", "double precision": "DOUBLE",
          "real": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE", "timestamp without time zone": "TIMESTAMP",
          "text": "VARCHAR", "character varying": "VARCHAR", "character": "VARCHAR"}


def postgres_uri() -> str:
    """The loader's PostgreSQL destination credentials from dlt's config providers, as a connection URI."""
    from dlt.common.configuration import resolve_configuration
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

    try:
        creds = resolve_configuration(PostgresCredentials(), sections=("destination", "postgres"))
    except Exception as exc:  # noqa: BLE001 - dlt names the missing field; keep its first line
        first = first_line(exc, 200)
        raise PublishError(f"no PostgreSQL credentials for --publish: set DESTINATION__POSTGRES__CREDENTIALS or "
                           f"[destination.postgres.credentials] in .dlt/secrets.toml ({first})") from None
    return str(creds.to_native_representation())


def _column(name: str, data_type: str, precision: int | None, scale: int | None) -> tuple[str, str]:
    """(select expression, published type) for one PostgreSQL column."""
    quoted = '"' + name.replace('"', '""') + '"'
    if data_type == "numeric":
        if precision is None:
            return f"cast({quoted} as double precision) as {quoted}", "DOUBLE"
        return f"cast({quoted} as text) as {quoted}", f"DECIMAL({min(precision, 18)},{scale or 0})"
    if data_type == "timestamp with time zone":
        return f"({quoted} at time zone 'UTC') as {quoted}", "TIMESTAMP"
    if data_type == "real":
        return f"cast({quoted} as double precision) as {quoted}", "DOUBLE"
    if data_type in _PLAIN:
        return quoted, _PLAIN[data_type]
    return f"cast({quoted} as text) as {quoted}", "VARCHAR"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read(cur: Any, schema: str, table: str) -> tuple[pa.Table, list[dict[str, str]]]:  # noqa: ANN401
    cur.execute("select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns "
                f"where table_schema = {_literal(schema)} and table_name = {_literal(table)} order by ordinal_position")
    cols = [(str(r[0]), str(r[1]), r[2], r[3]) for r in cur.fetchall()]
    spec = [_column(*c) for c in cols]
    cur.execute(f"select {', '.join(e for e, _ in spec)} from \"{schema}\".\"{table}\"")
    arrow = cur.fetch_arrow_table()
    for i, ((name, *_), (_, published)) in enumerate(zip(cols, spec, strict=True)):
        if published.startswith("DECIMAL"):
            precision, scale = (int(x) for x in published[8:-1].split(","))
            try:
                converted = pc.cast(arrow.column(i), pa.decimal128(precision, scale))
            except pa.ArrowInvalid as exc:
                raise PublishError(f"mart {schema}.{table} cannot be published in BI types: column {name}: {exc}") \
                    from None
            arrow = arrow.set_column(i, name, converted)
    return arrow, [{"name": name, "type": published} for (name, *_), (_, published) in zip(cols, spec, strict=True)]


def publish_postgres(uri: str, out_dir: str | Path, formats: list[str], schema: str,
                     progress: Callable[[str], None] | None = None) -> Manifest:
    """Every table and view of `schema` on the PostgreSQL server at `uri`, as publish.publish writes DuckDB's."""
    import adbc_driver_postgresql.dbapi as adbc

    try:
        conn = adbc.connect(uri)
    except adbc.Error as exc:
        raise PublishError(f"cannot connect to PostgreSQL for --publish: {first_line(exc, 200)}") from None
    try:
        cur = conn.cursor()
        cur.execute("set transaction isolation level repeatable read, read only")  # one snapshot for every file
        cur.execute("select table_name from information_schema.tables "
                    f"where table_schema = {_literal(schema)} order by table_name")
        marts = [str(r[0]) for r in cur.fetchall()]
        source = uri.split("@")[-1].split("?")[0]  # host:port/db, never the password
        return publish_marts(marts, lambda name: _read(cur, schema, name), out_dir, formats,
                             f"postgresql://{source}", schema, progress)
    finally:
        conn.rollback()
        conn.close()
