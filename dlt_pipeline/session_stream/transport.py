"""Where Session Stream files come from: the vendor's SFTP server, or a local folder with the same layout.

Both transports list day folders and hand back a local path to read, so everything after the download
(checks, parsing, loading, the ledger) is one code path. SFTP uses paramiko directly: dlt's own SFTP
filesystem accepts any host key and reads without prefetch (~25x slower over a real link).

Servers differ. SFTP v3 lets a server leave size, modification time and type out of a directory
listing, and some do; some repeat entries; symlinks are listed as links, not as what they point to.
`list_dir` therefore completes every entry with stat, keeps one entry per name, and follows a symlink
only to a regular file inside the account's folder (anything else reaches the planner with a
`problem`, so the loader can quarantine it without downloading).
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar
from urllib.parse import unquote, urlparse

import paramiko

from dlt_pipeline.session_stream.config import SftpCredentials
from dlt_pipeline.session_stream.errors import (
    FileChanged,
    FileUnreadable,
    HostKeyError,
    TransportError,
    describe,
    refused_by_server,
)
from dlt_pipeline.session_stream.ssh_keys import (
    KnownHosts,
    RefuseUnknownHost,
    VettedTransport,
    fingerprint,
    host_key_name,
    load_private_key,
)

log = logging.getLogger("session_stream")
T = TypeVar("T")
# paramiko logs every failed handshake as an ERROR traceback from its own thread. We retry and report each
# failure in one line ourselves, so its records go to a logger of ours that is silent unless debugging.
SSH_LOG = "session_stream.ssh"


@dataclass(frozen=True)
class RemoteEntry:
    """One directory entry, with what the listing left out filled in by stat.

    `size` and `mtime` are None only when the server does not report them even on stat. `problem` is a
    one-line reason when the entry is something we will not follow (a symlink leading outside the
    account folder, to nothing, or to a folder): the planner hands it on so the loader can quarantine it.
    """

    name: str
    size: int | None
    mtime: float | None
    is_dir: bool
    problem: str | None = None


class Transport(Protocol):
    """What the loader needs from a file source."""

    description: str

    def list_dir(self, rel: str) -> list[RemoteEntry] | None:
        """Entries of a folder relative to the session_stream root (one per name); None when it does not exist."""

    def fetch(self, rel: str, size: int | None, spool: Path) -> Path:
        """Return a local path holding the file's bytes (downloaded into `spool` when remote).

        Raises FileUnreadable at once when the file may not be read, FileChanged when its size moved.
        """

    def release(self, local: Path) -> None:
        """Forget a path returned by `fetch` (deletes downloaded copies)."""

    def close(self) -> None: ...


def _inside(path: str, root: str) -> bool:
    """Whether a server path is `root` or below it (plain string test on normalised absolute paths)."""
    base = root.rstrip("/")
    return path == root or path == base or path.startswith(base + "/")


# -- local folders -----------------------------------------------------------------------------------


class LocalTransport:
    """A folder on disk laid out like the vendor's `session_stream` folder (demo, tests, mounted shares)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        if not self.root.is_dir():
            raise TransportError(f"source folder {root} does not exist; pass the account's session_stream folder")
        self.description = str(self.root)

    def _path(self, rel: str) -> Path:
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise TransportError(f"refusing path outside the source folder: {rel!r}")
        return path

    def list_dir(self, rel: str) -> list[RemoteEntry] | None:
        folder = self._path(rel)
        try:
            with os.scandir(folder) as it:
                listed = list(it)
        except FileNotFoundError:
            return None
        except PermissionError:
            raise TransportError(f"cannot list {folder}: permission denied; give the loader's user read access "
                                 "to the source folder") from None
        out: dict[str, RemoteEntry] = {}
        for item in listed:
            if item.name not in out and (entry := self._entry(item)) is not None:
                out[item.name] = entry
        return list(out.values())

    def _entry(self, item: os.DirEntry[str]) -> RemoteEntry | None:
        """One folder entry; None when it vanished since the listing."""
        try:
            if item.is_symlink():
                return self._follow(item)
            st = item.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None
        return RemoteEntry(item.name, st.st_size, st.st_mtime, stat.S_ISDIR(st.st_mode))

    def _follow(self, item: os.DirEntry[str]) -> RemoteEntry:
        """A symlink: its target's attributes when it is a regular file inside the folder, else a problem."""
        link = item.stat(follow_symlinks=False)

        def refused(problem: str) -> RemoteEntry:
            return RemoteEntry(item.name, link.st_size, link.st_mtime, False, problem)

        target = os.path.realpath(item.path)  # never raises, even for loops and dangling links
        if not Path(target).is_relative_to(self.root):
            return refused(f"symlink to {target}, outside the account folder; not followed")
        try:
            st = os.stat(item.path)
        except FileNotFoundError:
            return refused(f"symlink to {target}, which does not exist; not followed")
        except PermissionError:
            return RemoteEntry(item.name, None, None, False)  # fetch says it is unreadable
        except OSError as exc:
            return refused(f"symlink that cannot be resolved ({describe(exc)}); not followed")
        return _followed(item.name, target, st.st_mode, st.st_size, st.st_mtime, refused)

    def fetch(self, rel: str, size: int | None, spool: Path) -> Path:
        path = self._path(rel)
        try:
            with path.open("rb"):
                pass
        except PermissionError:
            raise FileUnreadable(rel, "the loader's user may not read it (permission denied)") from None
        return path

    def release(self, local: Path) -> None:
        return None

    def close(self) -> None:
        return None


def _followed(name: str, target: str, mode: int | None, size: int | None, mtime: float | None,
              refused: Callable[[str], RemoteEntry]) -> RemoteEntry:
    """The entry for a symlink whose target exists inside the root: a regular file is followed, nothing else."""
    if mode is not None and stat.S_ISDIR(mode):
        return refused(f"symlink to the folder {target}; not followed")
    if mode is not None and not stat.S_ISREG(mode):
        return refused(f"symlink to {target}, which is not a regular file; not followed")
    return RemoteEntry(name, size, None if mtime is None else float(mtime), False)


# -- host keys ---------------------------------------------------------------------------------------


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


_FATAL = (paramiko.AuthenticationException, paramiko.BadHostKeyException)


class SftpTransport:
    """paramiko SFTP with verified host keys, one reused connection, prefetching reads and retries.

    The first connection is retried like every later one (a server restarting during a cron run is the
    same fault either way); a refused login or host key is not, because it cannot heal by itself.
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
        self._retry(f"connection to {self.host}:{self.port}", lambda sftp: None,
                    "check the host and port in --source, the network, and that the server is up; nothing was loaded")

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
                f"HOST KEY CHANGED for {exc.hostname}: the server presented {fingerprint(exc.key)} but known_hosts "
                f"has {fingerprint(exc.expected_key)}. This can be an attack; refusing to connect. If the vendor "
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

    def _retry(self, what: str, op: Callable[[paramiko.SFTPClient], T], then: str) -> T:
        """Run `op`, (re)connecting with exponential backoff on network and server faults that can heal.

        A refused login or host key, a permission problem or a missing file fails the same way every time,
        so it is raised at once. `then` ends the final message: what the failure means for this run.
        """
        last: BaseException | None = None
        for attempt in range(self.s.retries + 1):
            try:
                if self._sftp is None:
                    self._connect()
                assert self._sftp is not None
                return op(self._sftp)
            except (TransportError, FileNotFoundError, *_FATAL):
                raise
            except PermissionError as exc:
                raise TransportError(f"SFTP {what} failed: {describe(exc)}; this is a configuration problem "
                                     "that retrying cannot fix") from None
            except (OSError, EOFError, paramiko.SSHException) as exc:
                last = exc
                self._drop()
                if attempt < self.s.retries:
                    delay = self.s.backoff * (2**attempt)
                    log.warning("SFTP %s failed: %s; retrying in %.3g s (%d/%d)", what, describe(exc), delay,
                                attempt + 1, self.s.retries)
                    time.sleep(delay)
        assert last is not None
        tries = f"{self.s.retries} {'retry' if self.s.retries == 1 else 'retries'}"
        raise TransportError(f"SFTP {what} still failing after {tries}: {describe(last)}; {then}") from None

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
        if not _inside(target, self._root(sftp)):
            return refused(f"symlink to {target}, outside the account folder; not followed")
        st = _answer(lambda: sftp.stat(path))
        if isinstance(st, FileNotFoundError):
            return refused(f"symlink to {target}, which does not exist; not followed")
        if isinstance(st, OSError):
            return RemoteEntry(link.name, None, None, False)  # not allowed to look: the download will say so
        return _followed(link.name, target, st.st_mode, st.st_size, st.st_mtime, refused)

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


def open_transport(credentials: SftpCredentials) -> Transport:
    """LocalTransport for a folder, SftpTransport for an sftp:// URL (connects at once, with retries)."""
    url = credentials.url
    if not url:
        raise TransportError("no source: pass --source sftp://USER@HOST/ACCOUNT/raw_data/session_stream "
                             "(or set source under [session_stream] in .dlt/config.toml)")
    if not url.startswith("sftp://"):
        return LocalTransport(Path(url).expanduser())
    return SftpTransport(credentials)

