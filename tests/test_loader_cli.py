"""`run.py` as a user meets it: --help, and refusing to talk to the wrong server or with the wrong key.

Host-key and login failures must stop the run before anything is loaded, exit non-zero, and say in
one message what happened and what to do (the fingerprint to verify, the option to use).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from loader_helpers import DATASET, Target, days_ago, explain, run_loader, sftp_args

from dlt_pipeline.cli import build_parser
from dlt_pipeline.exit_codes import EXIT_ERROR, EXIT_OK
from dlt_pipeline.synthetic.generator import make_session, session_stream_root, write_session_file

ACCOUNT = 5150


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small file on the server (two sessions)."""
    data = tmp_path_factory.mktemp("cli") / "sftp"
    day = days_ago(2)
    start_ms = int(datetime(day.year, day.month, day.day, 5, tzinfo=UTC).timestamp() * 1000)
    write_session_file(data, ACCOUNT, f"{day:%Y%m%d}T050000.000Z_PT15M-1234567890123.json.gz",
                       [make_session(ACCOUNT, start_ms + i, seed=i) for i in range(2)])
    return session_stream_root(data, ACCOUNT)


def _nothing_loaded(target: Target) -> bool:
    if not target.duckdb_path.exists():
        return True
    return "sessions" not in target.tables() or target.count("sessions") == 0


def test_help_explains_every_option() -> None:
    """`--help` exits 0 and names every option the parser accepts, plus the secrets' env vars."""
    proc = run_loader("--help")
    assert proc.returncode == 0, explain(proc)
    options = [opt for action in build_parser()._actions for opt in action.option_strings if opt.startswith("--")]
    assert len(options) >= 20
    missing = [opt for opt in options if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", proc.stdout)]
    assert not missing, f"--help does not mention {missing}"
    for needle in ("SESSION_STREAM__SFTP_PASSWORD", "SESSION_STREAM_DUCKDB", "known_hosts", "Exit codes"):
        assert needle in proc.stdout


def test_unknown_host_is_refused_with_its_fingerprint(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    """A server missing from known_hosts: exit non-zero, message shows the key's fingerprint and the way out."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    target = Target(tmp_path / "warehouse")
    proc = run_loader(*sftp_args(sshd, tiny_root, known_hosts=empty), *target.args())
    assert proc.returncode == EXIT_ERROR, explain(proc)
    assert sshd.host_key_fingerprint in proc.stderr, explain(proc)
    assert "known_hosts" in proc.stderr and "--trust-host-key" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _nothing_loaded(target)


def test_changed_host_key_is_refused(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    """known_hosts holds a different key for this host: refuse, naming both fingerprints."""
    target = Target(tmp_path / "warehouse")
    proc = run_loader(*sftp_args(sshd, tiny_root, known_hosts=sshd.other_known_hosts_path), *target.args())
    assert proc.returncode == EXIT_ERROR, explain(proc)
    assert sshd.host_key_fingerprint in proc.stderr and sshd.other_host_key_fingerprint in proc.stderr, explain(proc)
    assert "Traceback" not in proc.stderr
    assert _nothing_loaded(target)


def test_missing_known_hosts_file_is_refused(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    """No known_hosts file at all: do not silently trust; explain the two ways to verify the server."""
    target = Target(tmp_path / "warehouse")
    proc = run_loader(*sftp_args(sshd, tiny_root, known_hosts=tmp_path / "nope"), *target.args())
    assert proc.returncode == EXIT_ERROR, explain(proc)
    assert "--known-hosts" in proc.stderr and "--trust-host-key" in proc.stderr, explain(proc)
    assert _nothing_loaded(target)


def test_wrong_client_key_is_refused(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    """A key the server does not accept: exit non-zero with a message naming the user, host and key."""
    target = Target(tmp_path / "warehouse")
    proc = run_loader(*sftp_args(sshd, tiny_root, key=sshd.wrong_client_key_path), *target.args())
    assert proc.returncode == EXIT_ERROR, explain(proc)
    assert "refused" in proc.stderr and str(sshd.wrong_client_key_path) in proc.stderr, explain(proc)
    assert f"{sshd.user}@{sshd.host}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _nothing_loaded(target)


def test_missing_private_key_file_is_reported(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    target = Target(tmp_path / "warehouse")
    proc = run_loader(*sftp_args(sshd, tiny_root, key=tmp_path / "no_such_key"), *target.args())
    assert proc.returncode == EXIT_ERROR, explain(proc)
    assert "no_such_key" in proc.stderr and "does not exist" in proc.stderr, explain(proc)


def test_trust_host_key_pins_the_server_without_known_hosts(sshd: Any, tiny_root: Path, tmp_path: Path) -> None:
    """`--trust-host-key SHA256:...` loads with no known_hosts file; a different pinned key is refused."""
    no_file = tmp_path / "absent_known_hosts"
    wrong = Target(tmp_path / "wrong")
    proc = run_loader(*sftp_args(sshd, tiny_root, known_hosts=no_file), "--trust-host-key",
                      sshd.other_host_key_fingerprint, *wrong.args())
    assert proc.returncode == EXIT_ERROR, explain(proc)
    assert sshd.host_key_fingerprint in proc.stderr and sshd.other_host_key_fingerprint in proc.stderr
    assert _nothing_loaded(wrong)

    target = Target(tmp_path / "warehouse")
    proc = run_loader(*sftp_args(sshd, tiny_root, known_hosts=no_file), "--trust-host-key",
                      sshd.host_key_fingerprint, *target.args())
    assert proc.returncode == EXIT_OK, explain(proc)
    assert target.count("sessions") == 2
    assert target.sql(f"select distinct account_id from {DATASET}.sessions") == [(ACCOUNT,)]
    assert not no_file.exists()  # pinning does not write a known_hosts file behind the user's back
