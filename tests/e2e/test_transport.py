"""Servers differ, connections fail: the SFTP transport against real servers with real quirks.

Each scenario once broke the loader: a server that leaves size, modification time or type out of listings,
one that repeats entries, symlinks, a file the server will not let us read, a first connection that fails,
known_hosts files with marker lines. The servers are real (tests/support/sftp_quirk_server.py: paramiko's SFTP
server with switches; tests/support/servers.py: OpenSSH), the network is loopback only, nothing is mocked.
The transport's pieces that need no server are in tests/unit/test_transport.py and tests/unit/test_plan.py.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
import pytest
from support.data import ACCOUNT, days_ago, write_window
from support.loader import Target, explain, summary
from support.servers import Ed25519KeyPair, PrivateSshd, free_port
from support.sftp import first_request, sftp_args, sftp_credentials
from support.sftp_quirk_server import GarbageServer, QuirkSftpServer

from dlt_pipeline.session_stream.plan import list_candidates
from dlt_pipeline.session_stream.transport import (
    FileUnreadable,
    HostKeyError,
    LocalTransport,
    SftpTransport,
    Transport,
    TransportError,
)
from dlt_pipeline.synthetic.generator import session_stream_root

pytestmark = pytest.mark.timeout(120)

# small retries so failing paths stay fast; the loader subprocess reads the same as env vars
LOADER_ENV = {"SESSION_STREAM__RETRIES": "1", "SESSION_STREAM__BACKOFF": "0.1", "SESSION_STREAM__TIMEOUT": "5"}
DAY = days_ago(1)


def _tree(base: Path, files: int = 3, sessions: int = 2) -> tuple[Path, dict[str, int]]:
    """`files` small Session Stream files in yesterday's folder: (session_stream root, path -> sessions)."""
    paths = [write_window(base, DAY, f"{k:02d}15", 9000 + k, sessions, seed=k + 1) for k in range(files)]
    return session_stream_root(base, ACCOUNT), {f"{DAY:%Y/%m/%d}/{path.name}": sessions for path in paths}


def _load(server: QuirkSftpServer, root: Path, target: Target, *extra: str) -> Any:
    return target.run(*sftp_args(server, root), "--workers", "0", *extra, env=LOADER_ENV)


def _assert_loaded_once(target: Target, truth: dict[str, int]) -> None:
    """Every file's sessions exactly once, one ledger row per file."""
    rows = target.sql(f"select _source_path, count(*), count(distinct session_id) from {target.dataset}.sessions "
                      "group by 1")
    assert {p: n for p, n, _ in rows} == truth
    assert all(n == distinct for _, n, distinct in rows)
    ledger = target.sql(f"select file_path, status from {target.dataset}.session_stream_files")
    assert sorted(ledger) == sorted((p, "loaded") for p in truth)


# --------------------------------------------------------------------------------------------------
# servers that leave attributes out of listings, or repeat entries (end to end through run.py)


def test_server_without_sizes_loads_every_file_once(quirky: Callable[..., QuirkSftpServer], tmp_path: Path) -> None:
    """No sizes in listings: stat supplies them, so nothing looks 'changed while downloading'; a rerun loads 0."""
    server = quirky(omit_size=True)
    root, truth = _tree(tmp_path / "sftp")
    target = Target(tmp_path / "wh")
    proc = _load(server, root, target)
    assert proc.returncode == 0, explain(proc)
    assert summary(proc.stdout)["loaded"] == len(truth) and summary(proc.stdout)["waiting"] == 0, proc.stdout
    assert "changed size" not in proc.stderr
    _assert_loaded_once(target, truth)
    again = _load(server, root, target)
    assert again.returncode == 0, explain(again)
    assert summary(again.stdout)["loaded"] == 0 and summary(again.stdout)["known"] == len(truth)
    _assert_loaded_once(target, truth)


def test_server_without_types_lists_day_folders_and_loads(quirky: Callable[..., QuirkSftpServer],
                                                          tmp_path: Path) -> None:
    """No permissions (so no file types) in listings: folders are still found ('no day folders' was the bug)."""
    server = quirky(omit_type=True)
    root, truth = _tree(tmp_path / "sftp")
    target = Target(tmp_path / "wh")
    proc = _load(server, root, target)
    assert proc.returncode == 0, explain(proc)
    assert "no day folders" not in proc.stderr
    assert summary(proc.stdout)["loaded"] == len(truth), proc.stdout
    _assert_loaded_once(target, truth)


def test_server_without_mtimes_still_waits_for_young_files(quirky: Callable[..., QuirkSftpServer],
                                                           tmp_path: Path) -> None:
    """No mtimes in listings: stat supplies them, so --min-file-age-seconds still holds back a file just written;
    once it has aged, the next run loads it."""
    server = quirky(omit_mtime=True)
    root, truth = _tree(tmp_path / "sftp", files=2)
    old, young = sorted(root.rglob("*.json.gz"))
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    target = Target(tmp_path / "wh")
    proc = _load(server, root, target, "--min-file-age-seconds", "600")
    assert proc.returncode == 0, explain(proc)
    assert summary(proc.stdout)["loaded"] == 1 and summary(proc.stdout)["waiting"] == 1, proc.stdout
    os.utime(young, (hour_ago, hour_ago))  # ten minutes later, as far as the loader can tell
    again = _load(server, root, target, "--min-file-age-seconds", "600")
    assert again.returncode == 0, explain(again)
    assert summary(again.stdout)["loaded"] == 1 and summary(again.stdout)["waiting"] == 0, again.stdout
    _assert_loaded_once(target, truth)


def test_repeated_entries_and_a_symlink_inside_the_root_load_once(quirky: Callable[..., QuirkSftpServer],
                                                                  tmp_path: Path) -> None:
    """Every listing entry twice (folders and files): each file loads once. A day file that is a symlink to a
    regular file elsewhere inside the account folder loads like any other file (it used to wait forever)."""
    server = quirky(repeat_entries=True)
    root, truth = _tree(tmp_path / "sftp")
    store = root / "store"
    store.mkdir()
    moved = sorted(root.rglob("*.json.gz"))[1]
    shutil.move(moved, store / moved.name)
    moved.symlink_to(Path("..") / ".." / ".." / "store" / moved.name)
    target = Target(tmp_path / "wh")
    proc = _load(server, root, target)
    assert proc.returncode == 0, explain(proc)
    assert summary(proc.stdout)["listed"] == len(truth) and summary(proc.stdout)["loaded"] == len(truth), proc.stdout
    _assert_loaded_once(target, truth)


# --------------------------------------------------------------------------------------------------
# the same, at transport / planner level


def test_listing_is_completed_by_stat_and_deduplicated(quirky: Callable[..., QuirkSftpServer],
                                                       tmp_path: Path) -> None:
    """All attributes missing from listings and entries repeated: list_dir has one honest entry per name."""
    server = quirky(omit_size=True, omit_mtime=True, omit_type=True, repeat_entries=True)
    root, truth = _tree(tmp_path / "sftp")
    transport = SftpTransport(sftp_credentials(server, root))
    try:
        day = transport.list_dir(f"{DAY:%Y/%m/%d}")
        assert day is not None and len(day) == len({e.name for e in day}) == len(truth)
        for entry in day:
            st = (root / f"{DAY:%Y/%m/%d}" / entry.name).stat()
            assert (entry.size, entry.mtime, entry.is_dir) == (st.st_size, float(int(st.st_mtime)), False)
        files, odd = list_candidates(transport, DAY, DAY)
        assert [c.path for c in files] == sorted(truth) and not odd
    finally:
        transport.close()


def test_attributes_missing_even_on_stat_are_none(quirky: Callable[..., QuirkSftpServer], tmp_path: Path) -> None:
    """A server that reports no size/mtime/type even on stat: mtime and size are None (the loader decides),
    folders are still recognised, and a file of unknown size still downloads whole."""
    server = quirky(omit_size=True, omit_mtime=True, omit_type=True, omit_in_stat=True)
    root, truth = _tree(tmp_path / "sftp", files=1)
    transport = SftpTransport(sftp_credentials(server, root))
    try:
        files, _ = list_candidates(transport, DAY, DAY)
        assert [(c.path, c.size, c.mtime, c.problem) for c in files] == [(p, None, None, None) for p in truth]
        spool = tmp_path / "spool"
        spool.mkdir()
        local = transport.fetch(files[0].path, None, spool)
        assert local.read_bytes() == (root / files[0].path).read_bytes()
    finally:
        transport.close()


def _symlink_day(base: Path) -> tuple[Path, str]:
    """A root whose day folder holds a real file and symlinks: inside, outside, dangling, to a folder."""
    root, truth = _tree(base / "sftp", files=1)
    rel_day = f"{DAY:%Y/%m/%d}"
    day = root / rel_day
    (root / "store").mkdir()
    (root / "store" / "kept.json.gz").write_bytes((root / next(iter(truth))).read_bytes())
    outside = base / "outside" / "secret.json.gz"
    outside.parent.mkdir()
    outside.write_bytes(b"not for us")
    (day / "inside.json.gz").symlink_to(root / "store" / "kept.json.gz")
    (day / "outside.json.gz").symlink_to(outside)
    (day / "dangling.json.gz").symlink_to(day / "gone.json.gz")
    (day / "folder.json.gz").symlink_to(root / "store")
    return root, rel_day


@pytest.mark.parametrize("server_kind", ["quirk", "quirk-untyped", "openssh", "local"])
def test_symlinks_are_followed_only_to_files_inside_the_root(server_kind: str, request: pytest.FixtureRequest,
                                                             quirky: Callable[..., QuirkSftpServer],
                                                             tmp_path: Path) -> None:
    """A symlink to a regular file inside the account folder is a normal candidate with the target's size;
    outside, dangling or to a folder: a candidate with a one-line `problem`, for the loader to quarantine.
    A listing without types must not hide a symlink (lstat, not stat, completes it)."""
    root, rel_day = _symlink_day(tmp_path)
    transport: Transport
    if server_kind == "local":
        transport = LocalTransport(root)
    else:
        server: Any = (request.getfixturevalue("sshd") if server_kind == "openssh"
                       else quirky(omit_type=True, omit_size=True, omit_mtime=True, repeat_entries=True)
                       if server_kind == "quirk-untyped" else quirky())
        transport = SftpTransport(sftp_credentials(server, root))
    try:
        files, odd = list_candidates(transport, DAY, DAY)
    finally:
        transport.close()
    assert not odd
    by_name = {c.name: c for c in files}
    assert by_name["inside.json.gz"].problem is None
    assert by_name["inside.json.gz"].size == (root / "store" / "kept.json.gz").stat().st_size
    outside = by_name["outside.json.gz"].problem or ""
    assert "outside the account folder" in outside and "secret.json.gz" in outside and "\n" not in outside
    assert "does not exist" in (by_name["dangling.json.gz"].problem or "")
    assert "folder" in (by_name["folder.json.gz"].problem or "")
    real = [c for c in files if c.name not in {"inside.json.gz", "outside.json.gz", "dangling.json.gz",
                                               "folder.json.gz"}]
    assert len(real) == 1 and real[0].problem is None


# --------------------------------------------------------------------------------------------------
# permission denied: not a network fault


def test_permission_denied_on_download_raises_file_unreadable_at_once(quirky: Callable[..., QuirkSftpServer],
                                                                     tmp_path: Path) -> None:
    """The server refuses to open a listed file: FileUnreadable immediately (no backoff sleeps, no reconnect);
    the connection stays usable for the next file."""
    root, truth = _tree(tmp_path / "sftp", files=2)
    denied, fine = sorted(truth)
    server = quirky(deny_open={str(root / denied)})
    transport = SftpTransport(sftp_credentials(server, root, retries=3, backoff=2.0))
    spool = tmp_path / "spool"
    spool.mkdir()
    try:
        started = time.monotonic()
        with pytest.raises(FileUnreadable) as caught:
            transport.fetch(denied, (root / denied).stat().st_size, spool)
        assert time.monotonic() - started < 1.0
        message = str(caught.value)
        assert denied in message and "permission denied" in message and "later runs" in message
        assert caught.value.path == denied and "\n" not in message
        assert isinstance(caught.value, TransportError)
        assert not list(spool.iterdir())
        assert transport.fetch(fine, (root / fine).stat().st_size, spool).exists()
        assert server.connections == 1
    finally:
        transport.close()


def test_permission_denied_on_listing_is_a_clear_error_at_once(quirky: Callable[..., QuirkSftpServer],
                                                               tmp_path: Path) -> None:
    """A folder the SFTP user may not list: a TransportError that says so, without retries."""
    root, _ = _tree(tmp_path / "sftp", files=1)
    server = quirky(deny_list={str(root / f"{DAY:%Y/%m/%d}")})
    transport = SftpTransport(sftp_credentials(server, root, retries=3, backoff=2.0))
    try:
        started = time.monotonic()
        with pytest.raises(TransportError, match="permission denied") as caught:
            list_candidates(transport, DAY, DAY)
        assert time.monotonic() - started < 1.0
        assert "--source" in str(caught.value) and not isinstance(caught.value, FileUnreadable)
    finally:
        transport.close()


# --------------------------------------------------------------------------------------------------
# the first connection of a run


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "session_stream" and r.levelno == logging.WARNING]


def test_first_connection_to_a_closed_port_is_retried_then_one_line(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens: retried with backoff, every warning says 'connection refused', then one clear line."""
    server = QuirkSftpServer()  # never started: only its keys are used
    try:
        with pytest.raises(TransportError) as caught:
            first_request(sftp_credentials(server, tmp_path, port=free_port()))
    finally:
        server.__exit__(None, None, None)
    message = str(caught.value)
    assert "\n" not in message and "still failing after 2 retries" in message, message
    assert "connection refused" in message and "nothing was loaded" in message
    warnings = _warnings(caplog)
    assert len(warnings) == 2 and all("connection refused" in w and "retrying" in w for w in warnings), warnings


def test_first_connection_to_something_that_is_not_ssh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A port that answers like a web server: retried, then a one-line error that no SSH server answered."""
    server = QuirkSftpServer()
    try:
        with GarbageServer() as garbage, pytest.raises(TransportError) as caught:
            first_request(sftp_credentials(server, tmp_path, port=garbage.port))
    finally:
        server.__exit__(None, None, None)
    assert garbage.connections == 3
    message = str(caught.value)
    assert "\n" not in message and "no SSH server answered" in message, message
    assert all("SSH" in w for w in _warnings(caplog))


def test_first_connection_waits_for_a_server_that_comes_back(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """The server comes up 3 s after the run starts: the first connection backs off and gets in. It connects
    in the background (the run sets itself up meanwhile), so the first request is what waits."""
    server = QuirkSftpServer(port=free_port())
    timer = threading.Timer(3.0, server.start)
    timer.start()
    try:
        started = time.monotonic()
        transport = SftpTransport(sftp_credentials(server, tmp_path, retries=6, backoff=0.25))
        try:
            assert time.monotonic() - started < 1.0, "the connection must not hold up the caller"
            assert transport.list_dir("") is not None
            assert time.monotonic() - started >= 2.5
        finally:
            transport.close()
    finally:
        timer.cancel()
        server.__exit__(None, None, None)
    assert _warnings(caplog) and all("connection refused" in w for w in _warnings(caplog))


def test_refused_login_and_unknown_host_are_not_retried(quirky: Callable[..., QuirkSftpServer],
                                                        tmp_path: Path) -> None:
    """A wrong key or an unknown host key fails the same way every time: no backoff, at once."""
    server = quirky()
    wrong = Ed25519KeyPair(tmp_path / "wrong_ed25519")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    for kw, match in (({"private_key": str(wrong.private_path)}, "was refused"),
                      ({"known_hosts": str(empty)}, "not in known_hosts")):
        started = time.monotonic()
        with pytest.raises(TransportError, match=match):
            first_request(sftp_credentials(server, tmp_path, retries=3, backoff=2.0, **kw))
        assert time.monotonic() - started < 1.5


# --------------------------------------------------------------------------------------------------
# known_hosts with marker lines


def test_known_hosts_with_marker_and_damaged_lines_still_connects(quirky: Callable[..., QuirkSftpServer],
                                                                  tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """`@cert-authority` and `@revoked` lines (for other keys), a hashed entry for the server, damaged lines:
    paramiko's loader crashed on such files; ours connects and names each damaged line in a warning."""
    caplog.set_level(logging.INFO, logger="session_stream")
    server = quirky()
    name = f"[{server.host}]:{server.port}"
    known = tmp_path / "known_hosts"
    known.write_text("\n".join([
        "# company defaults",
        f"@cert-authority *.corp.example {Ed25519KeyPair(tmp_path / 'ca').key_text}",
        f"@revoked * {Ed25519KeyPair(tmp_path / 'old').key_text}",
        "garbage",
        f"{name} ssh-ed25519 !!!not-base64!!!",
        server.known_hosts_line(paramiko.HostKeys.hash_host(name)),
        "",
    ]))
    transport = SftpTransport(sftp_credentials(server, tmp_path, known_hosts=str(known)))
    try:
        assert transport.list_dir("") is not None
    finally:
        transport.close()
    warnings = _warnings(caplog)
    assert any(str(known) in w and "line 4" in w for w in warnings), warnings
    assert any(str(known) in w and "line 5" in w for w in warnings), warnings
    assert any("@cert-authority" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


@pytest.mark.parametrize("pinned", [False, True])
def test_revoked_host_key_is_refused_before_login(quirky: Callable[..., QuirkSftpServer], tmp_path: Path,
                                                  pinned: bool) -> None:
    """The server's key is marked @revoked: refused before any authentication, even though known_hosts also
    lists it normally, or the fingerprint is pinned with --trust-host-key."""
    server = quirky()
    known = tmp_path / "known_hosts"
    known.write_text(f"{server.known_hosts_line()}\n@revoked * {server.host_key_text}\n")
    pin = {"trust_host_key": server.host_key_fingerprint} if pinned else {}
    started = time.monotonic()
    with pytest.raises(HostKeyError, match="revoked") as caught:
        first_request(sftp_credentials(server, tmp_path, known_hosts=str(known), retries=3, backoff=2.0, **pin))
    assert time.monotonic() - started < 1.5
    assert server.host_key_fingerprint in str(caught.value) and "line 2" in str(caught.value)
    assert server.connections == 1 and server.auth_attempts == 0


def test_openssh_server_is_unaffected(sshd: PrivateSshd, tmp_path: Path) -> None:
    """Baseline against OpenSSH (full attributes): the same listing and download path works unchanged."""
    root, truth = _tree(tmp_path / "sftp", files=2)
    transport = SftpTransport(sftp_credentials(sshd, root))
    try:
        files, _ = list_candidates(transport, DAY, DAY)
        assert [c.path for c in files] == sorted(truth)
        assert all(c.size == (root / c.path).stat().st_size and c.mtime for c in files)
    finally:
        transport.close()
