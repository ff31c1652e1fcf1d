"""An SFTP server with the quirks real vendor servers have, for transport tests (paramiko, in-process, loopback).

Why: OpenSSH's sftp-server (what ``PrivateSshd`` runs) always reports full attributes and never repeats an
entry. Other servers leave size, modification time or permissions out of directory listings (SFTP v3 allows
it), list an entry twice, refuse to open files they list, and show symlinks as links. Each of those once
broke the loader; this server reproduces them on demand so the tests talk to a real SFTP implementation
rather than a mock.

It serves the machine's own paths (like ``PrivateSshd``, so ``url(tmp_path)`` works), runs in daemon
threads on a free 127.0.0.1 port, has its own ed25519 host key and accepts one client key. Switches live
in :class:`Quirks` and may be changed while it runs. :class:`GarbageServer` is a TCP port that answers
like a web server, not an SSH server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import paramiko
from paramiko.sftp import SFTP_PERMISSION_DENIED

from support.servers import LOOPBACK, Ed25519KeyPair, accepted, free_port, listen


@dataclass
class Quirks:
    """What the server leaves out or gets wrong. Paths are absolute local paths as strings."""

    omit_size: bool = False  # no size in directory listings
    omit_mtime: bool = False  # no modification (and access) time in directory listings
    omit_type: bool = False  # no permissions, hence no file type, in directory listings
    omit_in_stat: bool = False  # leave the omitted attributes out of stat/lstat/fstat replies too
    repeat_entries: bool = False  # every listing returns each entry twice
    deny_open: set[str] = field(default_factory=set)  # opening these paths: permission denied
    deny_list: set[str] = field(default_factory=set)  # listing these folders: permission denied


class QuirkSftpServer:
    """A paramiko SFTP server on 127.0.0.1 serving local paths with :class:`Quirks`; a context manager."""

    def __init__(self, quirks: Quirks | None = None, *, port: int = 0, user: str = "loader") -> None:
        self.quirks = quirks or Quirks()
        self.host = LOOPBACK
        self.port = port or free_port()
        self.user = user
        self.dir = Path(tempfile.mkdtemp(prefix="quirk-sftp-"))
        self._host_pair = Ed25519KeyPair(self.dir / "host_ed25519", "quirk-sftp-host")
        self._client_pair = Ed25519KeyPair(self.dir / "client_ed25519", "quirk-sftp-client")
        self.host_key = paramiko.Ed25519Key.from_private_key_file(str(self._host_pair.private_path))
        self.host_key_fingerprint = self._host_pair.fingerprint
        self.client_key_path = self._client_pair.private_path
        self.known_hosts_path = self.dir / "known_hosts"
        self.known_hosts_path.write_text(self.known_hosts_line() + "\n")
        self.auth_attempts = 0  # userauth requests of any method: proves a refusal happened before login
        self.connections = 0
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._transports: list[paramiko.Transport] = []
        self._lock = threading.Lock()

    # -- public API ---------------------------------------------------------------------------

    def known_hosts_line(self, host_field: str | None = None) -> str:
        """The server's known_hosts entry (`[127.0.0.1]:PORT ssh-ed25519 ...`), optionally under other names."""
        line = self._host_pair.known_hosts_line(self.host, self.port)
        if host_field is not None:
            line = " ".join([host_field, *line.split()[1:]])
        return line

    @property
    def host_key_text(self) -> str:
        """`ssh-ed25519 BASE64`: the key part of a known_hosts line."""
        return self._host_pair.key_text

    def url(self, path: str | os.PathLike[str]) -> str:
        """``sftp://USER@127.0.0.1:PORT/abs/path`` for a local path served by this server."""
        return f"sftp://{self.user}@{self.host}:{self.port}{os.path.abspath(os.fspath(path))}"

    def start(self) -> Self:
        """Listen on the port (free one chosen at construction) and serve in a daemon thread."""
        self._listener = listen(self.port)
        self._stop.clear()
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"quirk-sftp-{self.port}", daemon=True)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Close the listener and every session; bounded waits only, never hangs the suite."""
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            transports, self._transports = self._transports, []
        for transport in transports:
            with contextlib.suppress(Exception):
                transport.close()
        if self._acceptor is not None:
            self._acceptor.join(2)
            self._acceptor = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- internals ----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        for sock in accepted(self._listener, self._stop):
            self.connections += 1
            transport = paramiko.Transport(sock)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _QuirkSftp)
            with self._lock:
                self._transports.append(transport)
            try:
                transport.start_server(event=threading.Event(), server=_Gate(self))  # negotiates in its thread
            except Exception:  # noqa: BLE001 - a client that hung up at once
                transport.close()

    def _client_key_ok(self, key: paramiko.PKey) -> bool:
        return key.get_name() == self._client_pair.key_type and key.get_base64() == self._client_pair.key_b64


class _Gate(paramiko.ServerInterface):
    """Public-key login for the one client key; a session channel for the SFTP subsystem."""

    def __init__(self, owner: QuirkSftpServer) -> None:
        self.owner = owner

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_none(self, username: str) -> int:
        self.owner.auth_attempts += 1
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        self.owner.auth_attempts += 1
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        self.owner.auth_attempts += 1
        ok = username == self.owner.user and self.owner._client_key_ok(key)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Handle(paramiko.SFTPHandle):
    """A read-only open file; fstat goes through the same attribute filter as stat."""

    def __init__(self, sftp: _QuirkSftp, flags: int) -> None:
        super().__init__(flags)
        self.sftp = sftp

    def stat(self) -> Any:  # noqa: ANN401 - SFTPAttributes or an SFTP error code, as paramiko expects
        try:
            return self.sftp.attrs(os.fstat(self.readfile.fileno()), listing=False)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)


class _QuirkSftp(paramiko.SFTPServerInterface):
    """Read-only SFTP over local paths, with the owner's quirks applied to listings, stat and open."""

    def __init__(self, server: _Gate, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        self.owner = server.owner

    @property
    def quirks(self) -> Quirks:
        return self.owner.quirks

    @staticmethod
    def _local(path: str) -> str:
        return os.path.normpath(path if os.path.isabs(path) else "/" + path)

    def attrs(self, st: os.stat_result, name: str | None = None, *, listing: bool) -> paramiko.SFTPAttributes:
        """SFTP attributes of a stat result, minus what the quirks leave out here."""
        attr = paramiko.SFTPAttributes.from_stat(st, name)
        q = self.quirks
        if listing or q.omit_in_stat:
            if q.omit_size:
                attr.st_size = None
            if q.omit_mtime:
                attr.st_mtime = attr.st_atime = None
            if q.omit_type:
                attr.st_mode = None
        return attr

    def list_folder(self, path: str) -> Any:  # noqa: ANN401 - list or SFTP error code
        local = self._local(path)
        if local in self.quirks.deny_list:
            return SFTP_PERMISSION_DENIED
        try:
            names = sorted(os.listdir(local))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        out = []
        for name in names:
            with contextlib.suppress(OSError):  # like readdir: links are listed as links (lstat)
                out.append(self.attrs(os.lstat(os.path.join(local, name)), name, listing=True))
        return out + out if self.quirks.repeat_entries else out

    def stat(self, path: str) -> Any:  # noqa: ANN401
        return self._stat(path, os.stat)

    def lstat(self, path: str) -> Any:  # noqa: ANN401
        return self._stat(path, os.lstat)

    def _stat(self, path: str, how: Any) -> Any:  # noqa: ANN401
        local = self._local(path)
        try:
            return self.attrs(how(local), os.path.basename(local), listing=False)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def open(self, path: str, flags: int, attr: Any) -> Any:  # noqa: ANN401
        local = self._local(path)
        if local in self.quirks.deny_open or flags & (os.O_WRONLY | os.O_RDWR):
            return SFTP_PERMISSION_DENIED
        try:
            handle_file = open(local, "rb")  # noqa: SIM115 - closed by SFTPHandle.close
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        handle = _Handle(self, flags)
        handle.readfile = handle_file
        return handle

    def readlink(self, path: str) -> Any:  # noqa: ANN401
        try:
            return os.readlink(self._local(path))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def canonicalize(self, path: str) -> str:
        return os.path.realpath(self._local(path))  # like OpenSSH: symlinks resolved


class GarbageServer:
    """A TCP port that answers every connection like a web server would, then hangs up: not SSH."""

    def __init__(self) -> None:
        self.connections = 0
        self._stop = threading.Event()
        self._listener = listen()
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name=f"garbage-{self.port}", daemon=True)

    def _serve(self) -> None:
        for conn in accepted(self._listener, self._stop):
            self.connections += 1
            with contextlib.suppress(OSError), conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(2)
