"""Where Session Stream files come from: the vendor's SFTP server, or a local folder with the same layout.

Both transports list day folders and hand back a local path to read, so everything after the download
(checks, parsing, loading, the ledger) is one code path. SFTP uses paramiko directly (sftp_transport.py): dlt's own SFTP
filesystem accepts any host key and reads without prefetch (~25x slower over a real link).

Servers differ. SFTP v3 lets a server leave size, modification time and type out of a directory
listing, and some do; some repeat entries; symlinks are listed as links, not as what they point to.
`list_dir` therefore completes every entry with stat, keeps one entry per name, and follows a symlink
only to a regular file inside the account's folder (anything else reaches the planner with a
`problem`, so the loader can quarantine it without downloading).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from dlt_pipeline.session_stream.config import SftpCredentials
from dlt_pipeline.session_stream.errors import (  # noqa: F401 - re-exported: callers import them from here
    FileChanged,
    FileUnreadable,
    HostKeyError,
    TransportError,
    describe,
    refused_by_server,
)
from dlt_pipeline.session_stream.transport_base import RemoteEntry, Transport, followed_entry

log = logging.getLogger("session_stream")

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
        return followed_entry(item.name, target, st.st_mode, st.st_size, st.st_mtime, refused)

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


def open_transport(credentials: SftpCredentials) -> Transport:
    """LocalTransport for a folder or file:// URL, SftpTransport for sftp:// (connects in the background, with
    retries; the first request waits for it), FsspecTransport for any other URL (an archive in s3://, gs://, ...)."""
    url = credentials.url
    if not url:
        raise TransportError("no source: pass --source sftp://USER@HOST/ACCOUNT/raw_data/session_stream "
                             "(or set source under [session_stream] in .dlt/config.toml)")
    if url.startswith("file://"):
        return LocalTransport(Path(unquote(urlparse(url).path)))
    if "://" in url and not url.startswith("sftp://"):
        from dlt_pipeline.session_stream.fsspec_transport import FsspecTransport

        return FsspecTransport(url)
    if not url.startswith("sftp://"):
        return LocalTransport(Path(url).expanduser())
    from dlt_pipeline.session_stream.sftp_transport import SftpTransport  # paramiko only for SFTP sources

    return SftpTransport(credentials)


_LAZY = {"SftpTransport": "sftp_transport", "KnownHosts": "ssh_keys"}
"""Names this module offers without importing paramiko until they are used (PEP 562)."""


def __getattr__(name: str) -> Any:  # noqa: ANN401
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"dlt_pipeline.session_stream.{_LAZY[name]}"), name)

