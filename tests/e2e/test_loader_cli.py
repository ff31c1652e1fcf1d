"""`run.py` as a user meets it: --help, and refusing to talk to the wrong server or with the wrong key.

Host-key and login failures must stop the run before anything is loaded, exit non-zero, and say in
one message what happened and what to do (the fingerprint to verify, the option to use). The unknown host
is in tests/e2e/test_security.py::test_unknown_host_is_refused_with_fingerprint_and_advice.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.data import ACCOUNT, days_ago, write_window
from support.loader import Target, explain, run_loader
from support.sftp import sftp_args

from dlt_pipeline.cli import build_parser
from dlt_pipeline.exit_codes import EXIT_ERROR, EXIT_OK
from dlt_pipeline.synthetic.generator import session_stream_root


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small file on the server (two sessions)."""
    data = tmp_path_factory.mktemp("cli") / "sftp"
    write_window(data, days_ago(2), "0500", 1234567890123, n=2, seed=0)
    return session_stream_root(data, ACCOUNT)


def _nothing_loaded(target: Target) -> bool:
    if not target.duckdb_path.exists():
        return True
    return "sessions" not in target.tables() or target.count("sessions") == 0


def _refused(target: Target, *args: Any) -> subprocess.CompletedProcess[str]:  # noqa: ANN401
    """A run that must stop before loading anything: exit 1, no traceback, nothing loaded."""
    proc = target.run(*args)
    assert proc.returncode == EXIT_ERROR, explain(proc)
    assert "Traceback" not in proc.stderr, explain(proc)
    assert _nothing_loaded(target)
    return proc


def test_help_explains_every_option() -> None:
    """`--help` exits 0 and names every option the parser accepts, plus the secrets' env vars; secrets set in
    the environment never show in it."""
    passphrase, salt = "pp-" + secrets.token_hex(16), "salt-" + secrets.token_hex(16)
    proc = run_loader("--help", env={"SESSION_STREAM__PRIVATE_KEY_PASSPHRASE": passphrase,
                                     "SESSION_STREAM__PII_SALT": salt})
    assert proc.returncode == 0, explain(proc)
    options = [opt for action in build_parser()._actions for opt in action.option_strings if opt.startswith("--")]
    assert len(options) >= 20
    missing = [opt for opt in options if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", proc.stdout)]
    assert not missing, f"--help does not mention {missing}"
    for needle in ("SESSION_STREAM__SFTP_PASSWORD", "SESSION_STREAM__PII_SALT", "SESSION_STREAM_DUCKDB",
                   "known_hosts", "Exit codes"):
        assert needle in proc.stdout
    assert passphrase not in proc.stdout + proc.stderr and salt not in proc.stdout + proc.stderr


def test_changed_host_key_is_refused(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    """known_hosts holds a different key for this host: refuse, naming both fingerprints."""
    proc = _refused(Target(tmp_path / "warehouse"),
                    *sftp_args(sshd, tiny_root, known_hosts=sshd.other_known_hosts_path))
    assert sshd.host_key_fingerprint in proc.stderr and sshd.other_host_key_fingerprint in proc.stderr, explain(proc)


def test_missing_known_hosts_file_is_refused(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    """No known_hosts file at all: do not silently trust; explain the two ways to verify the server."""
    proc = _refused(Target(tmp_path / "warehouse"), *sftp_args(sshd, tiny_root, known_hosts=tmp_path / "nope"))
    assert "--known-hosts" in proc.stderr and "--trust-host-key" in proc.stderr, explain(proc)


def test_wrong_client_key_is_refused(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    """A key the server does not accept: exit non-zero with a message naming the user, host and key."""
    proc = _refused(Target(tmp_path / "warehouse"), *sftp_args(sshd, tiny_root, key=sshd.wrong_client_key_path))
    assert "refused" in proc.stderr and str(sshd.wrong_client_key_path) in proc.stderr, explain(proc)
    assert f"{sshd.user}@{sshd.host}" in proc.stderr


def test_missing_private_key_file_is_reported(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    proc = _refused(Target(tmp_path / "warehouse"), *sftp_args(sshd, tiny_root, key=tmp_path / "no_such_key"))
    assert "no_such_key" in proc.stderr and "does not exist" in proc.stderr, explain(proc)


def test_trust_host_key_pins_the_server_without_known_hosts(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    """`--trust-host-key SHA256:...` loads with no known_hosts file; a different pinned key is refused."""
    no_file = tmp_path / "absent_known_hosts"
    proc = _refused(Target(tmp_path / "wrong"), *sftp_args(sshd, tiny_root, known_hosts=no_file), "--trust-host-key",
                    sshd.other_host_key_fingerprint)
    assert sshd.host_key_fingerprint in proc.stderr and sshd.other_host_key_fingerprint in proc.stderr

    target = Target(tmp_path / "warehouse")
    proc = target.run(*sftp_args(sshd, tiny_root, known_hosts=no_file), "--trust-host-key", sshd.host_key_fingerprint)
    assert proc.returncode == EXIT_OK, explain(proc)
    assert target.count("sessions") == 2
    assert target.sql(f"select distinct account_id from {target.dataset}.sessions") == [(ACCOUNT,)]
    assert not no_file.exists()  # pinning does not write a known_hosts file behind the user's back
