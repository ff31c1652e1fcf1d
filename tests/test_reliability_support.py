"""Shared helpers for the fault-injection tests (no tests here): a small generated tree with exact ground
truth, a loader runner, and checks that compare the raw tables row by row with that truth.

The loader always runs as a subprocess (`python dlt_pipeline/run.py ...`), exactly as cron runs it, so a
`kill -9` or an exit code is the real thing. Pause/crash points come from `dlt_pipeline/testhooks.py`.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dlt_pipeline.synthetic.generator import (  # noqa: E402
    CHILD_TABLES,
    PII_TARGET_IDS,
    generate,
    read_tree,
    session_stream_root,
    write_session_file,
)

ACCOUNT = 1234
SCHEMA = "monetate_raw"
BASE_ENV = {
    "SESSION_STREAM__RETRIES": "3",
    "SESSION_STREAM__BACKOFF": "0.1",
    "SESSION_STREAM__TIMEOUT": "5",
    "RUNTIME__LOG_LEVEL": "WARNING",
}


@dataclass
class Tree:
    """A Session Stream folder on disk and what loading it must produce."""

    out_dir: Path
    expected: set[tuple[str, int, str]]  # (_source_path, _source_line, session_id) of every line
    per_file: dict[str, int]  # file path relative to session_stream -> sessions
    child: dict[str, int]  # child table -> rows
    pii_values: dict[str, set[str]]  # target id -> personal values in the files
    extra_files: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return session_stream_root(self.out_dir, ACCOUNT)

    def copy_to(self, target: Path) -> Tree:
        shutil.copytree(self.out_dir, target)
        return replace(self, out_dir=target, expected=set(self.expected), per_file=dict(self.per_file),
                       child=dict(self.child))


def build_tree(base: Path) -> Tree:
    """~300 sessions over two days (plus late ones in a third), repacked into 4 files a day: runs take seconds."""
    truth = generate(base / "gen", account_id=ACCOUNT, start_date="2026-11-20", days=2, sessions_per_day=150,
                     seed=11, pii_share=0.15)
    by_day: dict[str, list[dict[str, Any]]] = {}
    for rel, _line, session in read_tree(base / "gen", ACCOUNT):
        by_day.setdefault(rel[:10], []).append(session)
    out = base / "tree"
    token = 5000
    for day, sessions in sorted(by_day.items()):
        for k in range(4):
            if not sessions[k::4]:
                continue
            token += 1
            name = f"{day.replace('/', '')}T{k * 6:02d}0000.000Z_PT15M-{token}.json.gz"
            write_session_file(out, ACCOUNT, name, sessions[k::4])
    expected: set[tuple[str, int, str]] = set()
    per_file: Counter[str] = Counter()
    pii: dict[str, set[str]] = {t: set() for t in PII_TARGET_IDS}
    for rel, line, session in read_tree(out, ACCOUNT):
        expected.add((rel, line, session["session_id"]))
        per_file[rel] += 1
        for target, value in (session.get("custom_targets") or {}).items():
            if target in pii:
                pii[target].add(value)
    child = {t: truth["raw"][t] for t in CHILD_TABLES}
    assert len(expected) == truth["raw"]["sessions"]
    assert all(pii.values()), "the generator must put personal data in custom targets"
    return Tree(out, expected, dict(per_file), child, pii)


@pytest.fixture(scope="session", name="template_tree")
def template_tree_fixture(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    return build_tree(tmp_path_factory.mktemp("template"))


@pytest.fixture(name="tree")
def tree_fixture(template_tree: Tree, tmp_path: Path) -> Tree:
    """A private copy of the template tree for one test (tests add, break or fix files in it)."""
    return template_tree.copy_to(tmp_path / "src")


# -- running the loader -------------------------------------------------------------------------------


def sftp_args(server: Any, root: Path, port: int | None = None, known_hosts: Path | None = None) -> list[str]:
    """--source/--private-key/--known-hosts for a PrivateSshd, optionally through a proxy port."""
    port = port or server.port
    if known_hosts is None:
        known_hosts = server.known_hosts_path if port == server.port else server.known_hosts_for(port)
    return ["--source", f"sftp://{server.user}@127.0.0.1:{port}{root}", "--private-key", str(server.client_key_path),
            "--known-hosts", str(known_hosts)]


def loader_cmd(source_args: list[str], work: Path, *extra: str) -> list[str]:
    return [sys.executable, "dlt_pipeline/run.py", *source_args, "--duckdb-path", str(work / "warehouse.duckdb"),
            "--pipelines-dir", str(work / "pipelines"), "--min-file-age-seconds", "0", *extra]


def loader_env(env: dict[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SESSION_STREAM", "DESTINATION__"))}
    return {**base, **BASE_ENV, **(env or {})}


def run_loader(source_args: list[str], work: Path, *extra: str, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """One loader run to completion (or to its crash)."""
    return subprocess.run(loader_cmd(source_args, work, *extra), cwd=REPO, env=loader_env(env),
                          capture_output=True, text=True, timeout=timeout)


class PausedRun:
    """A loader run stopped at a test hook: the test acts (restart, kill -9, second run), then resumes it."""

    def __init__(self, source_args: list[str], work: Path, point: str, *extra: str,
                 env: dict[str, str] | None = None) -> None:
        self.dir = work / f"pause-{point.replace('#', '-')}"
        self.dir.mkdir(parents=True)
        env = {**(env or {}), "SESSION_STREAM_TEST_PAUSE_AT": point, "SESSION_STREAM_TEST_PAUSE_DIR": str(self.dir)}
        self.proc = subprocess.Popen(loader_cmd(source_args, work, *extra), cwd=REPO, env=loader_env(env),
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


def show(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-4000:]}"


# -- checking the warehouse -----------------------------------------------------------------------------

Query = Callable[[str], list[tuple[Any, ...]]]


def duckdb_query(path: Path) -> Query:
    def q(sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return con.sql(sql).fetchall()
        finally:
            con.close()

    return q


def postgres_query(server: Any) -> Query:
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
    return f"_dlt_load_id in (select load_id from {schema}._dlt_loads where status = 0)"


def table_exists(q: Query, table: str, schema: str = SCHEMA) -> bool:
    return bool(q(f"select 1 from information_schema.tables where table_schema = '{schema}' "
                  f"and table_name = '{table}'"))


def assert_ground_truth(q: Query, tree: Tree, schema: str = SCHEMA, *, extra_sessions: int = 0) -> None:
    """Every line of every file exactly once, in raw tables of completed loads; nothing outside them."""
    done = completed(schema)
    rows = q(f"select _source_path, _source_line, session_id, _dlt_id from {schema}.sessions where {done}")
    keys = Counter((p, int(n), s) for p, n, s, _ in rows)
    doubled = {k: v for k, v in keys.items() if v > 1}
    assert not doubled, f"sessions loaded more than once: {list(doubled)[:5]}"
    got = set(keys)
    assert got >= tree.expected, f"missing sessions: {sorted(tree.expected - got)[:5]}"
    assert len(got - tree.expected) == extra_sessions, f"unexpected sessions: {sorted(got - tree.expected)[:5]}"
    assert len({r[3] for r in rows}) == len(rows), "duplicate _dlt_id in sessions"
    orphans = q(f"select count(*) from {schema}.sessions where not ({done})")[0][0]
    assert orphans == 0, f"{orphans} session rows belong to loads that never completed"
    for table, n in tree.child.items():
        total, distinct = q(f"select count(*), count(distinct _dlt_id) from {schema}.{table} where {done}")[0]
        assert distinct == total, f"duplicate _dlt_id in {table}"
        if not extra_sessions:
            assert total == n, f"{table}: {total} rows, truth {n}"
    ledger = q(f"select file_path, status, sessions_loaded from {schema}.session_stream_files where {done}")
    by_path = {p: (s, n) for p, s, n in ledger}
    assert len(by_path) == len(ledger), "a file has two ledger rows"
    for path, n in tree.per_file.items():
        assert by_path.get(path) == ("loaded", n), f"ledger for {path}: {by_path.get(path)}, truth loaded/{n}"


# -- looking for secrets and personal data in everything a run wrote --------------------------------------


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
        import pyarrow.parquet as pq

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
    """Needles in the DuckDB file's bytes or in any text column of any table (one connection, one scan a column)."""
    blob = path.read_bytes()
    hits = [f"{n!r} in raw bytes of {path}" for n in needles if n.encode() in blob]
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.sql("select table_schema, table_name, column_name from information_schema.columns "
                       "where data_type = 'VARCHAR'").fetchall()
        for schema, table, column in cols:
            values = [v for (v,) in con.sql(f'select distinct "{column}" from "{schema}"."{table}"').fetchall() if v]
            text = "\n".join(values)
            hits += [f"{n!r} in {schema}.{table}.{column}" for n in needles if n in text]
    finally:
        con.close()
    return hits
