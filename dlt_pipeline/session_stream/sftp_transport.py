"""The SFTP transport: paramiko with verified host keys, one reused connection, prefetching reads, retries.

Its own module so that paramiko (and cryptography, ~0.3 s of imports) loads only for an sftp:// source:
a local folder or an archive URL never needs it (`transport.open_transport` imports this on demand).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import logging
import os
import shutil
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import unquote, urlparse

from dlt_pipeline.session_stream.config import SftpCredentials
from dlt_pipeline.session_stream.errors import (
    FileChanged,
    FileUnreadable,
    HostKeyError,
    TransportError,
    describe,
    refused_by_server,
)
from dlt_pipeline.session_stream.paramiko_import import paramiko
from dlt_pipeline.session_stream.retry import RetriesExhausted, dns_is_temporary, with_retries
from dlt_pipeline.session_stream.ssh_keys import (
    KnownHosts,
    RefuseUnknownHost,
    VettedTransport,
    host_key_name,
    load_private_key,
)
from dlt_pipeline.session_stream.transport_base import RemoteEntry, followed_entry, inside
from dlt_pipeline.testhooks import checkpoint

log = logging.getLogger("session_stream")


_FATAL = (paramiko.AuthenticationException, paramiko.BadHostKeyException)


def _transient(exc: BaseException) -> bool:
    """A fault that can heal by itself: the network, the server (a cut, a timeout, a restart), a busy resolver."""
    if isinstance(exc, (TransportError, FileNotFoundError, PermissionError, *_FATAL)):
        return False
    return isinstance(exc, (OSError, EOFError, paramiko.SSHException))


T = TypeVar("T")
# paramiko logs every failed handshake as an ERROR traceback from its own thread. We retry and report each
# failure in one line ourselves, so its records go to a logger of ours that is silent unless debugging.
SSH_LOG = "session_stream.ssh"


def parse_sftp_url(url: str) -> tuple[str, int, str, str]:
    """Split `sftp://USER@HOST[:PORT]/PATH` into (user, port, host, path); passwords in URLs are refused."""
    parsed = urlparse(url)
    if parsed.scheme != "sftp" or not parsed.hostname:
        raise TransportError(f"not an SFTP URL: {url!r}; expected sftp://USER@HOST[:PORT]/PATH")
    if parsed.password:
        raise TransportError("do not put a password in the source URL; set SESSION_STREAM__SFTP_PASSWORD "
                             "or sftp_password in .dlt/secrets.toml")
    if not parsed.username:
        raise TransportError(f"the SFTP URL needs a user name: sftp://USER@{parsed.hostname}/...")
    return unquote(parsed.username), parsed.port or 22, parsed.hostname, unquote(parsed.path) or "/"


class SftpTransport:
    """paramiko SFTP with verified host keys, one reused connection, prefetching reads and retries.

    The first connection is retried like every later one (a server restarting during a cron run is the
    same fault either way); a refused login or host key is not, because it cannot heal by itself. It opens
    in a background thread (`_open_in_background`); every request waits for it first.
    """

    def __init__(self, credentials: SftpCredentials) -> None:
        self.s = credentials
        self.user, self.port, self.host, self.root = parse_sftp_url(credentials.url)
        self.description = f"sftp://{self.user}@{self.host}:{self.port}{self.root}"
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._known: KnownHosts | None = None
        self._pkey: paramiko.PKey | None = None
        self._real_root: str | None = None
        self._opening: threading.Thread | None = None
        self._open_failed: BaseException | None = None
        self._closing = threading.Event()  # set by close(): a background connection still retrying gives up
        self._known_hosts()  # a missing known_hosts or key file is a one-line error now, not at the first listing
        self._credentials()
        self._open_in_background()

    def _open_in_background(self) -> None:
        """Connect while the caller sets up its run; the first request waits for the connection.

        Why: the SSH handshake is mostly waiting for the server (0.15-0.2 s on loopback, far more over the
        internet, ~0.01 s of our CPU), and a run has ~0.3 s of its own set-up (lock, pipeline, ledger) to do
        meanwhile. A connection that fails raises from the first request, with the same message.
        """

        def connect() -> None:
            try:
                self._retry(f"connection to {self.host}:{self.port}", lambda sftp: None, "check the host and port "
                            "in --source, the network, and that the server is up; nothing was loaded", connecting=True)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread by _wait_for_open
                self._open_failed = exc
            else:
                checkpoint("sftp_connected")  # test hook: connected, nothing requested yet (testhooks.py)

        self._opening = threading.Thread(target=connect, name="sftp-connect", daemon=True)
        self._opening.start()

    def _wait_for_open(self) -> None:
        """Join the background connection; its failure is raised here, for every request (nothing can work)."""
        if self._opening is not None:
            self._opening.join()
            self._opening = None
        if self._open_failed is not None:
            raise self._open_failed

    # -- connection -------------------------------------------------------------------------------
    def _known_hosts(self) -> KnownHosts:
        """known_hosts, parsed once per run; with --trust-host-key it only contributes @revoked lines."""
        if self._known is None:
            s = self.s
            path = s.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
            if s.trust_host_key:
                self._known = KnownHosts(path)
                try:
                    if os.path.exists(path):
                        self._known = KnownHosts.load(path)
                except HostKeyError as exc:  # the pin decides; the file could only have added revocations
                    log.warning("%s; only the pinned fingerprint is checked", exc)
            elif os.path.exists(path):
                self._known = KnownHosts.load(path)
            else:
                raise HostKeyError(
                    f"known_hosts file {path} does not exist, so the server's identity cannot be checked. "
                    "Pass --known-hosts PATH, or --trust-host-key SHA256:... with the fingerprint from the vendor.")
        return self._known

    def _credentials(self) -> paramiko.PKey | None:
        s = self.s
        if self._pkey is None and s.private_key:
            self._pkey = load_private_key(s.private_key, s.private_key_passphrase)
        if self._pkey is None and not s.password:
            raise TransportError("no SFTP credentials: pass --private-key PATH, or set SESSION_STREAM__SFTP_PASSWORD "
                                 "(or sftp_password in .dlt/secrets.toml)")
        return self._pkey

    def _connect(self) -> None:
        s = self.s
        known = self._known_hosts()
        pkey = self._credentials()
        name = host_key_name(self.host, self.port)
        client = paramiko.SSHClient()
        client.set_log_channel(SSH_LOG)
        logging.getLogger(SSH_LOG).setLevel(logging.NOTSET if os.environ.get("SESSION_STREAM_DEBUG")
                                            else logging.CRITICAL)
        if not s.trust_host_key:
            table = client.get_host_keys()
            for key in known.keys_for(name):
                found = table.lookup(name)
                if found is None or key.get_name() not in found:  # the first line for a key type wins
                    table.add(name, key.get_name(), key)
        client.set_missing_host_key_policy(RefuseUnknownHost(s.trust_host_key, known.path, known.ca_lines_for(name)))
        try:
            client.connect(
                self.host, port=self.port, username=self.user, pkey=pkey, password=s.password if pkey is None else None,
                timeout=s.timeout, banner_timeout=s.timeout, auth_timeout=s.timeout, channel_timeout=s.timeout,
                allow_agent=False, look_for_keys=False,  # paramiko 5 has no gss_* arguments
                transport_factory=functools.partial(VettedTransport, known=known, host_name=name),
            )
            transport = client.get_transport()
            if transport is not None and isinstance(transport.sock, socket.socket):
                # small SFTP requests otherwise wait on Nagle + delayed ACKs: ~18 ms per file even on loopback
                transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(s.timeout)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(
                f"HOST KEY CHANGED for {exc.hostname}: the server presented {exc.key.fingerprint} but known_hosts "
                f"has {exc.expected_key.fingerprint}. This can be an attack; refusing to connect. If the vendor "
                f"confirms the new key, replace the entry in {known.path}.") from None
        except paramiko.AuthenticationException:
            client.close()
            how = ("the key given as text" if str(s.private_key).lstrip().startswith("-----BEGIN")
                   else f"key {s.private_key}") if pkey else "password"
            raise TransportError(f"SFTP login as {self.user}@{self.host} with {how} was refused; check the user name "
                                 "and credentials in the Monetate SFTP user settings") from None
        except BaseException:
            client.close()  # never leave a half-open transport thread behind
            raise
        self._client, self._sftp, self._real_root = client, sftp, None

    def _drop(self) -> None:
        for thing in (self._sftp, self._client):
            try:
                if thing is not None:
                    thing.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail any way it likes
                pass
        self._client = self._sftp = None
        self._real_root = None

    def _retry(self, what: str, op: Callable[[paramiko.SFTPClient], T], then: str, connecting: bool = False) -> T:
        """Run `op`, (re)connecting with exponential backoff and jitter on network and server faults that can heal.

        A refused login or host key, a permission problem, a missing file or a host name that does not
        resolve fails the same way every time, so it is raised at once. `then` ends the final message: what
        the failure means for this run. `connecting` is the background connection itself, which must not
        wait for itself. The schedule is tenacity's (retry.py): `backoff` x 2^n seconds plus up to one
        `backoff` of random jitter, so many loaders cut off at once do not come back in lockstep.
        """
        if not connecting:
            self._wait_for_open()

        def attempt() -> T:
            try:
                if self._sftp is None:
                    self._connect()
                assert self._sftp is not None
                return op(self._sftp)
            except PermissionError as exc:
                raise TransportError(f"SFTP {what} failed: {describe(exc)}; this is a configuration problem "
                                     "that retrying cannot fix") from None
            except socket.gaierror as exc:
                if not dns_is_temporary(exc):
                    raise TransportError(f"cannot resolve host '{self.host}': check --source ({exc.strerror}); "
                                         "nothing was loaded") from None
                self._drop()
                raise
            except (OSError, EOFError, paramiko.SSHException) as exc:
                if not isinstance(exc, (FileNotFoundError, *_FATAL)):
                    self._drop()
                raise

        def warn(exc: BaseException, delay: float, number: int) -> None:
            log.warning("SFTP %s failed: %s; retrying in %.3g s (%d/%d)", what, describe(exc), delay, number,
                        self.s.retries)

        try:
            return with_retries(attempt, _transient, self.s.retries, self.s.backoff, warn, self._closing)
        except RetriesExhausted as exc:
            tries = f"{self.s.retries} {'retry' if self.s.retries == 1 else 'retries'}"
            raise TransportError(f"SFTP {what} still failing after {tries}: {describe(exc.last)}; {then}") from None

    def _remote(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel}" if rel else self.root

    def _root(self, sftp: paramiko.SFTPClient) -> str:
        """The session_stream folder as the server resolves it (it may itself sit behind a symlink)."""
        if self._real_root is None:
            self._real_root = sftp.normalize(self.root)
        return self._real_root

    # -- Transport API ----------------------------------------------------------------------------
    def list_dir(self, rel: str) -> list[RemoteEntry] | None:
        remote = self._remote(rel)

        def op(sftp: paramiko.SFTPClient) -> list[RemoteEntry] | None:
            try:
                attrs = sftp.listdir_attr(remote)
            except PermissionError:
                raise TransportError(
                    f"the SFTP server refuses to let {self.user} list {remote} (permission denied); check that "
                    "--source points at the account's raw_data/session_stream folder and ask the vendor to give "
                    "the SFTP user access to it") from None
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    return None
                raise
            out: dict[str, RemoteEntry] = {}
            for attr in attrs:  # some servers repeat entries: one per name
                if attr.filename not in out and (entry := self._entry(sftp, remote, attr)) is not None:
                    out[attr.filename] = entry
            return list(out.values())

        return self._retry(f"listing of {remote}", op, "nothing was loaded; the next run tries again")

    def _entry(self, sftp: paramiko.SFTPClient, folder: str, attr: paramiko.SFTPAttributes) -> RemoteEntry | None:
        """One listed entry, completed with lstat where the listing left attributes out; None if it vanished."""
        path = f"{folder.rstrip('/')}/{attr.filename}"
        mode, size, mtime = attr.st_mode, attr.st_size, attr.st_mtime
        if mode is not None and stat.S_ISDIR(mode):
            return RemoteEntry(attr.filename, size, None if mtime is None else float(mtime), True)
        if mode is None or size is None or mtime is None:
            try:
                more = sftp.lstat(path)  # lstat: a symlink must be seen as one, not silently followed
            except FileNotFoundError:
                return None
            except OSError as exc:
                if not refused_by_server(exc):
                    raise
                more = paramiko.SFTPAttributes()  # not allowed to look: the download will say so
            mode = more.st_mode if mode is None else mode
            size = more.st_size if size is None else size
            mtime = more.st_mtime if mtime is None else mtime
        entry = RemoteEntry(attr.filename, size, None if mtime is None else float(mtime),
                            # no type even from stat: only folders we need have no .json.gz suffix
                            stat.S_ISDIR(mode) if mode is not None else not attr.filename.endswith(".json.gz"))
        if mode is not None and stat.S_ISLNK(mode):
            return self._follow(sftp, path, entry)
        return entry

    def _follow(self, sftp: paramiko.SFTPClient, path: str, link: RemoteEntry) -> RemoteEntry:
        """A symlink: its target's attributes when it is a regular file inside the root, else a problem."""

        def refused(problem: str) -> RemoteEntry:
            return RemoteEntry(link.name, link.size, link.mtime, False, problem)

        target = _answer(lambda: sftp.normalize(path))
        if isinstance(target, FileNotFoundError):
            return refused(f"symlink to {self._readlink(sftp, path)}, which does not exist; not followed")
        if isinstance(target, OSError):
            return refused(f"symlink the server cannot resolve ({describe(target)}); not followed")
        if not inside(target, self._root(sftp)):
            return refused(f"symlink to {target}, outside the account folder; not followed")
        st = _answer(lambda: sftp.stat(path))
        if isinstance(st, FileNotFoundError):
            return refused(f"symlink to {target}, which does not exist; not followed")
        if isinstance(st, OSError):
            return RemoteEntry(link.name, None, None, False)  # not allowed to look: the download will say so
        return followed_entry(link.name, target, st.st_mode, st.st_size, st.st_mtime, refused)

    @staticmethod
    def _readlink(sftp: paramiko.SFTPClient, path: str) -> str:
        try:
            return sftp.readlink(path) or "an unknown target"
        except OSError:
            return "an unknown target"

    def fetch(self, rel: str, size: int | None, spool: Path) -> Path:
        # the local name is ours, never the server's: a hostile name cannot escape the spool folder
        local = spool / (hashlib.sha1(rel.encode()).hexdigest() + ".json.gz")
        remote = self._remote(rel)

        def op(sftp: paramiko.SFTPClient) -> Path:
            with local.open("wb") as out:
                try:
                    _download(sftp, remote, out, size)
                except PermissionError:
                    raise FileUnreadable(rel) from None
            got = local.stat().st_size
            if size is not None and got != size:
                now = sftp.stat(remote).st_size
                if now != size:
                    raise FileChanged(rel, size, got if now is None else now)
                raise OSError(f"download of {rel} ended after {got:,} of {size:,} bytes")
            return local

        try:
            return self._retry(f"download of {rel}", op,
                               "nothing from the failed file was loaded, the next run picks it up")
        except BaseException:
            local.unlink(missing_ok=True)
            raise

    def release(self, local: Path) -> None:
        local.unlink(missing_ok=True)

    def close(self) -> None:
        self._closing.set()  # a run stopping early (SIGTERM, an error) does not wait out the connection's retries
        try:
            self._wait_for_open()
        except Exception:  # noqa: BLE001 - a failed connection has nothing to close; the run reported it
            pass
        self._drop()


def _download(sftp: paramiko.SFTPClient, remote: str, out: BinaryIO, size: int | None) -> None:
    """Copy a remote file into `out`, prefetching when the server reports sizes (it then stats it again)."""
    if size is not None:
        sftp.getfo(remote, out, prefetch=True)
        return
    with sftp.open(remote, "rb") as src:  # no size anywhere: prefetch has nothing to plan with
        shutil.copyfileobj(src, out, 1 << 15)


def _answer(request: Callable[[], T]) -> T | OSError:
    """One SFTP request; the server's "no" (missing, not allowed) comes back as the OSError, a broken link raises."""
    try:
        return request()
    except OSError as exc:
        if not refused_by_server(exc):
            raise
        return exc
