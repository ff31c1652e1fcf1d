"""`run.py --publish DIR`: every mart of the DuckDB file as a Tableau Hyper extract, Parquet and CSV file.

(PostgreSQL warehouses: the same files through publish_postgres.py.)

Why: DuckDB admits one writer or many readers, so a BI tool connected live to the file blocks the loader
(dlt_pipeline/duckdb_access.py), Domo has no DuckDB connector at all, and Tableau needs a third-party one.
Files do not hold a lock: Tableau opens the `.hyper` extract (pantab ships the Hyper engine), Domo Workbench
and anything else read Parquet or CSV. PostgreSQL and Redshift users connect their BI tool live instead.

Every file is written beside its final name, fsynced and renamed over it, so a BI refresh reads either the old
or the new file, never half of one; `manifest.json` (written last, the same way) lists files, rows, column
types and when they were built. All marts are read in one read-only transaction, so the files agree with each
other. Types are the ones BI tools read: HUGEINT and other wide or unsigned integers become BIGINT, decimals
wider than 18 digits DECIMAL(18, scale), timestamps with a time zone plain UTC timestamps, nested values and
UUIDs text. A value that does not fit stops the publish with the mart and column named (DuckDB's cast error).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dlt_pipeline.exception_chain import first_line
from dlt_pipeline.hyper_extract import write_hyper

FORMATS = ("hyper", "parquet", "csv")
MANIFEST = "manifest.json"
_KEEP = {"BIGINT", "INTEGER", "SMALLINT", "DOUBLE", "FLOAT", "BOOLEAN", "VARCHAR", "DATE", "TIMESTAMP", "TIME",
         "BLOB"}
_WIDEN = {"TINYINT": "SMALLINT", "UTINYINT": "SMALLINT", "USMALLINT": "INTEGER", "UINTEGER": "BIGINT",
          "UBIGINT": "BIGINT", "HUGEINT": "BIGINT", "UHUGEINT": "BIGINT", "TIMESTAMP_S": "TIMESTAMP",
          "TIMESTAMP_MS": "TIMESTAMP", "TIMESTAMP_NS": "TIMESTAMP", "UUID": "VARCHAR", "INTERVAL": "VARCHAR",
          "TIME WITH TIME ZONE": "VARCHAR", "BIT": "VARCHAR", "JSON": "VARCHAR"}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass
class PublishedFile:
    format: str
    path: str
    bytes: int
    sha256: str


@dataclass
class PublishedTable:
    name: str
    rows: int
    columns: list[dict[str, str]]
    files: list[PublishedFile] = field(default_factory=list)


@dataclass
class Manifest:
    built_at: str
    source: str
    schema: str
    formats: list[str]
    seconds: float
    tables: list[PublishedTable]

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode() + b"\n"


def bi_type(duckdb_type: str) -> str:
    """The type a mart column is published as (see the module docstring for why)."""
    upper = duckdb_type.upper()
    if upper in _KEEP:
        return upper
    if upper in _WIDEN:
        return _WIDEN[upper]
    if upper in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return "TIMESTAMP"
    found = _DECIMAL.fullmatch(upper)
    if found:
        precision, scale = int(found[1]), int(found[2])
        return f"DECIMAL({min(precision, 18)},{min(scale, 18)})"
    return "VARCHAR"  # LIST, STRUCT, MAP, ENUM, UNION: their text form


def _select_expr(column: str, duckdb_type: str) -> str:
    target = bi_type(duckdb_type)
    quoted = '"' + column.replace('"', '""') + '"'
    if duckdb_type.upper() in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return f"timezone('UTC', {quoted}) as {quoted}"
    if target == duckdb_type.upper():
        return quoted
    return f"cast({quoted} as {target}) as {quoted}"


def list_marts(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """Every table and view in the marts schema, whatever dbt built there (nothing hard-coded)."""
    rows = con.execute("select table_name from information_schema.tables where table_schema = ? "
                       "order by table_name", [schema]).fetchall()
    return [name for (name,) in rows]


def read_mart(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> tuple[pa.Table, list[dict[str, str]]]:
    """The mart as an Arrow table in BI types, and its columns with their published types."""
    cols = con.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                       "and table_name = ? order by ordinal_position", [schema, table]).fetchall()
    exprs = ", ".join(_select_expr(name, dtype) for name, dtype in cols)
    try:
        arrow = con.sql(f'select {exprs} from "{schema}"."{table}"').to_arrow_table()
    except duckdb.Error as exc:
        raise PublishError(f"mart {schema}.{table} cannot be published in BI types: {first_line(exc)}") \
            from None
    return arrow, [{"name": name, "type": bi_type(dtype)} for name, dtype in cols]


class PublishError(Exception):
    """A publish that cannot go on; the message names the mart, file or setting and what to do."""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic(final: Path, write: Callable[[Path], None]) -> PublishedFile:
    """Write through `write(tmp)` beside `final`, fsync, rename over it; the tmp file never outlives a failure."""
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        write(tmp)
        digest = hashlib.sha256()
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        with tmp.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        size = tmp.stat().st_size
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)
    return PublishedFile(format=final.suffix.lstrip("."), path=final.name, bytes=size, sha256=digest.hexdigest())


def _write_csv(con: duckdb.DuckDBPyConnection, table: pa.Table, path: Path) -> None:
    """DuckDB's CSV: NULL is an empty field, an empty string is "" (so the two stay apart), ISO dates and times."""
    con.register("_publish_csv", table)
    try:
        con.execute(f"copy _publish_csv to '{path}' (format csv, header true)")
    finally:
        con.unregister("_publish_csv")


def _writers(con: duckdb.DuckDBPyConnection) -> dict[str, Callable[[pa.Table, Path], None]]:
    return {
        "hyper": write_hyper,
        "parquet": lambda table, path: pq.write_table(table, path, compression="zstd"),
        "csv": lambda table, path: _write_csv(con, table, path),
    }


def publish(duckdb_path: str | Path, out_dir: str | Path, formats: list[str], schema: str,
            progress: Callable[[str], None] | None = None) -> Manifest:
    """Write every mart of `schema` in the DuckDB file in `formats` into `out_dir`, then the manifest."""
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute("begin transaction")  # one snapshot: every file shows the same load
        return publish_marts(list_marts(con, schema), lambda name: read_mart(con, schema, name), out_dir, formats,
                             str(duckdb_path), schema, progress)
    finally:
        con.close()


def publish_marts(marts: list[str], read: Callable[[str], tuple[pa.Table, list[dict[str, str]]]],
                  out_dir: str | Path, formats: list[str], source: str, schema: str,
                  progress: Callable[[str], None] | None = None) -> Manifest:
    """Write the `marts` (each as `read(name)` gives it) into `out_dir`, then the manifest; return the manifest.

    Any warehouse can feed this: `read` returns the mart in BI types and its column list.
    """
    start = time.monotonic()
    out = Path(out_dir)
    if not marts:
        raise PublishError(f"no marts in schema {schema} of {source}: run `dbt build` first (or set the schema dbt "
                           "writes to with --publish-schema / DBT_SCHEMA)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PublishError(f"cannot create the publish folder {out}: {exc.strerror}; pick a writable folder") \
            from None
    scratch = duckdb.connect()  # in memory, for the CSV writer
    try:
        writers = _writers(scratch)
        tables = [_publish_mart(read, schema, name, out, formats, writers, progress) for name in marts]
    finally:
        scratch.close()
    manifest = Manifest(built_at=datetime.now(UTC).isoformat(timespec="seconds"), source=source,
                        schema=schema, formats=formats, seconds=round(time.monotonic() - start, 3), tables=tables)
    _atomic(out / MANIFEST, lambda tmp: tmp.write_bytes(manifest.to_json()))
    return manifest


def _publish_mart(read: Callable[[str], tuple[pa.Table, list[dict[str, str]]]], schema: str, name: str, out: Path,
                  formats: list[str],
                  writers: dict[str, Callable[[pa.Table, Path], None]],
                  progress: Callable[[str], None] | None) -> PublishedTable:
    if not _NAME.match(name):
        raise PublishError(f"mart {schema}.{name}: the name is not a plain identifier; rename the model")
    table, columns = read(name)
    published = PublishedTable(name=name, rows=table.num_rows, columns=columns)
    for fmt in formats:
        published.files.append(_atomic(out / f"{name}.{fmt}", lambda tmp, fmt=fmt: writers[fmt](table, tmp)))
    if progress is not None:
        progress(f"{name}: {table.num_rows:,} rows")
    return published


def parse_formats(text: str) -> list[str]:
    """`hyper,parquet,csv` (any subset, any order) as a list; ValueError naming the unknown one."""
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"--publish-formats is {text!r}; it must be a comma-separated subset of {','.join(FORMATS)}")
    return list(dict.fromkeys(chosen))
