"""`python dlt_pipeline/dbt_run.py build ...`: `dbt` with the loader's wait for a DuckDB file another program holds.

dbt-duckdb opens the file before any hook of the project can run, so a BI tool or notebook holding the file made
`dbt build` end in a Python traceback ("Could not set lock on file ... Conflicting lock is held in ... (PID n)").
This wrapper first waits for the file like the loader does (`lock_wait_seconds`, default 60: the same setting,
SESSION_STREAM__LOCK_WAIT_SECONDS or `.dlt/config.toml`), then stops with one line naming the holder and exit 5,
or runs dbt with the arguments unchanged. Other targets (`--target postgres`, DBT_TARGET) go straight to dbt.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dlt_pipeline.exit_codes import EXIT_LOCKED

DEFAULT_WAIT_SECONDS = 60.0


def _target(args: list[str]) -> str:
    """The dbt target these arguments select: `--target X` / `-t X`, else DBT_TARGET, else the profile's duckdb."""
    for i, arg in enumerate(args):
        if arg in ("--target", "-t") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--target="):
            return arg.split("=", 1)[1]
    return os.environ.get("DBT_TARGET") or "duckdb"


def _wait_seconds() -> float:
    import dlt

    value = dlt.config.get("session_stream.lock_wait_seconds")
    try:
        return DEFAULT_WAIT_SECONDS if value is None else max(0.0, float(value))
    except (TypeError, ValueError):
        return DEFAULT_WAIT_SECONDS


def _say(line: str) -> None:
    print(line.replace("--lock-wait-seconds", "SESSION_STREAM__LOCK_WAIT_SECONDS"), file=sys.stderr, flush=True)


def main(args: list[str]) -> int:
    """Wait for the DuckDB file when the target is DuckDB, then replace this process with dbt; 5 if still held."""
    if _target(args) == "duckdb":
        from dlt_pipeline.duckdb_access import DuckDBLocked, wait_for_file
        from dlt_pipeline.settings import default_duckdb_path  # the file the profile's duckdb target opens

        try:
            wait_for_file(default_duckdb_path(), _wait_seconds(), "dbt " + " ".join(args[:1]), notify=_say)
        except DuckDBLocked as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_LOCKED
    dbt = Path(sys.executable).with_name("dbt")
    os.execv(dbt, [str(dbt), *args])  # dbt's own output and exit code, as if called directly


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
