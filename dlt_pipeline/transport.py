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

import base64
import errno
import functools
import hashlib
import hmac
import logging
import os
import re
import shutil
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar
from urllib.parse import unquote, urlparse

import paramiko
from paramiko.hostkeys import HostKeyEntry
from paramiko.ssh_exception import NoValidConnectionsError

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


class TransportError(Exception):
    """A failure the user must act on; the message says what happened and what to do."""


class FileUnreadable(TransportError):
    """The server lists the file but will not let us read it (permission denied).

    Not a network fault: it fails the same way on every attempt, so it is never retried within a run.
    The loader records it and tries again on later runs; `path` is the file, `reason` the short why.
    """

    def __init__(self, rel: str, reason: str = "the server refuses to let us read it (permission denied)") -> None:
        self.path = rel
        self.reason = f"{reason}; ask the vendor to fix its permissions"
        super().__init__(f"{rel}: {self.reason}. It is skipped and tried again on later runs")


class FileChanged(TransportError):
    """The file grew or shrank while we read it: the vendor is still writing it, try next run."""

    def __init__(self, rel: str, before: int, after: int) -> None:
        super().__init__(f"{rel} changed size while downloading ({before:,} -> {after:,} bytes); "
                         "it is still being written and will be loaded by the next run")


class HostKeyError(TransportError):
    """The server's host key is unknown, changed or revoked: we refuse to talk to it."""


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


def describe(exc: BaseException) -> str:
    """One line saying what an exception means: plain words for common network faults, then type and message.

    Logging the exception alone printed `failed ()` for a timeout, because str(TimeoutError()) is empty.
    """
    text = " ".join(str(exc).split())
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    plain = _plain_words(exc, text)
    return f"{plain} ({detail})" if plain else detail


def _plain_words(exc: BaseException, text: str) -> str | None:
    """What a user should read for the faults a scheduled loader meets most; None for anything else."""
    if isinstance(exc, socket.gaierror):
        return "DNS failure: the host name could not be resolved"
    if isinstance(exc, NoValidConnectionsError):
        codes = {getattr(e, "errno", None) for e in exc.errors.values()}
        if codes == {errno.ECONNREFUSED}:
            return "connection refused: nothing accepts connections on that host and port"
        return "host unreachable: no route to the server"
    if isinstance(exc, TimeoutError):
        return "timed out: the server did not answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: nothing accepts connections on that host and port"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "the connection was cut"
    if isinstance(exc, EOFError):
        return "the server closed the connection"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, paramiko.SSHException) and "banner" in text.lower():
        return "no SSH server answered on that port (it did not send an SSH greeting)"
    return None


def _refused_by_server(exc: BaseException) -> bool:
    """An SFTP status reply (the server answered "no"), as opposed to a network or connection failure.

    paramiko turns status codes into OSError with errno None, ENOENT or EACCES; a broken connection
    surfaces as EOFError, SSHException or a socket error instead.
    """
    return (isinstance(exc, OSError) and exc.errno in (None, errno.ENOENT, errno.EACCES)
            and not isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)))


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


def fingerprint(key: paramiko.PKey) -> str:
    """SHA256 fingerprint in the form OpenSSH prints (`ssh-keygen -lf`)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def host_key_name(host: str, port: int) -> str:
    """The name known_hosts lists a server under: `host` on port 22, `[host]:port` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True)
class KnownHostLine:
    """One usable known_hosts line: its host patterns, the key, and its marker (None or "@revoked")."""

    patterns: tuple[str, ...]
    key: paramiko.PKey
    lineno: int
    marker: str | None = None


def _glob(pattern: str, name: str) -> bool:
    """OpenSSH host pattern match: `*` and `?` are wildcards, everything else (even `[`) is literal."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, name) is not None


def _host_matches(patterns: tuple[str, ...], name: str) -> bool:
    """Whether a known_hosts host field matches `name`: hashed names, wildcards and `!` negation as OpenSSH."""
    matched = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw[1:] if negated else raw
        if pattern.startswith("|1|"):
            try:
                hit = hmac.compare_digest(paramiko.HostKeys.hash_host(name, pattern), pattern)
            except Exception:  # noqa: BLE001 - a damaged hash matches nothing (it was warned about at load)
                hit = False
        else:
            hit = _glob(pattern.lower(), name.lower())
        if hit and negated:
            return False
        matched = matched or hit
    return matched


@dataclass
class KnownHosts:
    """A known_hosts file read line by line the way OpenSSH reads it.

    paramiko's own loader crashes on the `@cert-authority` and `@revoked` marker lines that many company
    machines have. Certificate-authority lines are ignored (paramiko cannot verify host certificates);
    revoked keys are refused before anything else is checked; damaged lines are skipped with a warning.
    """

    path: str
    lines: list[KnownHostLine] = field(default_factory=list)
    ca_lines: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str) -> KnownHosts:
        """Parse `path`; HostKeyError when it cannot be read at all."""
        try:
            text = Path(path).read_text(errors="replace")
        except OSError as exc:
            raise HostKeyError(f"cannot read known_hosts file {path}: {describe(exc)}") from None
        known = cls(path)
        for lineno, raw in enumerate(text.splitlines(), 1):
            known._add(raw.strip(), lineno)
        if known.ca_lines:
            log.info("known_hosts %s: @cert-authority line(s) %s ignored: host certificates cannot be verified by "
                     "this loader (paramiko), so the server must be listed with its own key or pinned with "
                     "--trust-host-key", path, ", ".join(str(n) for _, n in known.ca_lines))
        return known

    def _add(self, line: str, lineno: int) -> None:
        """Take one line: a comment, a marker line, a host key, or something damaged (warned and skipped)."""
        if not line or line.startswith("#"):
            return
        fields = line.split()
        marker = fields[0] if fields[0].startswith("@") else None
        if marker is not None:
            fields = fields[1:]
            if marker not in ("@revoked", "@cert-authority"):
                self._skip(lineno, f"unknown marker {marker}")
                return
        if len(fields) < 3:
            self._skip(lineno, "expected host names, key type and key")
            return
        patterns = tuple(p for p in fields[0].split(",") if p)
        if marker == "@cert-authority":
            self.ca_lines.append((patterns, lineno))
            return
        try:
            entry = HostKeyEntry.from_line(" ".join(fields[:3]), lineno)
        except Exception as exc:  # noqa: BLE001 - paramiko raises many types for damaged keys
            self._skip(lineno, f"damaged key ({describe(exc)})")
            return
        if entry is None:  # a key type paramiko does not know: it can never be presented to us either
            log.debug("known_hosts %s line %d: key type %s not supported; ignored", self.path, lineno, fields[1])
            return
        bad = [p for p in patterns if p.lstrip("!").startswith("|1|") and not _valid_hash(p.lstrip("!"))]
        if bad:
            self._skip(lineno, "damaged hashed host name")
            return
        self.lines.append(KnownHostLine(patterns, entry.key, lineno, marker))

    def _skip(self, lineno: int, why: str) -> None:
        log.warning("known_hosts file %s line %d is not a valid entry (%s); skipped", self.path, lineno, why)

    def keys_for(self, name: str) -> list[paramiko.PKey]:
        """Trusted keys for a host name (revoked ones excluded), in file order."""
        return [e.key for e in self.lines if e.marker is None and _host_matches(e.patterns, name)]

    def revoked_line(self, name: str, key: paramiko.PKey) -> int | None:
        """Line number of an `@revoked` entry for this key and host, if any."""
        blob = key.asbytes()
        for e in self.lines:
            if e.marker == "@revoked" and e.key.asbytes() == blob and _host_matches(e.patterns, name):
                return e.lineno
        return None

    def ca_lines_for(self, name: str) -> list[int]:
        """Lines that vouch for this host through a certificate authority (which we cannot check)."""
        return [n for patterns, n in self.ca_lines if _host_matches(patterns, name)]


def _valid_hash(name: str) -> bool:
    """A `|1|salt|hash` host name whose salt and hash are base64 (else it can never match)."""
    parts = name.split("|")
    try:
        return len(parts) == 4 and all(base64.b64decode(p, validate=True) for p in parts[2:])
    except ValueError:
        return False


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    """Refuse unknown hosts, unless the user pinned this exact key's fingerprint."""

    def __init__(self, trusted: str | None, known_hosts: str, ca_lines: list[int] | None = None) -> None:
        self.trusted = trusted
        self.known_hosts = known_hosts
        self.ca_lines = ca_lines or []

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        fp = fingerprint(key)
        if self.trusted and fp == self.trusted:
            return
        if self.trusted:
            raise HostKeyError(
                f"host key of {hostname} is {fp}, not the pinned {self.trusted}; refusing to connect. "
                "Check the fingerprint with the vendor before changing --trust-host-key.")
        ca = ""
        if self.ca_lines:
            lines = ", ".join(str(n) for n in self.ca_lines)
            ca = (f" (known_hosts line {lines} trusts a certificate authority for this host, but this loader "
                  "cannot verify host certificates)")
        raise HostKeyError(
            f"host {hostname} is not in known_hosts ({self.known_hosts}){ca}; its {key.get_name()} key is {fp}. "
            f"If the vendor confirms that fingerprint, add the host with `ssh-keyscan` to {self.known_hosts} "
            f"or pass --trust-host-key {fp}.")


class _VettedTransport(paramiko.Transport):
    """A paramiko Transport that refuses a host key known_hosts marks `@revoked`, right after key exchange.

    paramiko compares the server's key with known_hosts only inside `SSHClient.connect`, and never asks the
    missing-host-key policy about a host it knows. Checking here runs before any authentication, whatever
    known_hosts or --trust-host-key says about the host, so a revoked key never sees our credentials.
    """

    def __init__(self, sock: Any, *, known: KnownHosts, host_name: str, **kwargs: Any) -> None:
        super().__init__(sock, **kwargs)
        self._known = known
        self._host_name = host_name

    def start_client(self, event: Any = None, timeout: float | None = None) -> None:
        super().start_client(event=event, timeout=timeout)
        if event is not None:
            return  # asynchronous start: SSHClient.connect never uses it
        key = self.get_remote_server_key()
        line = self._known.revoked_line(self._host_name, key)
        if line is not None:
            raise HostKeyError(
                f"the host key of {self._host_name} ({key.get_name()} {fingerprint(key)}) is marked @revoked in "
                f"{self._known.path} line {line}; refusing to connect (the login was never sent). A revoked key "
                "must not be trusted again: ask the vendor for the server's current key and its fingerprint.")


# -- SFTP --------------------------------------------------------------------------------------------


def load_private_key(path: str, passphrase: str | None) -> paramiko.PKey:
    """Read an OpenSSH/PEM private key, encrypted or not; errors never echo the passphrase.

    paramiko 5's `PKey.from_path(path, password)` wants the passphrase as bytes and raises TypeError /
    ValueError (from `cryptography`) rather than its own exceptions for a missing or wrong passphrase.
    """
    secret = passphrase.encode() if passphrase else None
    encrypted_hint = ("set its passphrase as SESSION_STREAM__PRIVATE_KEY_PASSPHRASE or private_key_passphrase "
                      "in .dlt/secrets.toml")
    try:
        return paramiko.PKey.from_path(path, secret)
    except FileNotFoundError:
        raise TransportError(f"private key file {path} does not exist") from None
    except paramiko.PasswordRequiredException:
        raise TransportError(f"private key {path} is encrypted: {encrypted_hint}") from None
    except TypeError as exc:
        if secret is not None and "not encrypted" in str(exc):
            return load_private_key(path, None)  # a passphrase is configured but this key has none
        if "password" in str(exc).lower():
            raise TransportError(f"private key {path} is encrypted: {encrypted_hint}") from None
        raise TransportError(f"cannot read private key {path}: {type(exc).__name__}") from None
    except (ValueError, paramiko.SSHException) as exc:
        if secret is not None:
            raise TransportError(f"cannot read private key {path}: wrong passphrase, or not an OpenSSH/PEM "
                                 "private key") from None
        raise TransportError(f"cannot read private key {path}: {describe(exc)}") from None
    except OSError as exc:  # permission denied, a folder, ...: would fail the same way on every retry
        raise TransportError(f"cannot read private key {path}: {describe(exc)}") from None


@dataclass
class SftpSettings:
    """Everything needed to reach the vendor's server; secrets arrive from dlt's config providers only."""

    host: str
    port: int
    user: str
    root: str
    private_key: str | None = None
    password: str | None = None
    passphrase: str | None = None
    known_hosts: str | None = None
    trust_host_key: str | None = None
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0


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

    def __init__(self, settings: SftpSettings) -> None:
        self.s = settings
        self.description = f"sftp://{settings.user}@{settings.host}:{settings.port}{settings.root}"
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._known: KnownHosts | None = None
        self._pkey: paramiko.PKey | None = None
        self._real_root: str | None = None
        self._retry(f"connection to {settings.host}:{settings.port}", lambda sftp: None,
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
            self._pkey = load_private_key(s.private_key, s.passphrase)
        if self._pkey is None and not s.password:
            raise TransportError("no SFTP credentials: pass --private-key PATH, or set SESSION_STREAM__SFTP_PASSWORD "
                                 "(or sftp_password in .dlt/secrets.toml)")
        return self._pkey

    def _connect(self) -> None:
        s = self.s
        known = self._known_hosts()
        pkey = self._credentials()
        name = host_key_name(s.host, s.port)
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
        client.set_missing_host_key_policy(_RefuseUnknown(s.trust_host_key, known.path, known.ca_lines_for(name)))
        try:
            client.connect(
                s.host, port=s.port, username=s.user, pkey=pkey, password=s.password if pkey is None else None,
                timeout=s.timeout, banner_timeout=s.timeout, auth_timeout=s.timeout, channel_timeout=s.timeout,
                allow_agent=False, look_for_keys=False,  # paramiko 5 has no gss_* arguments
                transport_factory=functools.partial(_VettedTransport, known=known, host_name=name),
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
            how = f"key {s.private_key}" if pkey else "password"
            raise TransportError(f"SFTP login as {s.user}@{s.host} with {how} was refused; check the user name and "
                                 "credentials in the Monetate SFTP user settings") from None
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
        return f"{self.s.root.rstrip('/')}/{rel}" if rel else self.s.root

    def _root(self, sftp: paramiko.SFTPClient) -> str:
        """The session_stream folder as the server resolves it (it may itself sit behind a symlink)."""
        if self._real_root is None:
            self._real_root = sftp.normalize(self.s.root)
        return self._real_root

    # -- Transport API ----------------------------------------------------------------------------
    def list_dir(self, rel: str) -> list[RemoteEntry] | None:
        remote = self._remote(rel)

        def op(sftp: paramiko.SFTPClient) -> list[RemoteEntry] | None:
            try:
                attrs = sftp.listdir_attr(remote)
            except PermissionError:
                raise TransportError(
                    f"the SFTP server refuses to let {self.s.user} list {remote} (permission denied); check that "
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
                if not _refused_by_server(exc):
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

        try:
            target = sftp.normalize(path)
        except FileNotFoundError:
            return refused(f"symlink to {self._readlink(sftp, path)}, which does not exist; not followed")
        except OSError as exc:
            if not _refused_by_server(exc):
                raise
            return refused(f"symlink the server cannot resolve ({describe(exc)}); not followed")
        if not _inside(target, self._root(sftp)):
            return refused(f"symlink to {target}, outside the account folder; not followed")
        try:
            st = sftp.stat(path)
        except FileNotFoundError:
            return refused(f"symlink to {target}, which does not exist; not followed")
        except OSError as exc:
            if not _refused_by_server(exc):
                raise
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
