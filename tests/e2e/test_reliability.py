"""Fault injection against the real private sshd (and PostgreSQL): nothing lost, nothing doubled.

Each test breaks something on purpose (the network, the server, the data, the loader process itself)
and then compares the raw tables and the ledger row by row with the ground truth of the files on disk.
See docs/reliability.md for the table of faults and the test that proves each behaviour.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from support.data import ACCOUNT, SESSION_BASE_MS, Tree, assert_ground_truth, gzip_lines, numbered_session
from support.leaks import find_in_tree
from support.loader import Target, explain
from support.servers import FaultProxy, PrivatePostgres, PrivateSshd
from support.sftp import sftp_args
from support.warehouse import SCHEMA, completed, table_exists

from dlt_pipeline.synthetic.generator import SIZE_CAP, write_session_file

pytestmark = pytest.mark.timeout(180)

# --------------------------------------------------------------------------------------------------
# network and server faults


def test_clean_load_matches_ground_truth(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """Baseline for every fault test: one run over SFTP loads every line once; a second run loads nothing."""
    target = Target(tmp_path)
    proc = target.run(*sftp_args(sshd, tree.root), "--workers", "0")
    assert proc.returncode == 0, explain(proc)
    assert f"loaded now {len(tree.per_file)}" in proc.stdout
    assert_ground_truth(target.sql, tree)
    again = target.run(*sftp_args(sshd, tree.root), "--workers", "0")
    assert again.returncode == 0, explain(again)
    assert "loaded now 0" in again.stdout and f"already loaded {len(tree.per_file)}" in again.stdout
    assert_ground_truth(target.sql, tree)


def test_connection_cut_mid_file_is_retried(sshd: PrivateSshd, fault_proxy: Callable[[int], FaultProxy],
                                            tree: Tree, tmp_path: Path) -> None:
    """The TCP connection drops in the middle of the 3rd file: reconnect, download again, every file once."""
    third = sorted(tree.root.rglob("*.json.gz"))[2]
    assert third.stat().st_size > 4000
    proxy = fault_proxy(sshd.port)
    target = Target(tmp_path)
    run = target.pause("after_download#2", *sftp_args(sshd, tree.root, port=proxy.port), "--workers", "0")
    proxy.cut_after_bytes(2500)  # the next server bytes are the 3rd file's: cut inside it
    proc = run.resume()
    assert proc.returncode == 0, explain(proc)
    assert proxy.faults_fired == 1
    assert "retrying" in proc.stderr, proc.stderr
    assert "quarantined 0" in proc.stdout
    assert_ground_truth(target.sql, tree)


def test_interrupted_download_is_not_a_corrupt_file(sshd: PrivateSshd, fault_proxy: Callable[[int], FaultProxy],
                                                    tree: Tree, tmp_path: Path) -> None:
    """No retries left: the run stops with a clear error, loads only whole files, quarantines nothing;
    the next run loads the rest (the cut file was never mistaken for a corrupt gzip)."""
    proxy = fault_proxy(sshd.port)
    args = sftp_args(sshd, tree.root, port=proxy.port)
    target = Target(tmp_path)
    run = target.pause("after_download#2", *args, "--workers", "0", env={"SESSION_STREAM__RETRIES": "0"})
    proxy.cut_after_bytes(2500)
    proc = run.resume()
    assert proc.returncode == 1, explain(proc)
    assert "still failing" in proc.stderr and "next run" in proc.stderr, proc.stderr
    q = target.sql
    assert q(f"select count(*) from {SCHEMA}.session_stream_files where status <> 'loaded'")[0][0] == 0
    # the rejects table exists from the first load on (empty): nothing in it
    assert q(f"select count(*) from {SCHEMA}.session_stream_rejects")[0][0] == 0
    loaded = dict(q(f"select file_path, sessions_loaded from {SCHEMA}.session_stream_files where {completed()}"))
    assert 0 < len(loaded) < len(tree.per_file)
    for path, n in loaded.items():  # whatever loaded, loaded whole
        assert n == tree.per_file[path]
    proc = target.run(*args, "--workers", "0")
    assert proc.returncode == 0, explain(proc)
    assert_ground_truth(q, tree)


def test_server_restart_between_files(fresh_sshd: Callable[[], PrivateSshd], tree: Tree, tmp_path: Path) -> None:
    """sshd restarts (all sessions killed) between two downloads: the run reconnects and finishes."""
    server = fresh_sshd()
    target = Target(tmp_path)
    run = target.pause("after_download#3", *sftp_args(server, tree.root), "--workers", "0")
    server.restart()
    proc = run.resume()
    assert proc.returncode == 0, explain(proc)
    assert "retrying" in proc.stderr, proc.stderr
    assert_ground_truth(target.sql, tree)


def test_server_stall_times_out_and_retries(sshd: PrivateSshd, fault_proxy: Callable[[int], FaultProxy],
                                            tree: Tree, tmp_path: Path) -> None:
    """The link goes silent mid-file (no FIN, no RST): the read timeout fires, the run reconnects, no hang."""
    proxy = fault_proxy(sshd.port)
    target = Target(tmp_path)
    run = target.pause("after_download#2", *sftp_args(sshd, tree.root, port=proxy.port), "--workers", "0",
                       env={"SESSION_STREAM__TIMEOUT": "1.5"})
    proxy.stall_after_bytes(2500)
    started = time.monotonic()
    proc = run.resume(timeout=60)
    assert proc.returncode == 0, explain(proc)
    assert proxy.faults_fired == 1
    assert time.monotonic() - started < 45
    assert "retrying" in proc.stderr, proc.stderr
    assert_ground_truth(target.sql, tree)


@pytest.mark.parametrize("retries", [0, 2])
def test_failed_listing_never_looks_empty(sshd: PrivateSshd, fault_proxy: Callable[[int], FaultProxy],
                                          tree: Tree, tmp_path: Path, retries: int) -> None:
    """The connection dies on the first listing: with retries the run reconnects and loads everything;
    without, it stops with an error and loads nothing (no day was taken for empty, no ledger row)."""
    proxy = fault_proxy(sshd.port)
    target = Target(tmp_path)
    # paused once the connection (opened in the background) is up, so the cut hits the listing, not the handshake
    run = target.pause("sftp_connected", *sftp_args(sshd, tree.root, port=proxy.port), "--workers", "0",
                       "--start-date", "2026-11-20", env={"SESSION_STREAM__RETRIES": str(retries)})
    proxy.cut_after_bytes(10)
    proc = run.resume()
    assert proxy.faults_fired == 1
    q = target.sql
    if retries:
        assert proc.returncode == 0, explain(proc)
        assert_ground_truth(q, tree)
    else:
        assert proc.returncode == 1, explain(proc)
        assert "listing" in proc.stderr and "still failing" in proc.stderr, proc.stderr
        assert not target.duckdb_path.exists() or not table_exists(q, "session_stream_files")


# --------------------------------------------------------------------------------------------------
# bad data

BAD_DAY = "2026/11/24"


def _good(i: int, **overrides: object) -> dict:
    return numbered_session(i, seed_base=1000, **overrides)


def add_bad_files(tree: Tree) -> dict[str, str]:
    """Broken files and lines in day 2026/11/24, next to the good tree; returns file path -> expected reason."""
    good = gzip_lines([orjson.dumps(_good(i)) for i in range(3)])
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
    capped = _good(10, offers={f"s{k}": SESSION_BASE_MS + k for k in range(SIZE_CAP)},
                   view_lines=[{"product_id": f"p{k}", "sku": f"k{k}", "time": SESSION_BASE_MS + k}
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
    write_session_file(tree.out_dir, ACCOUNT, name, gzip_lines(lines))
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
    target = Target(tmp_path)
    proc = target.run(*args, "--workers", workers, env=env)
    assert proc.returncode == 3, explain(proc)
    q = target.sql
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
    proc = target.run(*args, "--workers", "0", "--retry-quarantined", env=env)
    assert proc.returncode == 3, explain(proc)  # three files are still broken
    assert "loaded now 1" in proc.stdout and "quarantined 3" in proc.stdout, proc.stdout
    for i in range(3):
        tree.expected.add((fixed, i + 1, f"fixed-{i}"))
    got = q(f"select _source_path, _source_line, session_id from {SCHEMA}.sessions where {done}")
    assert len(got) == len(set(got)) and set(got) == tree.expected
    status = dict(q(f"select file_path, status from {SCHEMA}.session_stream_files where {done}"))
    assert status[fixed] == "loaded"
    proc = target.run(*args, "--workers", "0", "--retry-quarantined", env=env)
    assert "loaded now 0" in proc.stdout, explain(proc)
    assert len(q(f"select 1 from {SCHEMA}.sessions where {done}")) == len(tree.expected)


def test_strict_fails_and_loads_nothing(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """--strict: any quarantine fails the run with exit 4 and nothing at all is loaded."""
    add_bad_files(tree)
    target = Target(tmp_path)
    proc = target.run(*sftp_args(sshd, tree.root), "--workers", "0", "--strict")
    assert proc.returncode == 4, explain(proc)
    assert "--strict" in proc.stderr and "nothing was loaded" in proc.stderr, proc.stderr
    if target.duckdb_path.exists():
        q = target.sql
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
    target = Target(tmp_path)
    proc = target.run(*args, env=_crash_env(point))
    assert proc.returncode == -signal.SIGKILL, explain(proc)
    proc = target.run(*args)
    assert proc.returncode == 0, explain(proc)
    assert_ground_truth(target.sql, tree)
    runs = target.sql(f"select exit_code, finished_at is null from {SCHEMA}.session_stream_runs order by started_at")
    assert runs == [(None, True), (0, False)], "the killed run's history row came with its package, never completed"
    if point != "after_extract":
        return
    # a fresh machine: the pipelines folder is gone, the ledger in the warehouse still says what is loaded
    shutil.rmtree(target.pipelines_dir)
    proc = target.run(*args)
    assert proc.returncode == 0, explain(proc)
    assert "loaded now 0" in proc.stdout, proc.stdout
    assert_ground_truth(target.sql, tree)


def test_kill_9_during_download_then_rerun(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """A real `kill -9` from outside while files are downloading (parser workers running): the re-run is
    not blocked by the dead run's lock or workers, leaves no stale download behind, and loads everything once."""
    args = sftp_args(sshd, tree.root)
    target = Target(tmp_path)
    run = target.pause("after_download#3", *args)
    pid = int((run.dir / "paused").read_text())
    os.kill(pid, signal.SIGKILL)
    assert run.finish().returncode == -signal.SIGKILL
    proc = target.run(*args)
    assert proc.returncode == 0, explain(proc)
    assert_ground_truth(target.sql, tree)
    assert not list(target.pipelines_dir.rglob("spool-*")), "downloads of the killed run were left behind"


def test_second_concurrent_run_is_locked_out(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """Two runs at once: the second stops at once with exit 5 and a clear message; the first loads once."""
    args = sftp_args(sshd, tree.root)
    target = Target(tmp_path)
    first = target.pause("after_download#1", *args, "--workers", "0")
    second = target.run(*args, "--workers", "0")
    assert second.returncode == 5, explain(second)
    assert "another loader run" in second.stderr and str(first.proc.pid) in second.stderr, second.stderr
    proc = first.resume()
    assert proc.returncode == 0, explain(proc)
    assert_ground_truth(target.sql, tree)


def test_runs_with_different_working_folders_still_exclude_each_other(sshd: PrivateSshd, tree: Tree,
                                                                      tmp_path: Path) -> None:
    """The DuckDB lock sits next to the database file: a second machine-local working folder cannot sneak in."""
    args = sftp_args(sshd, tree.root)
    target = Target(tmp_path)
    first = target.pause("after_download#1", *args, "--workers", "0")
    second = target.run(*args, "--workers", "0", "--pipelines-dir", str(tmp_path / "other-pipelines"))
    assert second.returncode == 5, explain(second)
    assert "warehouse.duckdb.loader.lock" in second.stderr, second.stderr
    proc = first.resume()
    assert proc.returncode == 0, explain(proc)
    assert_ground_truth(target.sql, tree)


# --------------------------------------------------------------------------------------------------
# PostgreSQL (the Redshift stand-in)


def test_postgres_load_matches_ground_truth(sshd: PrivateSshd, postgres: PrivatePostgres, tree: Tree,
                                            tmp_path: Path) -> None:
    """Basic load into PostgreSQL: every line once; its password appears in no output and no local file."""
    target = Target(tmp_path, postgres=postgres, dataset="rel_pg_basic")
    proc = target.run(*sftp_args(sshd, tree.root), "--workers", "0")
    assert proc.returncode == 0, explain(proc)
    assert_ground_truth(target.sql, tree, target.dataset)
    assert postgres.password not in proc.stdout + proc.stderr
    assert not find_in_tree(target.pipelines_dir, [postgres.password])


def test_postgres_advisory_lock_spans_machines(sshd: PrivateSshd, postgres: PrivatePostgres, tree: Tree,
                                              tmp_path: Path) -> None:
    """Two loaders with separate working folders (two machines) into one PostgreSQL dataset: one waits out."""
    target = Target(tmp_path, postgres=postgres, dataset="rel_pg_lock")
    machine2 = Target(tmp_path / "machine2", postgres=postgres, dataset="rel_pg_lock")
    args = sftp_args(sshd, tree.root)
    first = target.pause("after_download#1", *args, "--workers", "0")
    second = machine2.run(*args, "--workers", "0")
    assert second.returncode == 5, explain(second)
    assert "advisory lock" in second.stderr, second.stderr
    proc = first.resume()
    assert proc.returncode == 0, explain(proc)
    assert_ground_truth(target.sql, tree, target.dataset)


def test_postgres_kill_9_during_load_then_rerun(sshd: PrivateSshd, postgres: PrivatePostgres, tree: Tree,
                                                tmp_path: Path) -> None:
    """kill -9 while dlt loads into PostgreSQL; the re-run finishes the package: exactly the ground truth."""
    target = Target(tmp_path, postgres=postgres, dataset="rel_pg_crash")
    args = sftp_args(sshd, tree.root)
    proc = target.run(*args, env=_crash_env("during_load"))
    assert proc.returncode == -signal.SIGKILL, explain(proc)
    proc = target.run(*args)
    assert proc.returncode == 0, explain(proc)
    assert_ground_truth(target.sql, tree, target.dataset)
