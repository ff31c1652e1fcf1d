"""Security of the loader against the real private sshd: host keys, secrets, personal data, hostile paths."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support.data import Tree, assert_ground_truth
from support.leaks import find_in_duckdb, find_in_tree
from support.loader import Target, explain
from support.servers import PrivateSshd
from support.sftp import first_request, sftp_args, sftp_credentials
from support.warehouse import SCHEMA

from dlt_pipeline.exit_codes import EXIT_ERROR
from dlt_pipeline.session_stream.transport import HostKeyError, SftpTransport

pytestmark = pytest.mark.timeout(180)


# --------------------------------------------------------------------------------------------------
# host keys


def test_unknown_host_is_refused_with_fingerprint_and_advice(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """CLI: a host missing from known_hosts is refused (exit 1, no traceback), the message gives its fingerprint
    and both ways to trust it (known_hosts, --trust-host-key), nothing is loaded and known_hosts is not silently
    extended."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    target = Target(tmp_path)
    proc = target.run(*sftp_args(sshd, tree.root, known_hosts=known))
    assert proc.returncode == EXIT_ERROR == 1, explain(proc)
    assert sshd.host_key_fingerprint in proc.stderr and "--trust-host-key" in proc.stderr, proc.stderr
    assert "ssh-keyscan" in proc.stderr and "known_hosts" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert known.read_text() == ""
    # nothing loaded: the warehouse holds only the run's own history row, which records the refusal
    con = duckdb.connect(str(target.duckdb_path), read_only=True)
    try:
        tables = {t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'monetate_raw'").fetchall()}
        assert not tables & {"sessions", "session_stream_files"}, tables
        (code, message), = con.execute("select exit_code, message from monetate_raw.session_stream_runs").fetchall()
    finally:
        con.close()
    assert code == EXIT_ERROR and sshd.host_key_fingerprint in message, message


def test_changed_or_unpinned_host_key_is_refused(sshd: PrivateSshd, tmp_path: Path) -> None:
    """A changed key (known_hosts holds another key), a wrong pin and a missing known_hosts file are refused;
    the right --trust-host-key pin is the way in without known_hosts."""
    with pytest.raises(HostKeyError, match="HOST KEY CHANGED") as changed:
        first_request(sftp_credentials(sshd, tmp_path, known_hosts=str(sshd.other_known_hosts_path)))
    assert sshd.host_key_fingerprint in str(changed.value) and sshd.other_host_key_fingerprint in str(changed.value)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError, match="not the pinned") as pinned:
        first_request(sftp_credentials(sshd, tmp_path, known_hosts=str(empty), trust_host_key="SHA256:" + "A" * 43))
    assert sshd.host_key_fingerprint in str(pinned.value)
    with pytest.raises(HostKeyError, match="does not exist"):
        SftpTransport(sftp_credentials(sshd, tmp_path, known_hosts=str(tmp_path / "missing")))
    ok = SftpTransport(sftp_credentials(sshd, tmp_path, known_hosts=str(tmp_path / "missing"),
                                 trust_host_key=sshd.host_key_fingerprint))
    try:
        assert ok.list_dir("") is not None
    finally:
        ok.close()
    assert empty.read_text() == "" and not (tmp_path / "missing").exists()


# --------------------------------------------------------------------------------------------------
# secrets and personal data


def _encrypted_key(server: PrivateSshd, path: Path, passphrase: str) -> None:
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       serialization.BestAvailableEncryption(passphrase.encode())))
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    with server.authorized_keys_path.open("a") as fh:
        fh.write(public.decode() + " encrypted-test-key\n")


def test_secrets_never_written_and_pii_hashed(fresh_sshd: Callable[[], PrivateSshd], tree: Tree,
                                              tmp_path: Path) -> None:
    """Passphrase-protected key + PII salt: the run works, and neither secret (nor the key) appears in stdout,
    stderr, error messages, the DuckDB file or any file under the pipelines dir (dlt trace and state included);
    --help with both set is checked by tests/e2e/test_loader_cli.py::test_help_explains_every_option.
    --pii-mode hash: no e-mail or name reaches disk; values are HMAC-SHA256 with the salt."""
    server = fresh_sshd()
    passphrase = "pp-" + secrets.token_hex(16)
    salt = "salt-" + secrets.token_hex(16)
    key = tmp_path / "keys" / "encrypted_ed25519"
    key.parent.mkdir()
    _encrypted_key(server, key, passphrase)
    key_body = key.read_text().splitlines()[3]  # a line of the (encrypted) private key itself
    args = sftp_args(server, tree.root)
    args[args.index("--private-key") + 1] = str(key)
    env = {"SESSION_STREAM__PRIVATE_KEY_PASSPHRASE": passphrase, "SESSION_STREAM__PII_SALT": salt}
    work = Target(tmp_path / "work")
    proc = work.run(*args, "--workers", "0", "--pii-mode", "hash", "--json", env=env)  # --json: no secret either
    assert proc.returncode == 0, explain(proc)
    assert work.count("session_stream_runs", "pii_mode = 'hash' and exit_code = 0") == 1
    q = work.sql
    assert_ground_truth(q, tree)
    needles = [passphrase, salt, key_body]
    personal = sorted(set().union(*tree.pii_values.values()))
    assert not [n for n in needles if n in proc.stdout + proc.stderr]
    assert not find_in_tree(work.pipelines_dir, needles + personal)
    assert not find_in_duckdb(work.duckdb_path, needles + personal)
    # every target value was replaced by the salted hash of what the file held
    for target, values in tree.pii_values.items():
        stored = {v for (v,) in q(f"select value from {SCHEMA}.sessions__custom_targets where id = '{target}'")}
        assert stored == {hmac.new(salt.encode(), v.encode(), hashlib.sha256).hexdigest() for v in values}
    # wrong and missing passphrase: a clear message that never echoes what was given
    elsewhere = Target(tmp_path / "bad")
    bad = elsewhere.run(*args, env={**env, "SESSION_STREAM__PRIVATE_KEY_PASSPHRASE": passphrase + "x"})
    assert bad.returncode == 1 and "wrong passphrase" in bad.stderr, explain(bad)
    assert passphrase not in bad.stdout + bad.stderr and salt not in bad.stdout + bad.stderr
    missing = elsewhere.run(*args)
    assert missing.returncode == 1 and "SESSION_STREAM__PRIVATE_KEY_PASSPHRASE" in missing.stderr, explain(missing)


def test_pii_keep_is_visible_and_drop_for_listed_targets(sshd: PrivateSshd, tree: Tree, tmp_path: Path) -> None:
    """keep (default) loads values as delivered — which proves the leak detector finds them; drop for a list of
    target ids nulls exactly those values before anything is written, other targets stay as delivered."""
    personal = sorted(set().union(*tree.pii_values.values()))
    keep = Target(tmp_path / "keep")
    proc = keep.run(*sftp_args(sshd, tree.root), "--workers", "0")
    assert proc.returncode == 0, explain(proc)
    assert find_in_duckdb(keep.duckdb_path, personal[:3])
    drop = Target(tmp_path / "drop")
    proc = drop.run(*sftp_args(sshd, tree.root), "--workers", "0", "--pii-mode", "drop",
                    "--pii-target-ids", ",".join(tree.pii_values))
    assert proc.returncode == 0, explain(proc)
    assert not find_in_duckdb(drop.duckdb_path, personal)
    assert not find_in_tree(drop.pipelines_dir, personal)
    q = drop.sql
    ids = ",".join(f"'{t}'" for t in tree.pii_values)
    nulls, rows = q(f"select count(value), count(*) from {SCHEMA}.sessions__custom_targets where id in ({ids})")[0]
    assert nulls == 0 and rows > 0  # the target rows stay (their ids are not personal), the values are gone
    kept = q(f"select count(*) from {SCHEMA}.sessions__custom_targets where id not in ({ids}) and value is not null")
    assert kept[0][0] > 0
    assert_ground_truth(q, tree)


# --------------------------------------------------------------------------------------------------
# paths from the server are never trusted


def test_sftp_download_never_writes_outside_the_spool(sshd: PrivateSshd, tmp_path: Path) -> None:
    """Whatever the remote name (`..`, absolute, separators), the local copy is a hashed name inside the spool."""
    root = tmp_path / "srv" / "session_stream"
    root.mkdir(parents=True)
    (tmp_path / "srv" / "x.json.gz").write_bytes(b"0123456789")
    spool = tmp_path / "work" / "spool"
    spool.mkdir(parents=True)
    before = sorted(p for p in tmp_path.rglob("*"))
    transport = SftpTransport(sftp_credentials(sshd, root))
    try:
        local = transport.fetch("../x.json.gz", 10, spool)
        assert local.parent == spool and local.read_bytes() == b"0123456789"
        assert ".." not in local.name and "/" not in local.name
        transport.release(local)
    finally:
        transport.close()
    assert sorted(p for p in tmp_path.rglob("*")) == before
