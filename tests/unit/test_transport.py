"""The transport's pieces that need no server: error wording, known_hosts matching, and a local folder that
never hands out paths outside itself (the server parts are in tests/e2e/test_transport.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import paramiko
import pytest
from support.servers import Ed25519KeyPair

from dlt_pipeline.session_stream.transport import KnownHosts, LocalTransport, TransportError, describe


def test_describe_says_what_happened() -> None:
    """Timeouts used to log as `failed ()`: every exception now reads as words plus type and message."""
    assert describe(TimeoutError()) and "timed out" in describe(TimeoutError())
    assert "DNS" in describe(socket.gaierror(-2, "Name or service not known"))
    assert "connection refused" in describe(ConnectionRefusedError(111, "Connection refused"))
    assert describe(EOFError()) == "the server closed the connection (EOFError)"
    assert describe(ValueError("odd\nthing")) == "ValueError: odd thing"


def test_known_hosts_patterns_match_like_openssh(tmp_path: Path) -> None:
    """Hashed names, wildcards, `!` negation and the `[host]:port` form select the keys for a host."""
    a, b, c, d = (Ed25519KeyPair(tmp_path / n).key_text for n in "abcd")
    hashed = paramiko.HostKeys.hash_host("[sftp.example.com]:2222")
    known = tmp_path / "known_hosts"
    known.write_text(f"{hashed} {a}\n*.example.com,!bad.example.com {b}\n[sftp.example.com]:* {c}\n"
                     f"@revoked sftp.example.com {d}\n")
    hosts = KnownHosts.load(str(known))
    keys = {k.get_base64() for k in hosts.keys_for("[sftp.example.com]:2222")}
    assert keys == {a.split()[1], c.split()[1]}
    assert {k.get_base64() for k in hosts.keys_for("sftp.example.com")} == {b.split()[1]}
    assert hosts.keys_for("bad.example.com") == []
    revoked = hosts.lines[-1].key
    assert hosts.revoked_line("sftp.example.com", revoked) == 4
    assert hosts.revoked_line("other.example.com", revoked) is None


def test_local_transport_refuses_paths_outside_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "2026").mkdir(parents=True)
    outside = tmp_path / "secret.json.gz"
    outside.write_bytes(b"x")
    (root / "2026" / "link.json.gz").symlink_to(outside)
    transport = LocalTransport(root)
    for rel in ("../secret.json.gz", str(outside), "2026/../../secret.json.gz", "2026/link.json.gz"):
        with pytest.raises(TransportError, match="outside the source folder"):
            transport.fetch(rel, 1, tmp_path / "spool")
    assert transport.list_dir("2026") is not None
