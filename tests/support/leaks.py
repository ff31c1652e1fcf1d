"""Looking for secrets and personal data in everything a run wrote: files (raw, gunzipped, parquet values)
and every text column of a DuckDB file."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.parquet as pq

from support.warehouse import duckdb_connection


def file_texts(path: Path) -> list[tuple[str, bytes]]:
    """A file's raw bytes, plus its decompressed / decoded forms (gzip, parquet) where it has them."""
    data = path.read_bytes()
    out = [(str(path), data)]
    if data[:2] == b"\x1f\x8b":
        try:
            out.append((f"{path} (gunzipped)", gzip.decompress(data)))
        except (OSError, EOFError):
            pass
    if data[:4] == b"PAR1":
        out.append((f"{path} (parquet values)", str(pq.read_table(path).to_pylist()).encode()))
    return out


def find_in_tree(root: Path, needles: list[str], skip: set[Path] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Every file under root (recursively) whose bytes, gunzipped bytes or parquet values hold a needle."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p not in skip):
        for label, blob in file_texts(path):
            for needle in needles:
                if needle.encode() in blob:
                    hits.append(f"{needle!r} in {label}")
    return hits


def find_in_duckdb(path: Path, needles: list[str]) -> list[str]:
    """Needles in the DuckDB file's bytes or in any text column of any table (one scan a column)."""
    blob = path.read_bytes()
    hits = [f"{n!r} in raw bytes of {path}" for n in needles if n.encode() in blob]
    with duckdb_connection(path) as q:
        cols = q("select table_schema, table_name, column_name from information_schema.columns "
                 "where data_type = 'VARCHAR'")
        for schema, table, column in cols:
            values = [v for (v,) in q(f'select distinct "{column}" from "{schema}"."{table}"') if v]
            text = "\n".join(values)
            hits += [f"{n!r} in {schema}.{table}.{column}" for n in needles if n in text]
    return hits
