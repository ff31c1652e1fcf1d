"""What can go wrong reaching the files, as exceptions with messages a user can act on, and `describe`."""

from __future__ import annotations

import errno
import socket
import sys


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
    paramiko = sys.modules.get("paramiko")  # loaded only for SFTP sources; without it no paramiko error exists
    if paramiko is not None and isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
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
    if paramiko is not None and isinstance(exc, paramiko.SSHException) and "banner" in text.lower():
        return "no SSH server answered on that port (it did not send an SSH greeting)"
    return None


def refused_by_server(exc: BaseException) -> bool:
    """An SFTP status reply (the server answered "no"), as opposed to a network or connection failure.

    paramiko turns status codes into OSError with errno None, ENOENT or EACCES; a broken connection
    surfaces as EOFError, SSHException or a socket error instead.
    """
    return (isinstance(exc, OSError) and exc.errno in (None, errno.ENOENT, errno.EACCES)
            and not isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)))
