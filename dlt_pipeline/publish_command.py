"""The `--publish DIR` command: which warehouse to read (DuckDB file, or PostgreSQL over ADBC), the wait for a held
DuckDB file, the exit code and the one summary line. The files themselves are written by publish.py (DuckDB) and
publish_postgres.py (PostgreSQL), which share publish.py's writers; this module imports both, neither imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dlt_pipeline import exit_codes as codes
from dlt_pipeline.duckdb_access import DuckDBLocked, wait_for_file
from dlt_pipeline.publish import MANIFEST, Manifest, PublishError, parse_formats, publish
from dlt_pipeline.settings import Settings


def run(settings: Settings, say: Callable[[str], None], warn: Callable[[str], None]) -> int:
    """The `--publish DIR` command: wait for the file (a loader may be writing), publish, print what was written."""
    if settings.destination == "redshift":
        warn("--publish reads DuckDB or PostgreSQL; with --destination redshift connect Tableau or Domo live to "
             "Redshift instead (README, 'Connect your BI tool')")
        return codes.EXIT_USAGE
    formats = parse_formats(settings.publish_formats)
    progress = lambda line: say(f"  {line}")  # noqa: E731
    try:
        if settings.destination == "postgres":
            from dlt_pipeline.publish_postgres import postgres_uri, publish_postgres

            manifest = publish_postgres(postgres_uri(), settings.publish, formats, settings.publish_schema, progress)
        else:
            wait_for_file(settings.duckdb_path, settings.lock_wait_seconds, "publishing", read_only=True, notify=say)
            manifest = publish(settings.duckdb_path, settings.publish, formats, settings.publish_schema, progress)
    except DuckDBLocked as exc:
        warn(str(exc))
        return codes.EXIT_LOCKED
    except (PublishError, FileNotFoundError) as exc:
        warn(str(exc))
        return codes.EXIT_ERROR
    say(summary_line(manifest, settings.publish))
    return codes.EXIT_OK


def summary_line(manifest: Manifest, out_dir: str | Path) -> str:
    """`published N marts (rows) as hyper, parquet, csv into DIR: X MB in S s`, for the user and the demo."""
    files = [f for t in manifest.tables for f in t.files]
    rows = sum(t.rows for t in manifest.tables)
    size = sum(f.bytes for f in files)
    return (f"published {len(manifest.tables)} marts ({rows:,} rows) as {', '.join(manifest.formats)} into "
            f"{Path(out_dir).resolve()}: {len(files)} files, {size / 1e6:.1f} MB in {manifest.seconds:.1f} s "
            f"(list: {MANIFEST})")
