"""Helpers for the loader end-to-end tests: run `run.py` as a user would, read the raw tables back.

The loader always runs as a subprocess (`python dlt_pipeline/run.py ...`, cwd = repo), so exit codes,
messages and config resolution are tested exactly as a user meets them. Every run gets its own DuckDB
file and dlt pipelines folder under a temp dir, never ~/.dlt.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parent.parent
RUN_PY = REPO / "dlt_pipeline" / "run.py"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dlt_pipeline.synthetic.generator import CHILD_TABLES  # noqa: E402  (the generator's ground truth names the tables)

DATASET = "monetate_raw"


def today() -> date:
    return datetime.now(UTC).date()


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment minus anything that would point the loader elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SESSION_STREAM", "DESTINATION__", "NORMALIZE__", "DATA_WRITER__"))
    }
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env.update(extra or {})
    return env


def run_loader(
    *args: str | os.PathLike[str], cwd: Path = REPO, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python dlt_pipeline/run.py ARGS` in a subprocess; output captured as text."""
    return subprocess.run(
        [sys.executable, str(RUN_PY), *map(os.fspath, args)],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Target:
    """One warehouse: a DuckDB file plus its dlt pipelines folder (so runs can be repeated)."""

    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.duckdb_path = base / "warehouse.duckdb"
        self.pipelines_dir = base / "pipelines"

    def args(self) -> list[str]:
        return [
            "--duckdb-path", str(self.duckdb_path),
            "--pipelines-dir", str(self.pipelines_dir),
            "--min-file-age-seconds", "0",
        ]

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.duckdb_path), read_only=True)
        try:
            return con.sql(query).fetchall()
        finally:
            con.close()

    def scalar(self, query: str) -> Any:
        return self.sql(query)[0][0]

    def count(self, table: str, where: str = "true") -> int:
        return int(self.scalar(f"select count(*) from {DATASET}.{table} where {where}"))

    def tables(self) -> set[str]:
        rows = self.sql(f"select table_name from information_schema.tables where table_schema = '{DATASET}'")
        return {r[0] for r in rows}

    def columns(self, table: str) -> dict[str, str]:
        rows = self.sql(
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = '{DATASET}' and table_name = '{table}'"
        )
        return dict(rows)

    def counts(self, tables: Iterable[str] = ("sessions", *CHILD_TABLES)) -> dict[str, int]:
        return {t: self.count(t) for t in tables}


def sftp_args(sshd: Any, root: Path, *, key: Path | None = None, known_hosts: Path | None = None) -> list[str]:
    """--source/--private-key/--known-hosts for a folder served by a PrivateSshd."""
    return [
        "--source", sshd.url(root),
        "--private-key", str(key or sshd.client_key_path),
        "--known-hosts", str(known_hosts or sshd.known_hosts_path),
    ]


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit code and output of a loader run, for assertion messages."""
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
