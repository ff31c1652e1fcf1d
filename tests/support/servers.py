"""Private, throw-away servers for integration tests: OpenSSH sshd, a fault proxy, PostgreSQL.

Why this module exists: the loader talks to a real vendor SFTP server and a real warehouse. Mocks of
paramiko or psycopg2 would hide exactly the behaviour we care about (host-key checks, prefetching,
interrupted transfers, transactional loads). No Docker engine is available, so each test session
starts real daemons from the Debian packages (``openssh-server``, ``postgresql``) on loopback ports,
with every file they need (config, keys, data dir, sockets, logs) under a fresh temp dir. Nothing on
the machine's own sshd or PostgreSQL configuration is read or changed, and no traffic leaves
127.0.0.1.

Linux-only (uses /proc, runuser). Needs paramiko (and its dependency cryptography, for key
generation) and psycopg2 (PostgreSQL readiness checks and set-up).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import glob
import hashlib
import os
import pwd
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import paramiko
import psycopg2
import psycopg2.extensions
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg2 import sql

LOOPBACK = "127.0.0.1"
SSHD_PATH = "/usr/sbin/sshd"
DEFAULT_SSH_PORT = 22
_STAT_MIN_FIELDS = 2  # state, ppid


class ServerStartError(RuntimeError):
    """A private server did not come up; the message carries its log so CI output explains why."""


# --------------------------------------------------------------------------------------------------
# small helpers


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now.

    There is an unavoidable race between closing this probe socket and the daemon binding the port;
    callers retry start-up with a new port when the daemon reports the address in use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def is_ci() -> bool:
    """True when the ``CI`` env var is set to something truthy (GitHub/GitLab set ``CI=true``).

    Used by the fixtures: in CI a missing server binary must fail the run instead of silently
    skipping the integration tests the CI job exists to run.
    """
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(found: str | None, what: str, package: str) -> None:
    """Skip (developer machine) or fail (CI) when a server binary is missing; see tests/conftest.py."""
    if found is not None:
        return
    message = f"{what} not found; install the Debian package '{package}' to run this test"
    if is_ci():
        pytest.fail(f"{message} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(message)


def find_sshd() -> str | None:
    """Return the sshd binary path, or None when openssh-server is not installed.

    sshd re-executes itself for every connection and refuses to run unless invoked by absolute
    path, so PATH lookup is only a fallback.
    """
    if os.access(SSHD_PATH, os.X_OK):
        return SSHD_PATH
    found = shutil.which("sshd")
    return os.path.abspath(found) if found else None


def find_pg_bindir() -> str | None:
    """Return the directory holding ``initdb``/``pg_ctl`` of the newest installed PostgreSQL.

    Debian keeps server binaries in ``/usr/lib/postgresql/<major>/bin`` (not on PATH); ``pg_config
    --bindir`` may point at the client-only package, so we glob and pick the highest major version.
    """
    candidates: list[tuple[tuple[int, ...], str]] = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = Path(initdb).parent.parent.name
        key = tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)
        candidates.append((key, str(Path(initdb).parent)))
    if candidates:
        return max(candidates)[1]
    found = shutil.which("initdb")
    if found and os.access(Path(found).with_name("pg_ctl"), os.X_OK):
        return str(Path(found).parent)
    return None


def listen(port: int = 0, backlog: int = 16, poll: float = 0.1) -> socket.socket:
    """A TCP listener on 127.0.0.1 (port 0: a free one) whose accept() wakes every `poll` s to check for stop."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOOPBACK, port))
    listener.listen(backlog)
    listener.settimeout(poll)
    return listener


def accepted(listener: socket.socket, stop: threading.Event) -> Iterator[socket.socket]:
    """Connections accepted on `listener` until `stop` is set or the listener is closed."""
    while not stop.is_set():
        try:
            conn, _addr = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        yield conn


def _tail(path: Path, max_chars: int = 6000) -> str:
    """Last part of a log file, for error messages (never raises)."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return text[-max_chars:] if text else "<empty log>"


def _descendants(root_pid: int) -> list[int]:
    """All live descendant pids of ``root_pid``, found via /proc.

    sshd's per-connection children call ``setsid()``, so killing the listener's process group does
    not reach open sessions; walking the parent links does.
    """
    children: dict[int, list[int]] = {}
    for stat_path in glob.glob("/proc/[0-9]*/stat"):
        try:
            raw = Path(stat_path).read_text()
        except OSError:
            continue
        # the command name may contain spaces/parens: fields after the last ')' are fixed
        fields = raw.rsplit(")", 1)[-1].split()
        if len(fields) < _STAT_MIN_FIELDS:
            continue
        pid = int(stat_path.split("/")[2])
        children.setdefault(int(fields[1]), []).append(pid)
    found: list[int] = []
    stack = [root_pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _kill_quietly(pids: list[int], sig: signal.Signals = signal.SIGKILL) -> None:
    """Signal each pid, ignoring ones that already exited."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


# --------------------------------------------------------------------------------------------------
# what the private daemons share


class _DaemonInTempDir:
    """A daemon whose config, data and log live in one temp dir (:class:`PrivateSshd`, :class:`PrivatePostgres`).

    As a context manager it starts the daemon and, on leaving (or when start-up fails), stops it and deletes
    the dir.
    """

    dir: Path
    log_path: Path

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop and delete the temp dir."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_log(self) -> str:
        """The daemon's log: sshd's (VERBOSE: auth failures, disconnects) or PostgreSQL's (start-up, statements)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------
# SSH keys


class Ed25519KeyPair:
    """A freshly generated ed25519 key pair written to disk in OpenSSH format.

    Generated with ``cryptography`` (a paramiko dependency) rather than ``ssh-keygen``: no extra
    process, and paramiko cannot generate ed25519 keys itself.
    """

    def __init__(self, private_path: Path, comment: str = "") -> None:
        key = Ed25519PrivateKey.generate()
        private_bytes = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        public_line = (
            key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
        self.private_path = private_path
        self.public_path = private_path.with_name(private_path.name + ".pub")
        # sshd and ssh refuse private keys readable by others
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_bytes)
        self.public_line = f"{public_line} {comment}".strip()
        self.public_path.write_text(self.public_line + "\n")
        self.key_type, self.key_b64 = public_line.split()[:2]

    @property
    def key_text(self) -> str:
        """``ssh-ed25519 BASE64``: the key part of a known_hosts or authorized_keys line."""
        return f"{self.key_type} {self.key_b64}"

    @property
    def fingerprint(self) -> str:
        """OpenSSH-style ``SHA256:<unpadded base64>`` fingerprint of the public key."""
        digest = hashlib.sha256(base64.b64decode(self.key_b64)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def known_hosts_line(self, host: str, port: int) -> str:
        """A known_hosts entry; ``[host]:port`` form (as paramiko/OpenSSH write it) unless 22."""
        host_field = host if port == DEFAULT_SSH_PORT else f"[{host}]:{port}"
        return f"{host_field} {self.key_type} {self.key_b64}"


def _openssh_version(sshd: str) -> tuple[int, int]:
    """(major, minor) of the sshd binary, (0, 0) if unknown: gates newer config keywords."""
    try:
        result = subprocess.run(
            [sshd, "-V"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", result.stdout + result.stderr)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


# --------------------------------------------------------------------------------------------------
# sshd


class PrivateSshd(_DaemonInTempDir):
    """A private OpenSSH sshd on a free 127.0.0.1 port, serving the real filesystem over SFTP.

    Tests point the client at absolute paths under their own temp dirs (see :meth:`url`). The server
    has its own host key and accepts exactly one client key for the current OS user; a second,
    unauthorised key and a known_hosts file for a *different* host key are provided for negative
    tests. :meth:`restart` keeps port and host key so fault tests can simulate a server bounce.

    Password authentication is not offered: with ``UsePAM no`` sshd checks the OS user's real
    password hash, and tests run as root (whose password we must not set or know). Key auth only.
    """

    def __init__(self, *, start_timeout: float = 10.0, base_dir: str | None = None) -> None:
        sshd = find_sshd()
        if sshd is None:
            raise FileNotFoundError(f"sshd not found at {SSHD_PATH} (install openssh-server)")
        self.sshd_path = sshd
        self.start_timeout = start_timeout
        self.host = LOOPBACK
        self.port = 0
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.dir = Path(tempfile.mkdtemp(prefix="private-sshd-", dir=base_dir))
        self.config_path = self.dir / "sshd_config"
        self.log_path = self.dir / "sshd.log"
        self.pid_path = self.dir / "sshd.pid"
        self.authorized_keys_path = self.dir / "authorized_keys"
        self.known_hosts_path = self.dir / "known_hosts"
        self.other_known_hosts_path = self.dir / "known_hosts_other"
        self._host_key = Ed25519KeyPair(self.dir / "ssh_host_ed25519_key", "private-sshd-host")
        self._other_host_key = Ed25519KeyPair(self.dir / "other_host_ed25519_key", "not-the-host")
        self._client_key = Ed25519KeyPair(self.dir / "client_ed25519", "private-sshd-client")
        self._wrong_client_key = Ed25519KeyPair(self.dir / "wrong_client_ed25519", "unauthorised")
        self.authorized_keys_path.write_text(self._client_key.public_line + "\n")
        self.client_key_path = self._client_key.private_path
        self.wrong_client_key_path = self._wrong_client_key.private_path
        self.host_key_fingerprint = self._host_key.fingerprint
        self.other_host_key_fingerprint = self._other_host_key.fingerprint
        self._version = _openssh_version(sshd)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None
        atexit.register(self.stop)

    # -- public API ---------------------------------------------------------------------------

    def url(self, path: str | os.PathLike[str]) -> str:
        """``sftp://USER@127.0.0.1:PORT/abs/path`` for a local path served by this sshd."""
        absolute = os.path.abspath(os.fspath(path))
        return f"sftp://{self.user}@{self.host}:{self.port}{absolute}"

    def start(self) -> Self:
        """Start sshd (free port on first start, same port on restart); wait for its banner."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        # /run/sshd is sshd's compiled-in privilege-separation chroot: must exist, root-owned, 0755
        if os.getuid() == 0 and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        fixed_port = self.port != 0
        last_error: Exception | None = None
        for _attempt in range(1 if fixed_port else 3):
            if not fixed_port:
                self.port = free_port()
            self._write_config()
            self._write_known_hosts()
            try:
                self._spawn_and_wait()
                return self
            except ServerStartError as exc:
                last_error = exc
                self._terminate(kill_sessions=True)
                if "Address already in use" not in str(exc):
                    break
        assert last_error is not None
        raise last_error

    def stop(self, *, kill_sessions: bool = True) -> None:
        """Stop the listener; by default also kill open sessions, as a real server going down would.

        Idempotent and safe at interpreter exit. Leaves the temp dir (keys, known_hosts) in place so
        :meth:`restart` can reuse it; :meth:`close` removes it.
        """
        self._terminate(kill_sessions=kill_sessions)

    def restart(self, *, kill_sessions: bool = True) -> Self:
        """Stop and start again on the same port with the same host key and client keys."""
        self.stop(kill_sessions=kill_sessions)
        return self.start()

    @property
    def running(self) -> bool:
        """Whether the sshd listener process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Pid of the listener process, if started."""
        return self._proc.pid if self._proc is not None else None

    def ssh_client(
        self,
        *,
        key_path: str | os.PathLike[str] | None = None,
        known_hosts_path: str | os.PathLike[str] | None = None,
        port: int | None = None,
        timeout: float = 10.0,
    ) -> paramiko.SSHClient:
        """A connected ``paramiko.SSHClient`` with ``RejectPolicy`` (strict host-key checking).

        ``port`` lets a test connect through a :class:`FaultProxy`; the host-key lookup then uses
        ``[127.0.0.1]:<proxy port>``, so pass a known_hosts from :meth:`known_hosts_for`.
        """
        client = paramiko.SSHClient()
        client.load_host_keys(os.fspath(known_hosts_path or self.known_hosts_path))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                self.host,
                port=port or self.port,
                username=self.user,
                key_filename=os.fspath(key_path or self.client_key_path),
                look_for_keys=False,
                allow_agent=False,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
            )
        except BaseException:
            client.close()
            raise
        return client

    def known_hosts_for(self, port: int, *, host: str = LOOPBACK, wrong_key: bool = False) -> Path:
        """Write a known_hosts trusting this server's host key under another ``host:port``.

        Needed when connecting through a proxy: the client checks the key under the proxy's port.
        With ``wrong_key=True`` the entry holds the other (not served) key instead.
        """
        key = self._other_host_key if wrong_key else self._host_key
        suffix = "other" if wrong_key else "host"
        path = self.dir / f"known_hosts_{host}_{port}_{suffix}"
        path.write_text(key.known_hosts_line(host, port) + "\n")
        return path

    # -- internals ----------------------------------------------------------------------------

    def _write_config(self) -> None:
        lines = [
            f"ListenAddress {self.host}:{self.port}",
            f"HostKey {self._host_key.private_path}",
            f"PidFile {self.pid_path}",
            f"AuthorizedKeysFile {self.authorized_keys_path}",
            # keys live in a temp dir whose modes sshd would otherwise reject
            "StrictModes no",
            # PAM would consult the system's /etc/pam.d/sshd and account setup; we want none of it
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
            "UseDNS no",
            "PrintMotd no",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            "AllowTcpForwarding no",
            "PermitTunnel no",
            # tests open many short connections in bursts (retries, parallel downloads)
            "MaxStartups 200",
            "MaxSessions 50",
            "LoginGraceTime 30",
        ]
        if self._version >= (9, 8):
            # OpenSSH >= 9.8 penalises sources that fail auth or drop before auth; fault and
            # wrong-key tests do exactly that from 127.0.0.1 and would get later connections refused
            lines.append("PerSourcePenalties no")
        self.config_path.write_text("\n".join(lines) + "\n")

    def _write_known_hosts(self) -> None:
        self.known_hosts_path.write_text(
            self._host_key.known_hosts_line(self.host, self.port) + "\n"
        )
        self.other_known_hosts_path.write_text(
            self._other_host_key.known_hosts_line(self.host, self.port) + "\n"
        )

    def _spawn_and_wait(self) -> None:
        # -e sends the log to stderr, which we append to the log file (sshd's -E would also work)
        self._log_handle = open(self.log_path, "ab")  # noqa: SIM115 - closed in _terminate
        self._proc = subprocess.Popen(
            [self.sshd_path, "-D", "-e", "-f", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=self._log_handle,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"sshd exited with code {self._proc.returncode} on port {self.port}.\n"
                    f"--- {self.log_path} ---\n{_tail(self.log_path)}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as conn:
                    banner = conn.makefile("rb").readline(256)
                if banner.startswith(b"SSH-"):
                    return
                last_error = f"unexpected banner {banner!r}"
            except OSError as exc:
                last_error = repr(exc)
            time.sleep(0.02)
        raise ServerStartError(
            f"sshd did not serve an SSH banner on {self.host}:{self.port} within "
            f"{self.start_timeout:.0f}s (last error: {last_error}).\n"
            f"--- {self.log_path} ---\n{_tail(self.log_path)}"
        )

    def _terminate(self, *, kill_sessions: bool) -> None:
        proc = self._proc
        if proc is not None:
            sessions = _descendants(proc.pid) if kill_sessions else []
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            _kill_quietly(sessions)
            self._proc = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None


# --------------------------------------------------------------------------------------------------
# fault proxy


class FaultProxy:
    """A loopback TCP proxy that can cut or stall the server→client stream once, after n bytes.

    Why: the loader must retry transient network errors and must never mistake an interrupted
    download for a corrupt file. Real servers do not drop connections on demand; this proxy does.

    * :meth:`cut_after_bytes` — after ``n`` server→client bytes (counted over all connections since
      arming) forward exactly up to ``n`` and close both sides of the connection that crossed it.
    * :meth:`stall_after_bytes` — same trigger, but the connection turns into a black hole: nothing
      is forwarded any more, incoming data is discarded, sockets stay open (a dead link).
    * :meth:`pass_through` — disarm.

    Each fault fires once; connections opened afterwards pass normally. One daemon thread per
    connection plus one acceptor, capped at ``max_connections``; :meth:`stop` shuts every socket
    down so no thread can block the test run.
    """

    _POLL = 0.1

    def __init__(
        self,
        target_port: int,
        *,
        target_host: str = LOOPBACK,
        max_connections: int = 64,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = LOOPBACK
        self.max_connections = max_connections
        self.connections = 0
        self.rejected = 0
        self.faults_fired = 0
        self.bytes_server_to_client = 0
        self.bytes_client_to_server = 0
        self._mode = "pass"
        self._threshold = 0
        self._counted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = listen(backlog=64, poll=self._POLL)
        self.port = int(self._listener.getsockname()[1])
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"FaultProxy-accept-{self.port}", daemon=True
        )
        self._acceptor.start()

    # -- modes --------------------------------------------------------------------------------

    def cut_after_bytes(self, n: int) -> Self:
        """Arm a one-shot cut after ``n`` more server→client bytes."""
        return self._arm("cut", n)

    def stall_after_bytes(self, n: int) -> Self:
        """Arm a one-shot stall after ``n`` more server→client bytes."""
        return self._arm("stall", n)

    def pass_through(self) -> Self:
        """Disarm any pending fault; already-stalled connections stay stalled."""
        return self._arm("pass", 0)

    @property
    def armed(self) -> bool:
        """Whether a fault is still pending."""
        with self._lock:
            return self._mode != "pass"

    @property
    def active_connections(self) -> int:
        """Connections whose handler thread is still running."""
        return sum(1 for thread in self._threads if thread.is_alive())

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every proxied socket, then join the threads (bounded wait)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown_close(sock)
        deadline = time.monotonic() + timeout
        for thread in [self._acceptor, *self._threads]:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------

    def _arm(self, mode: str, n: int) -> Self:
        if n < 0:
            raise ValueError("byte count must be >= 0")
        with self._lock:
            self._mode, self._threshold, self._counted = mode, n, 0
        return self

    def _accept_loop(self) -> None:
        for client in accepted(self._listener, self._stop):
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) >= self.max_connections:
                self.rejected += 1
                _shutdown_close(client)
                continue
            self.connections += 1
            thread = threading.Thread(
                target=self._handle,
                args=(client,),
                name=f"FaultProxy-{self.port}-{self.connections}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def _account(self, data: bytes) -> tuple[bytes, str]:
        """Apply the armed fault to a server→client chunk: (bytes to forward, action)."""
        with self._lock:
            self.bytes_server_to_client += len(data)
            if self._mode == "pass":
                return data, "pass"
            remaining = self._threshold - self._counted
            if len(data) < remaining:
                self._counted += len(data)
                return data, "pass"
            action = self._mode
            self._mode, self._threshold, self._counted = "pass", 0, 0
            self.faults_fired += 1
            return data[:remaining], action

    def _handle(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection((self.target_host, self.target_port), timeout=5)
        except OSError:
            _shutdown_close(client)
            return
        for sock in (client, upstream):
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.update((client, upstream))
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, "up")
        selector.register(upstream, selectors.EVENT_READ, "down")
        stalled = False
        try:
            while not self._stop.is_set():
                for key, _events in selector.select(timeout=self._POLL):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = sock.recv(65536)
                    if not data:
                        return
                    if stalled:
                        continue  # black hole: swallow, never forward
                    if key.data == "up":
                        with self._lock:
                            self.bytes_client_to_server += len(data)
                        upstream.sendall(data)
                        continue
                    forward, action = self._account(data)
                    if forward:
                        client.sendall(forward)
                    if action == "cut":
                        return
                    if action == "stall":
                        stalled = True
        except OSError:
            return
        finally:
            selector.close()
            with self._lock:
                self._sockets.difference_update((client, upstream))
            _shutdown_close(client)
            _shutdown_close(upstream)


def _shutdown_close(sock: socket.socket) -> None:
    """shutdown() before close(): close() alone does not wake a thread blocked in recv/sendall."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


# --------------------------------------------------------------------------------------------------
# PostgreSQL


class PrivatePostgres(_DaemonInTempDir):
    """A private PostgreSQL cluster in a temp dir on a free 127.0.0.1 port, with fsync off.

    Provides a login role ``loader`` (password auth over TCP, scram-sha-256) owning database
    ``warehouse`` — the stand-in for the production Redshift target. The superuser ``postgres`` is
    reachable only over the private unix socket (trust), for test set-up and inspection.

    PostgreSQL refuses to run as root, so as root the cluster is created and run as the ``postgres``
    OS user (``runuser``), in a dir under /tmp owned by that user.
    """

    SUPERUSER = "postgres"

    def __init__(
        self,
        *,
        user: str = "loader",
        database: str = "warehouse",
        password: str | None = None,
        start_timeout: float = 15.0,
        extra_settings: dict[str, str] | None = None,
    ) -> None:
        bindir = find_pg_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries not found (install postgresql)")
        self.bindir = Path(bindir)
        self.host = LOOPBACK
        self.port = 0
        self.user = user
        self.password = password or "pw-" + secrets.token_hex(12)
        self.database = database
        self.start_timeout = start_timeout
        self.extra_settings = dict(extra_settings or {})
        self._run_as: str | None = None
        if os.getuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise ServerStartError(
                    "running as root but there is no 'postgres' OS user to run the server as"
                ) from exc
            self._run_as = "postgres"
        # as root: /tmp (world-traversable) rather than $TMPDIR, which might sit under /root
        base = "/tmp" if self._run_as else None
        self.dir = Path(tempfile.mkdtemp(prefix="private-pg-", dir=base))
        if self._run_as:
            entry = pwd.getpwnam(self._run_as)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.data_dir = self.dir / "data"
        self.socket_dir = self.dir
        self.log_path = self.dir / "postgres.log"
        self._started = False
        atexit.register(self.stop)

    # -- public API ---------------------------------------------------------------------------

    @property
    def dsn(self) -> str:
        """``postgresql://loader:PASSWORD@127.0.0.1:PORT/warehouse`` (password is URL-safe)."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def superuser_dsn(self) -> str:
        """libpq keyword DSN for the superuser over the private unix socket (trust auth)."""
        return (
            f"host={self.socket_dir} port={self.port} user={self.SUPERUSER} dbname={self.database}"
        )

    def credentials_dict(self) -> dict[str, Any]:
        """Credentials as dlt's ``PostgresCredentials`` field names."""
        return {
            "database": self.database,
            "username": self.user,
            "password": self.password,
            "host": self.host,
            "port": self.port,
        }

    def env(self) -> dict[str, str]:
        """dlt env vars pointing the ``postgres`` destination at this server."""
        return {"DESTINATION__POSTGRES__CREDENTIALS": self.dsn}

    def connect(self, *, superuser: bool = False, **kwargs: Any) -> psycopg2.extensions.connection:  # noqa: ANN401
        """A psycopg2 connection as ``loader`` (TCP, password) or as the superuser (socket)."""
        if superuser:
            return psycopg2.connect(self.superuser_dsn, **kwargs)
        return psycopg2.connect(self.dsn, **kwargs)

    def start(self) -> Self:
        """initdb (first time only), start on a free port, create role + database, wait."""
        if self._started:
            return self
        t0 = time.monotonic()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        last_error: ServerStartError | None = None
        for _attempt in range(3):
            self.port = free_port()
            try:
                self._pg_ctl_start()
                break
            except ServerStartError as exc:
                last_error = exc
                if "already in use" not in str(exc):
                    raise
        else:
            assert last_error is not None
            raise last_error
        self._started = True
        try:
            self._bootstrap_and_wait(deadline=t0 + self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """``pg_ctl stop -m immediate``: no checkpoint, the data is throw-away. Idempotent."""
        if not self._started:
            return
        self._started = False
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "stop",
                "-m",
                "immediate",
                "-w",
                "-D",
                str(self.data_dir),
            ],
            check=False,
        )

    # -- internals ----------------------------------------------------------------------------

    def _run(self, argv: list[str], *, check: bool = True, timeout: float = 60) -> str:
        """Run a server binary, as the ``postgres`` OS user when we are root."""
        if self._run_as:
            argv = ["runuser", "-u", self._run_as, "--", *argv]
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        env.pop("PGDATA", None)
        result = subprocess.run(
            argv,
            cwd=self.dir,  # the postgres user may not be able to read our cwd
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = result.stdout + result.stderr
        if check and result.returncode != 0:
            raise ServerStartError(
                f"{' '.join(argv)} failed with code {result.returncode}:\n{output}\n"
                f"--- {self.log_path} ---\n{_tail(self.log_path)}"
            )
        return output

    def _initdb(self) -> None:
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",  # skip fsync of the new cluster: ~3x faster initdb
                "--no-instructions",
            ]
        )

    def _pg_ctl_start(self) -> None:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            **self.extra_settings,
        }
        options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                str(int(self.start_timeout)),
                "-o",
                options,
            ],
            timeout=self.start_timeout + 5,
        )

    def _bootstrap_and_wait(self, *, deadline: float) -> None:
        admin = self._retry_connect(
            lambda: self.connect(superuser=True, dbname="postgres"), deadline
        )
        try:
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.user,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(
                    sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(self.user), sql.Literal(self.password)
                    )
                )
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
                if not cur.fetchone():
                    cur.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(self.database), sql.Identifier(self.user)
                        )
                    )
        finally:
            admin.close()
        # prove the path the loader will use: TCP + password as the loader role
        conn = self._retry_connect(lambda: psycopg2.connect(self.dsn, connect_timeout=3), deadline)
        conn.close()

    def _retry_connect(
        self, connect: Callable[[], psycopg2.extensions.connection], deadline: float
    ) -> psycopg2.extensions.connection:
        while True:
            try:
                return connect()
            except psycopg2.OperationalError as exc:
                if time.monotonic() >= deadline:
                    raise ServerStartError(
                        f"PostgreSQL on {self.host}:{self.port} did not accept connections: {exc}\n"
                        f"--- {self.log_path} ---\n{_tail(self.log_path)}"
                    ) from exc
                time.sleep(0.05)
