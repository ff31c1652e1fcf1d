"""Where Session Stream files come from: the vendor's SFTP server, or a local folder with the same layout.

Both transports list day folders and hand back a local path to read, so everything after the download
(checks, parsing, loading, the ledger) is one code path. SFTP uses paramiko directly: dlt's own SFTP
filesystem accepts any host key and reads without prefetch (~25x slower over a real link).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import logging
import os
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import unquote, urlparse

import paramiko

log = logging.getLogger("session_stream")
T = TypeVar("T")


@dataclass(frozen=True)
class RemoteEntry:
    """One directory entry as the server reports it."""

    name: str
    size: int
    mtime: float
    is_dir: bool


class TransportError(Exception):
    """A failure the user must act on; the message says what happened and what to do."""


class Transport(Protocol):
    """What the loader needs from a file source."""

    description: str

    def list_dir(self, rel: str) -> list[RemoteEntry] | None:
        """Entries of a folder relative to the session_stream root; None when the folder does not exist."""

    def fetch(self, rel: str, size: int, spool: Path) -> Path:
        """Return a local path holding the file's bytes (downloaded into `spool` when remote)."""

    def release(self, local: Path) -> None:
        """Forget a path returned by `fetch` (deletes downloaded copies)."""

    def close(self) -> None: ...


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
        try:
            with os.scandir(self._path(rel)) as it:
                out = []
                for entry in it:
                    st = entry.stat()
                    out.append(RemoteEntry(entry.name, st.st_size, st.st_mtime, entry.is_dir()))
                return out
        except FileNotFoundError:
            return None

    def fetch(self, rel: str, size: int, spool: Path) -> Path:
        return self._path(rel)

    def release(self, local: Path) -> None:
        return None

    def close(self) -> None:
        return None


def fingerprint(key: paramiko.PKey) -> str:
    """SHA256 fingerprint in the form OpenSSH prints (`ssh-keygen -lf`)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class HostKeyError(TransportError):
    """The server's host key is unknown or changed: we refuse to talk to it."""


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    """Refuse unknown hosts, unless the user pinned this exact key's fingerprint."""

    def __init__(self, trusted: str | None, known_hosts: str) -> None:
        self.trusted = trusted
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        fp = fingerprint(key)
        if self.trusted and fp == self.trusted:
            return
        if self.trusted:
            raise HostKeyError(
                f"host key of {hostname} is {fp}, not the pinned {self.trusted}; refusing to connect. "
                "Check the fingerprint with the vendor before changing --trust-host-key.")
        raise HostKeyError(
            f"host {hostname} is not in known_hosts ({self.known_hosts}); its {key.get_name()} key is {fp}. "
            f"If the vendor confirms that fingerprint, add the host with `ssh-keyscan` to {self.known_hosts} "
            f"or pass --trust-host-key {fp}.")


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
        raise TransportError(f"cannot read private key {path}: {exc}") from None


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


_FATAL = (paramiko.AuthenticationException, paramiko.BadHostKeyException, HostKeyError)


class SftpTransport:
    """paramiko SFTP with verified host keys, one reused connection, prefetching reads and retries."""

    def __init__(self, settings: SftpSettings) -> None:
        self.s = settings
        self.description = f"sftp://{settings.user}@{settings.host}:{settings.port}{settings.root}"
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._connect()

    # -- connection -------------------------------------------------------------------------------
    def _connect(self) -> None:
        s = self.s
        client = paramiko.SSHClient()
        known = s.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        if not s.trust_host_key:
            if not os.path.exists(known):
                raise HostKeyError(
                    f"known_hosts file {known} does not exist, so the server's identity cannot be checked. "
                    "Pass --known-hosts PATH, or --trust-host-key SHA256:... with the fingerprint from the vendor.")
            client.load_host_keys(known)
        client.set_missing_host_key_policy(_RefuseUnknown(s.trust_host_key, known))
        pkey = None
        if s.private_key:
            pkey = load_private_key(s.private_key, s.passphrase)
        if pkey is None and not s.password:
            raise TransportError("no SFTP credentials: pass --private-key PATH, or set SESSION_STREAM__SFTP_PASSWORD "
                                 "(or sftp_password in .dlt/secrets.toml)")
        try:
            client.connect(
                s.host, port=s.port, username=s.user, pkey=pkey, password=s.password if pkey is None else None,
                timeout=s.timeout, banner_timeout=s.timeout, auth_timeout=s.timeout, channel_timeout=s.timeout,
                allow_agent=False, look_for_keys=False,  # paramiko 5 has no gss_* arguments
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(
                f"HOST KEY CHANGED for {exc.hostname}: the server presented {fingerprint(exc.key)} but known_hosts "
                f"has {fingerprint(exc.expected_key)}. This can be an attack; refusing to connect. If the vendor "
                f"confirms the new key, replace the entry in {known}.") from None
        except paramiko.AuthenticationException:
            client.close()
            how = f"key {s.private_key}" if pkey else "password"
            raise TransportError(f"SFTP login as {s.user}@{s.host} with {how} was refused; check the user name and "
                                 "credentials in the Monetate SFTP user settings") from None
        except HostKeyError:
            client.close()
            raise
        transport = client.get_transport()
        if transport is not None and isinstance(transport.sock, socket.socket):
            # small SFTP requests otherwise wait on Nagle + delayed ACKs: ~18 ms per file even on loopback
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(s.timeout)
        self._client, self._sftp = client, sftp

    def _drop(self) -> None:
        for thing in (self._sftp, self._client):
            try:
                if thing is not None:
                    thing.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail any way it likes
                pass
        self._client = self._sftp = None

    def _retry(self, what: str, op: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run `op`, reconnecting with exponential backoff on transient network and server errors."""
        last: BaseException | None = None
        for attempt in range(self.s.retries + 1):
            try:
                if self._sftp is None:
                    self._connect()
                assert self._sftp is not None
                return op(self._sftp)
            except _FATAL:
                raise
            except TransportError:
                raise
            except FileNotFoundError:
                raise
            except (TimeoutError, OSError, EOFError, paramiko.SSHException) as exc:
                last = exc
                self._drop()
                if attempt < self.s.retries:
                    delay = self.s.backoff * (2**attempt)
                    log.warning("SFTP %s failed (%s); retrying in %.0f s (%d/%d)", what, exc or type(exc).__name__,
                                delay, attempt + 1, self.s.retries)
                    time.sleep(delay)
        raise TransportError(f"SFTP {what} still failing after {self.s.retries} retries: "
                             f"{last or type(last).__name__}; nothing from the failed file was loaded, the next run "
                             "picks it up") from None

    def _remote(self, rel: str) -> str:
        return f"{self.s.root.rstrip('/')}/{rel}" if rel else self.s.root

    # -- Transport API ----------------------------------------------------------------------------
    def list_dir(self, rel: str) -> list[RemoteEntry] | None:
        def op(sftp: paramiko.SFTPClient) -> list[RemoteEntry] | None:
            try:
                attrs = sftp.listdir_attr(self._remote(rel))
            except FileNotFoundError:
                return None
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    return None
                raise
            return [RemoteEntry(a.filename, a.st_size or 0, float(a.st_mtime or 0), stat.S_ISDIR(a.st_mode or 0))
                    for a in attrs]

        return self._retry(f"listing of {self._remote(rel)}", op)

    def fetch(self, rel: str, size: int, spool: Path) -> Path:
        # the local name is ours, never the server's: a hostile name cannot escape the spool folder
        local = spool / (hashlib.sha1(rel.encode()).hexdigest() + ".json.gz")

        def op(sftp: paramiko.SFTPClient) -> Path:
            with local.open("wb") as out:
                sftp.getfo(self._remote(rel), out, prefetch=True)
            got = local.stat().st_size
            if got != size:
                now = sftp.stat(self._remote(rel)).st_size
                if now != size:
                    raise FileChanged(rel, size, now or 0)
                raise OSError(f"download of {rel} ended after {got:,} of {size:,} bytes")
            return local

        try:
            return self._retry(f"download of {rel}", op)
        except BaseException:
            local.unlink(missing_ok=True)
            raise

    def release(self, local: Path) -> None:
        local.unlink(missing_ok=True)

    def close(self) -> None:
        self._drop()


class FileChanged(TransportError):
    """The file grew or shrank while we read it: the vendor is still writing it, try next run."""

    def __init__(self, rel: str, before: int, after: int) -> None:
        super().__init__(f"{rel} changed size while downloading ({before:,} -> {after:,} bytes); "
                         "it is still being written and will be loaded by the next run")
