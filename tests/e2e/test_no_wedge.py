"""No single input may stop the pipeline, and a reload must not double anything (issue: "No single input...").

Each test puts inputs on the private sshd that used to wedge, lose or double data, runs the loader as cron
would, and then checks the exit code, the quarantine with its reasons, that later files still load on the
next run, and the raw tables against the files' ground truth, on DuckDB and PostgreSQL where the
warehouse is involved.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.data import ACCOUNT, Tree, assert_ground_truth, gzip_lines, numbered_session, window_name
from support.leaks import find_in_duckdb
from support.loader import Target, explain
from support.servers import PrivatePostgres, PrivateSshd
from support.sftp import sftp_args
from support.sftp_quirk_server import Quirks, QuirkSftpServer
from support.warehouse import SCHEMA, completed

from dlt_pipeline.synthetic.generator import session_stream_root, write_session_file

pytestmark = pytest.mark.timeout(240)
DAY = "2026/11/24"
EMAIL = "leaked.person@example.com"


def _good(i: int, **overrides: Any) -> dict[str, Any]:
    return numbered_session(i, seed_base=4000, session_id=f"nw-{i}", **overrides)


def _without(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != key}


BAD_LINES: list[tuple[bytes, str]] = [  # line, a word its quarantine reason must contain
    (orjson.dumps(_good(10, cart_lines="abc")), "cart_lines"),
    (orjson.dumps(_good(11, view_lines={"P1": 5})), "view_lines"),
    (orjson.dumps(_without(_good(12), "session_id")), "session_id"),
    (orjson.dumps(_without(_good(13), "guid")), "guid"),
    (orjson.dumps(_good(14, start_time=None)), "start_time"),
    (orjson.dumps(_without(_good(15), "end_time")), "end_time"),
    (orjson.dumps(_good(16, city="Par\x00is")), "U+0000"),
    (orjson.dumps(_good(17, custom_targets={"9001": "a\x00b"})), "U+0000"),
    (orjson.dumps(_good(18, offers={"77": "soon"})), "offers"),
    (orjson.dumps(_good(19, page_views=True)), "page_views"),
    (orjson.dumps(_good(20, custom_targets={"9001": EMAIL}, session_value="12")), "session_value"),
    (b'{"session_id": "nw-21", "email": "' + EMAIL.encode() + b'", ', "invalid JSON"),
]


def _add_bad_and_shifting_files(tree: Tree) -> None:
    """Day 2026/11/24: bad lines between good ones, and a new field that is a number here and a string there."""
    good = {1: _good(1, loyalty=5), len(BAD_LINES) + 2: _good(2)}
    lines = [orjson.dumps(good[1]), *(line for line, _ in BAD_LINES), orjson.dumps(good[len(BAD_LINES) + 2])]
    first = window_name(DAY, "0100", 1)
    write_session_file(tree.out_dir, ACCOUNT, first, gzip_lines(lines, newline_at_end=False))
    tree.expect(f"{DAY}/{first}", good)
    second = window_name(DAY, "0115", 2)
    write_session_file(tree.out_dir, ACCOUNT, second, [_good(3, loyalty="gold")])
    tree.expect(f"{DAY}/{second}", {1: _good(3, loyalty="gold")})


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_bad_lines_and_shifting_fields_never_wedge(sshd: PrivateSshd, tree: Tree, tmp_path: Path, kind: str,
                                                   request: pytest.FixtureRequest) -> None:
    """Contract breaks, missing keys and U+0000 are quarantined per line with a reason naming the field; a new
    field whose JSON type changes between files and between runs keeps every value; later runs load new files;
    under --pii-mode hash no quarantined line keeps the e-mail in it."""
    postgres: PrivatePostgres | None = request.getfixturevalue("postgres") if kind == "postgres" else None
    target = Target(tmp_path, postgres=postgres, dataset=SCHEMA + ("_nw" if postgres else ""))
    schema, q = target.dataset, target.sql
    env = {"SESSION_STREAM__PII_SALT": "test-salt"}
    args = [*sftp_args(sshd, tree.root), "--pii-mode", "hash"]
    _add_bad_and_shifting_files(tree)
    proc = target.run(*args, env=env)
    assert proc.returncode == 3, explain(proc)
    assert f"lines quarantined {len(BAD_LINES)}" in proc.stdout, proc.stdout
    assert_ground_truth(q, tree, schema)
    reasons = dict(q(f"select line_number, reason from {schema}.session_stream_rejects where {completed(schema)}"))
    for number, (_, word) in enumerate(BAD_LINES, start=2):
        assert word in reasons[number], (number, reasons[number])
    texts = q(f"select raw_text from {schema}.session_stream_rejects")
    assert not [t for (t,) in texts if t and EMAIL in t], "an e-mail reached the rejects under --pii-mode hash"
    assert q(f"select count(*) from {schema}.sessions__cart_lines where session_id = 'nw-10'")[0][0] == 0

    # the next runs: a boolean, then a number for fields first seen as number and as boolean
    later = "2026/11/25"
    write_session_file(tree.out_dir, ACCOUNT, window_name(later, "0100", 3), [_good(4, loyalty=True, beta=True)])
    proc = target.run(*args, env=env)
    assert proc.returncode == 0, explain(proc)
    write_session_file(tree.out_dir, ACCOUNT, window_name(later, "0115", 4), [_good(5, beta=7)])
    proc = target.run(*args, env=env)
    assert proc.returncode == 0 and "loaded now 1" in proc.stdout, explain(proc)
    rows = q(f"select session_id, loyalty, loyalty__v_text, loyalty__v_bool, beta, beta__v_double "
             f"from {schema}.sessions where session_id in ('nw-1', 'nw-3', 'nw-4', 'nw-5') order by session_id")
    assert rows == [("nw-1", 5.0, None, None, None, None), ("nw-3", None, "gold", None, None, None),
                    ("nw-4", None, None, True, True, None), ("nw-5", None, None, None, None, 7.0)], rows
    if not postgres:
        assert not find_in_duckdb(target.duckdb_path, [EMAIL])


def test_reload_replaces_rows_even_after_a_crash_before_cleanup(sshd: PrivateSshd, tree: Tree,
                                                                tmp_path: Path) -> None:
    """--reload of a day leaves exactly one copy of every line; killed between the load and the removal of
    the earlier copies, the next run (without --reload) finishes the removal first."""
    args = sftp_args(sshd, tree.root)
    target = Target(tmp_path)
    q = target.sql
    assert target.run(*args).returncode == 0
    reload = ["--reload", "--start-date", "2026-11-20", "--end-date", "2026-11-21"]
    proc = target.run(*args, *reload)
    assert proc.returncode == 0, explain(proc)
    assert_ground_truth(q, tree)
    loads = {r[0] for r in q(f"select distinct _dlt_load_id from {SCHEMA}.sessions__offers")}
    assert len(loads) == 2, "the late-day files keep their first load, the reloaded days have the new one"
    proc = target.run(*args, *reload, env={"SESSION_STREAM_TEST_CRASH_AT": "after_load"})
    assert proc.returncode == -signal.SIGKILL, explain(proc)
    doubled = q(f"select count(*) - count(distinct _dlt_id) from {SCHEMA}.sessions")[0][0]
    assert doubled > 0, "the crash point must fall between the new load and the cleanup"
    proc = target.run(*args)
    assert proc.returncode == 0 and "loaded now 0" in proc.stdout, explain(proc)
    assert_ground_truth(q, tree)
    assert q(f"select count(*) from {SCHEMA}.session_stream_files where cleanup_pending")[0][0] == 0


def _truncated(doc_ids: range) -> bytes:
    data = gzip_lines(map(_good, doc_ids), newline_at_end=False)
    return data[: len(data) // 2]


def test_quarantined_files_come_back(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """A quarantined file whose size changes on the server is retried by itself; --retry-quarantined reaches
    a quarantined file of any age, far outside the look-back."""
    old_day, recent_day = "2026/10/02", "2026/11/21"
    old, recent = window_name(old_day, "0000", 91), window_name(recent_day, "2300", 92)
    write_session_file(tree.out_dir, ACCOUNT, old, _truncated(range(30, 33)))
    write_session_file(tree.out_dir, ACCOUNT, recent, _truncated(range(33, 36)))
    args = sftp_args(sshd, tree.root)
    target = Target(tmp_path)
    q = target.sql
    proc = target.run(*args, "--start-date", "2026-10-01")
    assert proc.returncode == 3 and "quarantined 2" in proc.stdout, explain(proc)
    # the vendor finishes both uploads; the next scheduled run retries the recent one by itself
    for day, name, ids in ((old_day, old, range(30, 33)), (recent_day, recent, range(33, 36))):
        write_session_file(tree.out_dir, ACCOUNT, name, [_good(i) for i in ids])
        tree.expect(f"{day}/{name}", {line: _good(i) for line, i in enumerate(ids, start=1)})
    proc = target.run(*args)
    assert proc.returncode == 0 and "loaded now 1" in proc.stdout, explain(proc)
    assert f"{old_day}/{old}" in dict(q(f"select file_path, status from {SCHEMA}.session_stream_files "
                                        "where status = 'quarantined'"))
    proc = target.run(*args, "--retry-quarantined")
    assert proc.returncode == 0 and "loaded now 1" in proc.stdout, explain(proc)
    assert_ground_truth(q, tree)
    assert not q(f"select 1 from {SCHEMA}.session_stream_rejects where file_path like '%{old}'"), \
        "the quarantine rows of a file that loaded later are replaced, not kept beside its rows"


def test_byte_order_mark_and_odd_names(sshd: PrivateSshd, tmp_path: Path) -> None:
    """A file starting with a UTF-8 BOM keeps its first line; a .json.gz name outside the vendor's pattern
    loads, and the summary and the ledger say so."""
    out = tmp_path / "src"
    bom = window_name(DAY, "0200", 5)
    write_session_file(out, ACCOUNT, bom, gzip_lines([b"\xef\xbb\xbf" + orjson.dumps(_good(40)), _good(41)]))
    write_session_file(out, ACCOUNT, "manual-export.json.gz", [_good(42)], day_folder=DAY)
    target = Target(tmp_path / "w")
    proc = target.run(*sftp_args(sshd, session_stream_root(out, ACCOUNT)))
    assert proc.returncode == 0, explain(proc)
    q = target.sql
    assert sorted(q(f"select session_id from {SCHEMA}.sessions")) == [("nw-40",), ("nw-41",), ("nw-42",)]
    assert "manual-export.json.gz" in proc.stdout and "pattern" in proc.stdout, proc.stdout
    reason = q(f"select reason from {SCHEMA}.session_stream_files where file_name = 'manual-export.json.gz'")
    assert "pattern" in reason[0][0]


def test_unreadable_file_and_foreign_symlink_never_stop_newer_files(tmp_path: Path) -> None:
    """The server refuses to let us read one file (permission denied) and another is a symlink out of the
    account folder: both are recorded with a clear reason, every other file loads (exit 3); later runs keep
    loading new files and try the unreadable one again until the vendor fixes it."""
    out = tmp_path / "src"
    root = session_stream_root(out, ACCOUNT)
    denied, fine, link = window_name(DAY, "0300", 61), window_name(DAY, "0315", 62), window_name(DAY, "0330", 63)
    write_session_file(out, ACCOUNT, denied, [_good(60)])
    write_session_file(out, ACCOUNT, fine, [_good(61)])
    (tmp_path / "elsewhere.json.gz").write_bytes(gzip_lines([_good(62)], newline_at_end=False))
    (root / DAY / link).symlink_to(tmp_path / "elsewhere.json.gz")
    env = {"SESSION_STREAM__RETRIES": "1", "SESSION_STREAM__BACKOFF": "0.1"}
    target = Target(tmp_path / "w")
    q = target.sql
    with QuirkSftpServer(Quirks(deny_open={str(root / DAY / denied)})) as server:
        proc = target.run(*sftp_args(server, root), env=env)
        assert proc.returncode == 3, explain(proc)
        assert "unreadable 1" in proc.stdout and "permission denied" in proc.stdout, proc.stdout
        ledger = dict(q(f"select file_name, status || ': ' || coalesce(reason, '') "
                        f"from {SCHEMA}.session_stream_files"))
        assert ledger[fine].startswith("loaded")
        assert ledger[denied].startswith("unreadable") and "permission denied" in ledger[denied]
        assert ledger[link].startswith("quarantined") and "outside the account folder" in ledger[link]
        # a newer file arrives while the old one is still unreadable: it loads, the old one is tried again
        newer = window_name("2026/11/25", "0000", 64)
        write_session_file(out, ACCOUNT, newer, [_good(63)])
        proc = target.run(*sftp_args(server, root), env=env)
        assert proc.returncode == 3 and "loaded now 1" in proc.stdout and "unreadable 1" in proc.stdout, explain(proc)
        server.quirks.deny_open.clear()  # the vendor fixes the permissions
        proc = target.run(*sftp_args(server, root), env=env)
        assert proc.returncode == 0 and "loaded now 1" in proc.stdout, explain(proc)
    assert sorted(q(f"select session_id from {SCHEMA}.sessions")) == [("nw-60",), ("nw-61",), ("nw-63",)]
    assert q(f"select status from {SCHEMA}.session_stream_files where file_name = '{denied}'") == [("loaded",)]


def test_rows_the_warehouse_refuses_are_isolated_to_their_file(sshd: PrivateSshd, postgres: PrivatePostgres,
                                                               tmp_path: Path) -> None:
    """A value PostgreSQL refuses (here a CHECK constraint a DBA added; on Redshift e.g. a text over 65,535
    bytes) used to leave a pending package that failed every later run. Now the refused package is taken
    out, the files are loaded in halves until the refused one is found, it is quarantined with the database's
    message (exit 3), every other file loads, later runs load new files, and it loads once the cause is gone."""
    schema = "nw_refused"
    out = tmp_path / "src"
    root = session_stream_root(out, ACCOUNT)
    args = sftp_args(sshd, root)
    target = Target(tmp_path, postgres=postgres, dataset=schema)
    env = {"SESSION_STREAM__WORKERS": "0", "LOAD__RAISE_ON_MAX_RETRIES": "1"}
    q = target.sql
    write_session_file(out, ACCOUNT, window_name(DAY, "0000", 70), [_good(70)])
    assert target.run(*args, env=env).returncode == 0
    with postgres.connect(superuser=True) as con, con.cursor() as cur:
        cur.execute(f"alter table {schema}.sessions add constraint sane_page_views check (page_views < 500)")
    names = [window_name(DAY, f"0{k}15", 71 + k) for k in range(4)]
    for k, name in enumerate(names):
        write_session_file(out, ACCOUNT, name, [_good(71 + k, page_views=900 if k == 2 else 3)])
    proc = target.run(*args, env=env)
    assert proc.returncode == 3, explain(proc)
    status = dict(q(f"select file_name, status || ': ' || coalesce(reason, '') from {schema}.session_stream_files "
                    f"where {completed(schema)}"))
    assert status[names[2]].startswith("quarantined") and "sane_page_views" in status[names[2]], status
    assert all(status[n].startswith("loaded") for n in names if n != names[2]), status
    loaded = sorted(r[0] for r in q(f"select session_id from {schema}.sessions where {completed(schema)}"))
    assert loaded == ["nw-70", "nw-71", "nw-72", "nw-74"]
    assert q(f"select count(*) from {schema}.sessions where not ({completed(schema)})")[0][0] == 0
    write_session_file(out, ACCOUNT, window_name(DAY, "0500", 80), [_good(80)])
    proc = target.run(*args, env=env)
    assert proc.returncode == 0 and "loaded now 1" in proc.stdout, explain(proc)
    with postgres.connect(superuser=True) as con, con.cursor() as cur:
        cur.execute(f"alter table {schema}.sessions drop constraint sane_page_views")
    proc = target.run(*args, "--retry-quarantined", env=env)
    assert proc.returncode == 0 and "loaded now 1" in proc.stdout, explain(proc)
    assert q(f"select count(*), count(distinct _dlt_id) from {schema}.sessions") == [(6, 6)]
    runs = q(f"select files_loaded, files_quarantined, exit_code from {schema}.session_stream_runs order by started_at")
    assert runs == [(1, 0, 0), (3, 1, 3), (1, 0, 0), (1, 0, 0)], "one history row per run, also one loaded in parts"
