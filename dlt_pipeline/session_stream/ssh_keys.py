"""Whom we talk to and as whom: known_hosts read like OpenSSH does, host-key policy, and private keys.

known_hosts lines with `@cert-authority` are skipped (paramiko cannot verify host certificates), a
`@revoked` key is refused before any login is sent even if also listed or pinned, hashed names and
patterns match like OpenSSH, and damaged lines are skipped with a warning naming the line.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlt_pipeline.session_stream.errors import HostKeyError, TransportError, describe
from dlt_pipeline.session_stream.paramiko_import import paramiko

log = logging.getLogger("session_stream")


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
            entry = paramiko.hostkeys.HostKeyEntry.from_line(" ".join(fields[:3]), lineno)
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


class RefuseUnknownHost(paramiko.MissingHostKeyPolicy):
    """Refuse unknown hosts, unless the user pinned this exact key's fingerprint."""

    def __init__(self, trusted: str | None, known_hosts: str, ca_lines: list[int] | None = None) -> None:
        self.trusted = trusted
        self.known_hosts = known_hosts
        self.ca_lines = ca_lines or []

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        fp = key.fingerprint
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


class VettedTransport(paramiko.Transport):
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
                f"the host key of {self._host_name} ({key.get_name()} {key.fingerprint}) is marked @revoked in "
                f"{self._known.path} line {line}; refusing to connect (the login was never sent). A revoked key "
                "must not be trusted again: ask the vendor for the server's current key and its fingerprint.")


# -- SFTP --------------------------------------------------------------------------------------------


def load_private_key(path: str, passphrase: str | None) -> paramiko.PKey:
    """Read an OpenSSH/PEM private key from a file or from its own text, encrypted or not.

    A key given as text (`-----BEGIN ... PRIVATE KEY-----`, e.g. from a secrets manager) goes through a
    private temporary file, deleted at once; messages then say "the private key text", never the text.
    """
    if path.lstrip().startswith("-----BEGIN"):
        fd, temp = tempfile.mkstemp(prefix="session-stream-key-")
        try:
            with os.fdopen(fd, "w") as fh:  # mkstemp's file is readable by this user only
                fh.write(path.strip() + "\n")
            try:
                return _load_key_file(temp, passphrase)
            except TransportError as exc:
                raise TransportError(str(exc).replace(temp, "given as text")) from None
        finally:
            os.unlink(temp)
    return _load_key_file(os.path.expanduser(path), passphrase)


def _load_key_file(path: str, passphrase: str | None) -> paramiko.PKey:
    """Read an OpenSSH/PEM private key file, encrypted or not; errors never echo the passphrase.

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
            return _load_key_file(path, None)  # a passphrase is configured but this key has none
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
