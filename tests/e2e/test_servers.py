"""Self-tests for the private test servers: if these fail, every SFTP/warehouse test is suspect."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import paramiko
import pytest
from support.servers import FaultProxy, PrivatePostgres, PrivateSshd, find_pg_bindir, is_ci

BIG_FILE_BYTES = 8 * 1024 * 1024
FAULT_BUDGET_S = 10  # a cut must surface as an error quickly, never as a hang
STOP_BUDGET_S = 2
START_STOP_BUDGET_S = 5


@pytest.fixture
def big_file(tmp_path: Path) -> tuple[Path, str]:
    """An incompressible file large enough that a cut after 1 MB lands mid-transfer."""
    path = tmp_path / "big.bin"
    data = os.urandom(BIG_FILE_BYTES)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _through(proxy: FaultProxy, sshd: PrivateSshd) -> paramiko.SSHClient:
    """A client connected to `sshd` through `proxy` (trusting its host key under the proxy's port)."""
    return sshd.ssh_client(port=proxy.port, known_hosts_path=sshd.known_hosts_for(proxy.port))


def _read_all(client: paramiko.SSHClient, path: Path) -> bytes:
    with client.open_sftp() as sftp, sftp.open(str(path), "rb") as handle:
        handle.prefetch()
        return handle.read()


def test_sftp_lists_tmp_dir_with_strict_host_key_check(sshd: PrivateSshd, tmp_path: Path) -> None:
    (tmp_path / "a.json.gz").write_bytes(b"x")
    (tmp_path / "b.json.gz").write_bytes(b"y")
    client = paramiko.SSHClient()
    client.load_host_keys(str(sshd.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        sshd.host,
        port=sshd.port,
        username=sshd.user,
        key_filename=str(sshd.client_key_path),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    try:
        with client.open_sftp() as sftp:
            assert sorted(sftp.listdir(str(tmp_path))) == ["a.json.gz", "b.json.gz"]
        transport = client.get_transport()
        assert transport is not None
        assert transport.get_remote_server_key().get_name() == "ssh-ed25519"
    finally:
        client.close()
    assert sshd.url(tmp_path) == f"sftp://{sshd.user}@127.0.0.1:{sshd.port}{tmp_path}"


def test_known_hosts_format_and_fingerprint(sshd: PrivateSshd) -> None:
    line = sshd.known_hosts_path.read_text().strip()
    assert line.startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 AAAA")
    assert sshd.host_key_fingerprint.startswith("SHA256:")
    assert not sshd.host_key_fingerprint.endswith("=")
    if shutil.which("ssh-keygen"):
        out = subprocess.run(
            ["ssh-keygen", "-lf", str(sshd.known_hosts_path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert sshd.host_key_fingerprint in out
    other = sshd.other_known_hosts_path.read_text().split()
    assert other[0] == f"[127.0.0.1]:{sshd.port}"
    assert other[2] != line.split()[2]


def test_changed_host_key_is_rejected(sshd: PrivateSshd) -> None:
    with pytest.raises(paramiko.BadHostKeyException):
        sshd.ssh_client(known_hosts_path=sshd.other_known_hosts_path)


def test_unknown_host_is_rejected(sshd: PrivateSshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        sshd.ssh_client(known_hosts_path=empty)


def test_unauthorised_client_key_is_rejected(sshd: PrivateSshd) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        sshd.ssh_client(key_path=sshd.wrong_client_key_path)
    # and the server keeps serving afterwards (no per-source penalty on loopback)
    sshd.ssh_client().close()


@pytest.fixture
def proxy(sshd: PrivateSshd, fault_proxy: Callable[[int], FaultProxy]) -> FaultProxy:
    """A fault proxy in front of the session's sshd."""
    return fault_proxy(sshd.port)


# the cut also kills paramiko's prefetch thread, which is the point: its exception is expected, not a warning
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_fault_proxy_cut_fails_mid_read_then_next_connection_works(sshd: PrivateSshd, proxy: FaultProxy,
                                                                   big_file: tuple[Path, str]) -> None:
    path, digest = big_file
    client = _through(proxy, sshd)
    proxy.cut_after_bytes(1024 * 1024)
    started = time.monotonic()
    try:
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            _read_all(client, path)
    finally:
        client.close()
    assert time.monotonic() - started < FAULT_BUDGET_S
    assert proxy.faults_fired == 1
    assert 1024 * 1024 <= proxy.bytes_server_to_client < BIG_FILE_BYTES

    client = _through(proxy, sshd)
    try:
        assert hashlib.sha256(_read_all(client, path)).hexdigest() == digest
    finally:
        client.close()
    assert proxy.connections == 2  # noqa: PLR2004 - the cut one and the retry


def test_fault_proxy_stall_times_out_and_stop_does_not_hang(sshd: PrivateSshd, proxy: FaultProxy,
                                                           big_file: tuple[Path, str]) -> None:
    path, _digest = big_file
    client = _through(proxy, sshd)
    try:
        sftp = client.open_sftp()
        channel = sftp.get_channel()
        assert channel is not None
        channel.settimeout(1.0)
        proxy.stall_after_bytes(256 * 1024)
        with pytest.raises((socket.timeout, TimeoutError)), sftp.open(str(path), "rb") as handle:
            while handle.read(32768):
                pass
    finally:
        client.close()
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < STOP_BUDGET_S
    assert proxy.active_connections == 0


def test_restart_keeps_port_and_host_key(
    fresh_sshd: Callable[[], PrivateSshd], tmp_path: Path
) -> None:
    server = fresh_sshd()
    port, known_hosts = server.port, server.known_hosts_path.read_text()
    client = server.ssh_client()
    first_key = client.get_transport().get_remote_server_key().asbytes()  # type: ignore[union-attr]
    sftp = client.open_sftp()

    started = time.monotonic()
    server.restart()
    restart_seconds = time.monotonic() - started
    assert restart_seconds < START_STOP_BUDGET_S

    # the open session died with the old server, like a real server going down
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        sftp.listdir(str(tmp_path))
    client.close()

    assert server.port == port
    assert server.known_hosts_path.read_text() == known_hosts
    client = server.ssh_client()
    try:
        second_key = client.get_transport().get_remote_server_key().asbytes()  # type: ignore[union-attr]
        assert second_key == first_key
        with client.open_sftp() as sftp2:
            assert sftp2.listdir(str(tmp_path)) == []
    finally:
        client.close()

    server.stop()
    assert not server.running
    with pytest.raises(OSError), socket.create_connection((server.host, port), timeout=2):
        pass


def test_postgres_accepts_loader_and_creates_table(postgres: PrivatePostgres) -> None:
    assert postgres.env() == {"DESTINATION__POSTGRES__CREDENTIALS": postgres.dsn}
    assert postgres.dsn.startswith(f"postgresql://loader:{postgres.password}@127.0.0.1:")
    assert postgres.credentials_dict()["username"] == "loader"
    conn = postgres.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT current_user, current_database()")
            assert cur.fetchone() == ("loader", "warehouse")
            cur.execute("CREATE SCHEMA IF NOT EXISTS smoke")
            cur.execute("CREATE TABLE smoke.t (id int primary key, v text)")
            cur.execute("INSERT INTO smoke.t VALUES (1, 'a'), (2, 'b')")
            cur.execute("SELECT count(*) FROM smoke.t")
            assert cur.fetchone() == (2,)
            cur.execute("DROP SCHEMA smoke CASCADE")
    finally:
        conn.close()


@pytest.mark.skipif(find_pg_bindir() is None and not is_ci(), reason="no postgresql")
def test_postgres_start_stop_is_fast() -> None:
    started = time.monotonic()
    server = PrivatePostgres()
    with server:
        up = time.monotonic() - started
        server.connect().close()
    total = time.monotonic() - started
    assert not server.dir.exists()
    assert total < START_STOP_BUDGET_S, f"start {up:.2f}s, start+stop {total:.2f}s"
