"""Fault injection against the real private sshd (and PostgreSQL): nothing lost, nothing doubled.

Each test breaks something on purpose (the network, the server, the data, the loader process itself)
and then compares the raw tables and the ledger row by row with the ground truth of the files on disk.
See docs/reliability.md for the table of faults and the test that proves each behaviour.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import orjson
import pytest
from servers import FaultProxy, PrivatePostgres, PrivateSshd
from test_reliability_support import (  # noqa: F401 - fixtures
    ACCOUNT,
    SCHEMA,
    PausedRun,
    Tree,
    assert_ground_truth,
    completed,
    duckdb_query,
    postgres_query,
    run_loader,
    sftp_args,
    show,
    table_exists,
    template_tree_fixture,
    tree_fixture,
)

from dlt_pipeline.session_stream.plan import list_candidates
from dlt_pipeline.session_stream.transport import RemoteEntry, TransportError
from dlt_pipeline.synthetic.generator import SIZE_CAP, make_session, write_session_file

pytestmark = pytest.mark.timeout(180)

# --------------------------------------------------------------------------------------------------
# network and server faults


def test_clean_load_matches_ground_truth(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """Baseline for every fault test: one run over SFTP loads every line once; a second run loads nothing."""
    proc = run_loader(sftp_args(sshd, tree.root), tmp_path, "--workers", "0")
    assert proc.returncode == 0, show(proc)
    assert f"loaded now {len(tree.per_file)}" in proc.stdout
    q = duckdb_query(tmp_path / "warehouse.duckdb")
    assert_ground_truth(q, tree)
    again = run_loader(sftp_args(sshd, tree.root), tmp_path, "--workers", "0")
    assert again.returncode == 0, show(again)
    assert "loaded now 0" in again.stdout and f"already loaded {len(tree.per_file)}" in again.stdout
    assert_ground_truth(q, tree)


def test_connection_cut_mid_file_is_retried(sshd: PrivateSshd, fault_proxy: Callable[[int], FaultProxy],
                                            tree: Tree, tmp_path: Path) -> None:
    """The TCP connection drops in the middle of the 3rd file: reconnect, download again, every file once."""
    third = sorted(tree.root.rglob("*.json.gz"))[2]
    assert third.stat().st_size > 4000
    proxy = fault_proxy(sshd.port)
    run = PausedRun(sftp_args(sshd, tree.root, port=proxy.port), tmp_path, "after_download#2", "--workers", "0")
    proxy.cut_after_bytes(2500)  # the next server bytes are the 3rd file's: cut inside it
    proc = run.resume()
    assert proc.returncode == 0, show(proc)
    assert proxy.faults_fired == 1
    assert "retrying" in proc.stderr, proc.stderr
    assert "quarantined 0" in proc.stdout
    assert_ground_truth(duckdb_query(tmp_path / "warehouse.duckdb"), tree)


def test_interrupted_download_is_not_a_corrupt_file(sshd: PrivateSshd, fault_proxy: Callable[[int], FaultProxy],
                                                    tree: Tree, tmp_path: Path) -> None:
    """No retries left: the run stops with a clear error, loads only whole files, quarantines nothing;
    the next run loads the rest (the cut file was never mistaken for a corrupt gzip)."""
    proxy = fault_proxy(sshd.port)
    args = sftp_args(sshd, tree.root, port=proxy.port)
    run = PausedRun(args, tmp_path, "after_download#2", "--workers", "0", env={"SESSION_STREAM__RETRIES": "0"})
    proxy.cut_after_bytes(2500)
    proc = run.resume()
    assert proc.returncode == 1, show(proc)
    assert "still failing" in proc.stderr and "next run" in proc.stderr, proc.stderr
    q = duckdb_query(tmp_path / "warehouse.duckdb")
    assert q(f"select count(*) from {SCHEMA}.session_stream_files where status <> 'loaded'")[0][0] == 0
    assert not table_exists(q, "session_stream_rejects")
    loaded = dict(q(f"select file_path, sessions_loaded from {SCHEMA}.session_stream_files where {completed()}"))
    assert 0 < len(loaded) < len(tree.per_file)
    for path, n in loaded.items():  # whatever loaded, loaded whole
        assert n == tree.per_file[path]
    proc = run_loader(args, tmp_path, "--workers", "0")
    assert proc.returncode == 0, show(proc)
    assert_ground_truth(q, tree)


def test_server_restart_between_files(fresh_sshd: Callable[[], PrivateSshd], tree: Tree, tmp_path: Path) -> None:
    """sshd restarts (all sessions killed) between two downloads: the run reconnects and finishes."""
    server = fresh_sshd()
    run = PausedRun(sftp_args(server, tree.root), tmp_path, "after_download#3", "--workers", "0")
    server.restart()
    proc = run.resume()
    assert proc.returncode == 0, show(proc)
    assert "retrying" in proc.stderr, proc.stderr
    assert_ground_truth(duckdb_query(tmp_path / "warehouse.duckdb"), tree)


def test_server_stall_times_out_and_retries(sshd: PrivateSshd, fault_proxy: Callable[[int], FaultProxy],
                                            tree: Tree, tmp_path: Path) -> None:
    """The link goes silent mid-file (no FIN, no RST): the read timeout fires, the run reconnects, no hang."""
    proxy = fault_proxy(sshd.port)
    run = PausedRun(sftp_args(sshd, tree.root, port=proxy.port), tmp_path, "after_download#2", "--workers", "0",
                    env={"SESSION_STREAM__TIMEOUT": "1.5"})
    proxy.stall_after_bytes(2500)
    started = time.monotonic()
    proc = run.resume(timeout=60)
    assert proc.returncode == 0, show(proc)
    assert proxy.faults_fired == 1
    assert time.monotonic() - started < 45
    assert "retrying" in proc.stderr, proc.stderr
    assert_ground_truth(duckdb_query(tmp_path / "warehouse.duckdb"), tree)


@pytest.mark.parametrize("retries", [0, 2])
def test_failed_listing_never_looks_empty(sshd: PrivateSshd, fault_proxy: Callable[[int], FaultProxy],
                                          tree: Tree, tmp_path: Path, retries: int) -> None:
    """The connection dies on the first listing: with retries the run reconnects and loads everything;
    without, it stops with an error and loads nothing (no day was taken for empty, no ledger row)."""
    proxy = fault_proxy(sshd.port)
    args = sftp_args(sshd, tree.root, port=proxy.port)
    run = PausedRun(args, tmp_path, "before_plan", "--workers", "0", "--start-date", "2026-11-20",
                    env={"SESSION_STREAM__RETRIES": str(retries)})
    proxy.cut_after_bytes(10)
    proc = run.resume()
    assert proxy.faults_fired == 1
    q = duckdb_query(tmp_path / "warehouse.duckdb")
    if retries:
        assert proc.returncode == 0, show(proc)
        assert_ground_truth(q, tree)
    else:
        assert proc.returncode == 1, show(proc)
        assert "listing" in proc.stderr and "still failing" in proc.stderr, proc.stderr
        assert not (tmp_path / "warehouse.duckdb").exists() or not table_exists(q, "session_stream_files")


def test_failed_day_listing_raises_in_planner() -> None:
    """Unit level: a day folder whose listing fails (or vanishes) stops planning instead of counting 0 files."""

    class Flaky:
        description = "flaky"

        def list_dir(self, rel: str) -> list[RemoteEntry] | None:
            if rel == "2026/11":
                return [RemoteEntry("20", 0, 0, True), RemoteEntry("21", 0, 0, True)]
            if rel == "2026/11/20":
                return [RemoteEntry("20261120T000000.000Z_PT15M-1.json.gz", 10, 0, False)]
            if rel == "2026/11/21":
                raise TransportError("SFTP listing of 2026/11/21 still failing after 3 retries")
            return None

    with pytest.raises(TransportError, match="2026/11/21"):
        list_candidates(Flaky(), date(2026, 11, 20), date(2026, 11, 21))  # type: ignore[arg-type]

    class Vanishing(Flaky):
        def list_dir(self, rel: str) -> list[RemoteEntry] | None:
            return None if rel == "2026/11/21" else super().list_dir(rel)

    with pytest.raises(TransportError, match="disappeared"):
        list_candidates(Vanishing(), date(2026, 11, 20), date(2026, 11, 21))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# bad data

BAD_DAY = "2026/11/24"


def _gz(lines: list[bytes]) -> bytes:
    return gzip.compress(b"\n".join(lines) + b"\n", mtime=0)


def _good(i: int, **overrides: object) -> dict:
    return make_session(ACCOUNT, 1_795_305_600_000 + i * 60_000, seed=1000 + i, **overrides)


def add_bad_files(tree: Tree) -> dict[str, str]:
    """Broken files and lines in day 2026/11/24, next to the good tree; returns file path -> expected reason."""
    good = _gz([orjson.dumps(_good(i)) for i in range(3)])
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    corrupt[len(corrupt) // 2 + 1] ^= 0xFF
    files = {
        "20261124T000000.000Z_PT15M-1.json.gz": (bytes(corrupt), "corrupt or truncated gzip"),
        "20261124T001500.000Z_PT15M-2.json.gz": (good[: len(good) // 2], "corrupt or truncated gzip"),
        "20261124T003000.000Z_PT15M-3.json.gz": (b"", "empty file"),
        "20261124T004500.000Z_PT15M-4.json.gz": (b'{"session_id": "plain json"}\n', "not a gzip file"),
    }
    for name, (data, _) in files.items():
        write_session_file(tree.out_dir, ACCOUNT, name, data)
    capped = _good(10, offers={f"s{k}": 1_795_305_600_000 + k for k in range(SIZE_CAP)},
                   view_lines=[{"product_id": f"p{k}", "sku": f"k{k}", "time": 1_795_305_600_000 + k}
                               for k in range(SIZE_CAP + 200)])
    lines = [
        orjson.dumps(_good(20)),                                        # 1 good
        b'{"session_id": "broken", "page_views": ',                     # 2 invalid JSON
        b"[1, 2, 3]",                                                   # 3 JSON, not an object
        orjson.dumps(_good(21, page_views="x")),                        # 4 string in a bigint field
        orjson.dumps(_good(22, page_views=1.5)),                        # 5 fraction in a bigint field
        orjson.dumps(_good(23, city="x" * 300_000)),                    # 6 over the line limit
        b'{"session_id": "bad-utf8-\xff\xfe", "page_views": 1}',        # 7 not UTF-8
        orjson.dumps(capped),                                           # 8 good, capped fields
        orjson.dumps(_good(24)),                                        # 9 good
    ]
    name = "20261124T010000.000Z_PT15M-5.json.gz"
    write_session_file(tree.out_dir, ACCOUNT, name, _gz(lines))
    path = f"{BAD_DAY}/{name}"
    for number in (1, 8, 9):
        tree.expected.add((path, number, orjson.loads(lines[number - 1])["session_id"]))
    tree.per_file[path] = 3
    tree.extra_files = {"lines_file": path, "capped": capped}
    return {f"{BAD_DAY}/{n}": reason for n, (_, reason) in files.items()}


EXPECTED_LINE_REASONS = {2: "invalid JSON", 3: "not an object", 4: "page_views", 5: "page_views",
                         6: "over the", 7: "invalid JSON"}


@pytest.mark.parametrize("workers", ["0", "1"])  # in the loader process and in a worker process
def test_bad_data_is_quarantined_rest_loads_then_retry(sshd: PrivateSshd, tree: Tree, tmp_path: Path,
                                                       workers: str) -> None:
    """Corrupt/truncated/empty/non-gzip files and bad lines go to quarantine with file, line, reason and raw
    text; everything else loads; the summary lists them; exit 3. A re-delivered file loads once with
    --retry-quarantined. Capped fields load whole and are flagged. Odd names are ignored with a message."""
    bad_files = add_bad_files(tree)
    day = tree.root / BAD_DAY
    (day / ".partial.json.gz").write_bytes(b"x")
    (day / "evil\nname.json.gz").write_bytes(b"x")
    (day / "back\\slash.json.gz").write_bytes(b"x")
    (day / "README.txt").write_bytes(b"x")
    env = {"SESSION_STREAM__MAX_LINE_BYTES": "200000"}
    args = sftp_args(sshd, tree.root)
    proc = run_loader(args, tmp_path, "--workers", workers, env=env)
    assert proc.returncode == 3, show(proc)
    q = duckdb_query(tmp_path / "warehouse.duckdb")
    # the rest loads exactly once
    done = completed()
    got = set(q(f"select _source_path, _source_line, session_id from {SCHEMA}.sessions where {done}"))
    assert got == tree.expected
    # files: ledger status + reason, a reject row with no line number
    ledger = {p: (s, r) for p, s, r in q(f"select file_path, status, reason from {SCHEMA}.session_stream_files "
                                          f"where {done}")}
    for path, reason in bad_files.items():
        assert ledger[path][0] == "quarantined" and reason in ledger[path][1], (path, ledger[path])
        assert f"quarantined file[/] {path}" in proc.stdout or f"quarantined file {path}" in proc.stdout, proc.stdout
    rejects = q(f"select file_path, line_number, reason, raw_text from {SCHEMA}.session_stream_rejects")
    file_rejects = {r[0]: r for r in rejects if r[1] is None}
    assert set(file_rejects) == set(bad_files)
    # lines: file, line number, reason, bounded raw text
    lines_file = tree.extra_files["lines_file"]
    line_rejects = {r[1]: r for r in rejects if r[0] == lines_file}
    assert set(line_rejects) == set(EXPECTED_LINE_REASONS)
    for number, word in EXPECTED_LINE_REASONS.items():
        assert word in line_rejects[number][2], line_rejects[number]
        assert len(line_rejects[number][3] or "") <= 2000
    assert "broken" in line_rejects[2][3] and line_rejects[3][3] == "[1, 2, 3]"
    assert ledger[lines_file] == ("loaded", "6 line(s) quarantined, see session_stream_rejects")
    assert "quarantined 4" in proc.stdout and "lines quarantined 6" in proc.stdout, proc.stdout
    assert "quarantined line" in proc.stdout and "session_stream_rejects" in proc.stdout
    # capped session: every item loaded and the fields flagged
    capped = tree.extra_files["capped"]
    flags = q(f"select _capped_fields from {SCHEMA}.sessions where session_id = '{capped['session_id']}'")[0][0]
    assert "offers" in flags and "view_lines" in flags, flags
    for table, n in (("sessions__offers", SIZE_CAP), ("sessions__view_lines", SIZE_CAP + 200)):
        assert q(f"select count(*) from {SCHEMA}.{table} where session_id = '{capped['session_id']}'")[0][0] == n
    # odd names: not loaded, named in a warning
    assert "ignoring unexpected entry" in proc.stderr
    for odd in (".partial.json.gz", "evil\\nname.json.gz", "back\\\\slash.json.gz"):
        assert odd in proc.stderr, (odd, proc.stderr)
    # the vendor re-delivers the corrupt file: --retry-quarantined loads it once, the others stay quarantined
    fixed = f"{BAD_DAY}/20261124T000000.000Z_PT15M-1.json.gz"
    sessions = [_good(i) for i in range(3)]
    write_session_file(tree.out_dir, ACCOUNT, fixed.rsplit("/", 1)[1], [dict(s, session_id=f"fixed-{i}")
                                                                       for i, s in enumerate(sessions)])
    proc = run_loader(args, tmp_path, "--workers", "0", "--retry-quarantined", env=env)
    assert proc.returncode == 3, show(proc)  # three files are still broken
    assert "loaded now 1" in proc.stdout and "quarantined 3" in proc.stdout, proc.stdout
    for i in range(3):
        tree.expected.add((fixed, i + 1, f"fixed-{i}"))
    got = q(f"select _source_path, _source_line, session_id from {SCHEMA}.sessions where {done}")
    assert len(got) == len(set(got)) and set(got) == tree.expected
    status = dict(q(f"select file_path, status from {SCHEMA}.session_stream_files where {done}"))
    assert status[fixed] == "loaded"
    proc = run_loader(args, tmp_path, "--workers", "0", "--retry-quarantined", env=env)
    assert "loaded now 0" in proc.stdout, show(proc)
    assert len(q(f"select 1 from {SCHEMA}.sessions where {done}")) == len(tree.expected)


def test_strict_fails_and_loads_nothing(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """--strict: any quarantine fails the run with exit 4 and nothing at all is loaded."""
    add_bad_files(tree)
    proc = run_loader(sftp_args(sshd, tree.root), tmp_path, "--workers", "0", "--strict")
    assert proc.returncode == 4, show(proc)
    assert "--strict" in proc.stderr and "nothing was loaded" in proc.stderr, proc.stderr
    db = tmp_path / "warehouse.duckdb"
    if db.exists():
        q = duckdb_query(db)
        for table in ("sessions", "session_stream_files", "session_stream_rejects"):
            if table_exists(q, table):
                assert q(f"select count(*) from {SCHEMA}.{table}")[0][0] == 0, table


# --------------------------------------------------------------------------------------------------
# crashes and concurrency


def _crash_env(point: str) -> dict[str, str]:
    return {"SESSION_STREAM_TEST_CRASH_AT": point}


@pytest.mark.parametrize("point", ["after_extract", "after_normalize", "during_load"])
def test_kill_9_then_rerun_gives_ground_truth(sshd: PrivateSshd, tree: Tree, tmp_path: Path, point: str) -> None:
    """The loader is killed with SIGKILL at a load stage; a normal re-run gives exactly the ground truth."""
    args = sftp_args(sshd, tree.root)
    proc = run_loader(args, tmp_path, env=_crash_env(point))
    assert proc.returncode == -signal.SIGKILL, show(proc)
    proc = run_loader(args, tmp_path)
    assert proc.returncode == 0, show(proc)
    q = duckdb_query(tmp_path / "warehouse.duckdb")
    assert_ground_truth(q, tree)
    if point != "after_extract":
        return
    # a fresh machine: the pipelines folder is gone, the ledger in the warehouse still says what is loaded
    shutil.rmtree(tmp_path / "pipelines")
    proc = run_loader(args, tmp_path)
    assert proc.returncode == 0, show(proc)
    assert "loaded now 0" in proc.stdout, proc.stdout
    assert_ground_truth(q, tree)


def test_kill_9_during_download_then_rerun(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """A real `kill -9` from outside while files are downloading (parser workers running): the re-run is
    not blocked by the dead run's lock or workers, leaves no stale download behind, and loads everything once."""
    args = sftp_args(sshd, tree.root)
    run = PausedRun(args, tmp_path, "after_download#3")
    pid = int((run.dir / "paused").read_text())
    os.kill(pid, signal.SIGKILL)
    assert run.finish().returncode == -signal.SIGKILL
    proc = run_loader(args, tmp_path)
    assert proc.returncode == 0, show(proc)
    assert_ground_truth(duckdb_query(tmp_path / "warehouse.duckdb"), tree)
    assert not list((tmp_path / "pipelines").rglob("spool-*")), "downloads of the killed run were left behind"


def test_second_concurrent_run_is_locked_out(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """Two runs at once: the second stops at once with exit 5 and a clear message; the first loads once."""
    args = sftp_args(sshd, tree.root)
    first = PausedRun(args, tmp_path, "after_download#1", "--workers", "0")
    second = run_loader(args, tmp_path, "--workers", "0")
    assert second.returncode == 5, show(second)
    assert "another loader run" in second.stderr and str(first.proc.pid) in second.stderr, second.stderr
    proc = first.resume()
    assert proc.returncode == 0, show(proc)
    assert_ground_truth(duckdb_query(tmp_path / "warehouse.duckdb"), tree)


def test_runs_with_different_working_folders_still_exclude_each_other(sshd: PrivateSshd, tree: Tree,
                                                                      tmp_path: Path) -> None:
    """The DuckDB lock sits next to the database file: a second machine-local working folder cannot sneak in."""
    args = sftp_args(sshd, tree.root)
    first = PausedRun(args, tmp_path, "after_download#1", "--workers", "0")
    second = run_loader(args, tmp_path, "--workers", "0", "--pipelines-dir", str(tmp_path / "other-pipelines"))
    assert second.returncode == 5, show(second)
    assert "warehouse.duckdb.loader.lock" in second.stderr, second.stderr
    proc = first.resume()
    assert proc.returncode == 0, show(proc)
    assert_ground_truth(duckdb_query(tmp_path / "warehouse.duckdb"), tree)


# --------------------------------------------------------------------------------------------------
# PostgreSQL (the Redshift stand-in)


def _pg(postgres: PrivatePostgres, dataset: str) -> tuple[list[str], dict[str, str]]:
    return ["--destination", "postgres", "--dataset-name", dataset], postgres.env()


def test_postgres_load_matches_ground_truth(sshd: PrivateSshd, postgres: PrivatePostgres, tree: Tree,
                                            tmp_path: Path) -> None:
    """Basic load into PostgreSQL: every line once; its password appears in no output and no local file."""
    extra, env = _pg(postgres, "rel_pg_basic")
    proc = run_loader(sftp_args(sshd, tree.root), tmp_path, *extra, "--workers", "0", env=env)
    assert proc.returncode == 0, show(proc)
    assert_ground_truth(postgres_query(postgres), tree, "rel_pg_basic")
    from test_reliability_support import find_in_tree

    assert postgres.password not in proc.stdout + proc.stderr
    assert not find_in_tree(tmp_path / "pipelines", [postgres.password])


def test_postgres_advisory_lock_spans_machines(sshd: PrivateSshd, postgres: PrivatePostgres, tree: Tree,
                                              tmp_path: Path) -> None:
    """Two loaders with separate working folders (two machines) into one PostgreSQL dataset: one waits out."""
    extra, env = _pg(postgres, "rel_pg_lock")
    args = sftp_args(sshd, tree.root)
    first = PausedRun(args, tmp_path, "after_download#1", *extra, "--workers", "0", env=env)
    second = run_loader(args, tmp_path / "machine2", *extra, "--workers", "0", env=env)
    assert second.returncode == 5, show(second)
    assert "advisory lock" in second.stderr, second.stderr
    proc = first.resume()
    assert proc.returncode == 0, show(proc)
    assert_ground_truth(postgres_query(postgres), tree, "rel_pg_lock")


def test_postgres_kill_9_during_load_then_rerun(sshd: PrivateSshd, postgres: PrivatePostgres, tree: Tree,
                                                tmp_path: Path) -> None:
    """kill -9 while dlt loads into PostgreSQL; the re-run finishes the package: exactly the ground truth."""
    extra, env = _pg(postgres, "rel_pg_crash")
    args = sftp_args(sshd, tree.root)
    proc = run_loader(args, tmp_path, *extra, env={**env, **_crash_env("during_load")})
    assert proc.returncode == -signal.SIGKILL, show(proc)
    proc = run_loader(args, tmp_path, *extra, env=env)
    assert proc.returncode == 0, show(proc)
    assert_ground_truth(postgres_query(postgres), tree, "rel_pg_crash")
