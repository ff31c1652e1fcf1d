"""Run the loader as a user or a scheduler does, and read what it wrote: the one place tests build its command line.

The loader always runs as a subprocess (`python dlt_pipeline/run.py ...`, cwd = repo), so exit codes, messages,
`kill -9` and config resolution are tested exactly as cron meets them. Every run gets its own DuckDB file (or
PostgreSQL dataset) and dlt pipelines folder under a temp dir (a :class:`Target`), never ~/.dlt, and an
environment without the caller's SESSION_STREAM*/DESTINATION__ settings. Pause and crash points come from
`dlt_pipeline/testhooks.py`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dlt_pipeline.synthetic.generator import CHILD_TABLES
from support.warehouse import SCHEMA, Query, columns, duckdb_query, postgres_query, tables

REPO = Path(__file__).resolve().parents[2]
RUN_PY = REPO / "dlt_pipeline" / "run.py"
TEST_ENV = {
    # failing paths stay fast; a test that needs other values passes them in `env`
    "SESSION_STREAM__RETRIES": "3",
    "SESSION_STREAM__BACKOFF": "0.1",
    "SESSION_STREAM__TIMEOUT": "5",
    "RUNTIME__LOG_LEVEL": "WARNING",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}
FOREIGN_SETTINGS = ("SESSION_STREAM", "DESTINATION__", "NORMALIZE__", "DATA_WRITER__")
"""Prefixes of the caller's environment variables that would point the loader elsewhere."""


def today() -> date:
    return datetime.now(UTC).date()


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


def loader_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment minus anything that would point the loader elsewhere, plus TEST_ENV and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_SETTINGS)}
    return {**env, **TEST_ENV, **(extra or {})}


def loader_command(*args: str | os.PathLike[str]) -> list[str]:
    """`python dlt_pipeline/run.py ARGS` as an argv list."""
    return [sys.executable, str(RUN_PY), *map(os.fspath, args)]


def run_loader(*args: str | os.PathLike[str], cwd: Path = REPO, timeout: float = 300,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One loader run to completion (or to its crash); output captured as text."""
    return subprocess.run(loader_command(*args), cwd=cwd, env=loader_env(env), capture_output=True, text=True,
                          timeout=timeout, check=False)


def run_or_fail(cmd: list[str], env: dict[str, str], what: str, timeout: float = 600) -> str:
    """Run any command from the repository root; its stdout, or AssertionError with its output."""
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{what} failed ({proc.returncode}):\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit code and output of a loader run, for assertion messages."""
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-8000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"


SUMMARY_RE = re.compile(
    r"files listed (\d+), already loaded (\d+), loaded now (\d+), quarantined (\d+), waiting .*? (\d+)"
)
DAYS_RE = re.compile(r"day folders (\d{4}-\d{2}-\d{2}) \.\. (\d{4}-\d{2}-\d{2})")


def summary(stdout: str) -> dict[str, int]:
    """The counters of the run summary line (listed, known, loaded, quarantined, waiting)."""
    match = SUMMARY_RE.search(stdout)
    assert match, f"no summary line in output:\n{stdout}"
    return dict(zip(("listed", "known", "loaded", "quarantined", "waiting"), map(int, match.groups()), strict=True))


def listed_days(stdout: str) -> tuple[date, date]:
    """The first and last day folder the run listed."""
    match = DAYS_RE.search(stdout)
    assert match, f"no 'day folders' in output:\n{stdout}"
    return date.fromisoformat(match.group(1)), date.fromisoformat(match.group(2))


class Target:
    """Where loader runs write: a DuckDB file, or a dataset in the private PostgreSQL, plus the dlt pipelines
    folder, all under `base` (so runs can be repeated, killed and resumed against the same warehouse)."""

    def __init__(self, base: Path, *, postgres: Any = None, dataset: str = SCHEMA) -> None:  # noqa: ANN401
        base.mkdir(parents=True, exist_ok=True)
        self.base = base
        self.duckdb_path = base / "warehouse.duckdb"
        self.pipelines_dir = base / "pipelines"
        self.postgres = postgres
        self.dataset = dataset
        self.sql: Query = postgres_query(postgres) if postgres is not None else duckdb_query(self.duckdb_path)

    def args(self) -> list[str]:
        """The flags that send a run here (files of any age load at once)."""
        out = ["--duckdb-path", str(self.duckdb_path), "--pipelines-dir", str(self.pipelines_dir),
               "--min-file-age-seconds", "0"]
        if self.postgres is not None:
            out += ["--destination", "postgres"]
        if self.dataset != SCHEMA:
            out += ["--dataset-name", self.dataset]
        return out

    def env(self) -> dict[str, str]:
        """Environment variables the runs need (PostgreSQL's credentials)."""
        return self.postgres.env() if self.postgres is not None else {}

    def run(self, *args: str | os.PathLike[str], env: dict[str, str] | None = None, timeout: float = 300,
            cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        """One loader run into this target; `args` come after the target's own flags, so they win."""
        return run_loader(*self.args(), *args, env={**self.env(), **(env or {})}, timeout=timeout, cwd=cwd)

    def pause(self, point: str, *args: str, env: dict[str, str] | None = None) -> PausedRun:
        """Start a run into this target that stops at the test hook `point` (see :class:`PausedRun`)."""
        return PausedRun(self, point, *args, env=env)

    # -- reading it back (table names without schema: the target's dataset) --------------------------

    def scalar(self, query: str) -> Any:  # noqa: ANN401
        return self.sql(query)[0][0]

    def count(self, table: str, where: str = "true") -> int:
        return int(self.scalar(f"select count(*) from {self.dataset}.{table} where {where}"))

    def tables(self) -> set[str]:
        return tables(self.sql, self.dataset)

    def columns(self, table: str) -> dict[str, str]:
        return columns(self.sql, table, self.dataset)

    def counts(self, names: Iterable[str] = ("sessions", *CHILD_TABLES)) -> dict[str, int]:
        return {t: self.count(t) for t in names}


class PausedRun:
    """A loader run stopped at a test hook: the test acts (restart, kill -9, second run), then resumes it."""

    def __init__(self, target: Target, point: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.dir = target.base / f"pause-{point.replace('#', '-')}"
        self.dir.mkdir(parents=True)
        env = {**target.env(), **(env or {}), "SESSION_STREAM_TEST_PAUSE_AT": point,
               "SESSION_STREAM_TEST_PAUSE_DIR": str(self.dir)}
        self.proc = subprocess.Popen(loader_command(*target.args(), *args), cwd=REPO, env=loader_env(env),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not (self.dir / "paused").exists():
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"loader ended before reaching {point}: {self.proc.returncode}\n{out}\n{err}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"loader never reached {point}")
            time.sleep(0.02)

    def resume(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        (self.dir / "resume").touch()
        return self.finish(timeout)

    def finish(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"loader hung after resuming:\n{out}\n{err}") from None
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)
