"""A third kind of source beside SFTP and local folders: any fsspec URL, mainly to replay the archive.

`--archive` keeps files in the vendor's layout (see archive.py), so `--source s3://bucket/ACCOUNT/raw_data/
session_stream` lists and loads them exactly like the vendor's server: same relative paths, so the ledger
recognises them and `--reload` replaces their rows. Listing and downloads use the filesystem dlt builds for
the URL, with credentials from `[session_stream.archive_storage]` (archive.open_filesystem).
"""

from __future__ import annotations

import hashlib
import posixpath
from datetime import datetime
from pathlib import Path
from typing import Any

from dlt_pipeline.session_stream.archive import open_filesystem
from dlt_pipeline.session_stream.errors import TransportError
from dlt_pipeline.session_stream.transport_base import RemoteEntry

MTIME_KEYS = ("mtime", "LastModified", "last_modified", "updated", "created")
"""Where fsspec implementations put a modification time (float seconds or a datetime), in order of preference."""


class FsspecTransport:
    """List and download from `url` through fsspec; paths are relative to the session_stream folder."""

    def __init__(self, url: str) -> None:
        self.fs, self.root = open_filesystem(url)
        self.description = url
        try:
            found = self.fs.isdir(self.root)
        except Exception as exc:  # noqa: BLE001 - the storage's own error, reported as one line
            raise TransportError(f"cannot reach the source {url}: {type(exc).__name__}: {exc}") from None
        if not found:
            raise TransportError(f"source {url} does not exist; pass the archive's ACCOUNT/raw_data/session_stream "
                                 "folder")

    def _path(self, rel: str) -> str:
        if rel.startswith("/") or ".." in rel.split("/"):
            raise TransportError(f"refusing path outside the source: {rel!r}")
        return posixpath.join(self.root, rel) if rel else self.root

    def list_dir(self, rel: str) -> list[RemoteEntry] | None:
        try:
            listed = self.fs.ls(self._path(rel), detail=True, refresh=True)
        except FileNotFoundError:
            return None
        except TypeError:  # implementations without a `refresh` argument
            listed = self.fs.ls(self._path(rel), detail=True)
        out: dict[str, RemoteEntry] = {}
        for info in listed:
            name = posixpath.basename(str(info["name"]).rstrip("/"))
            if name and name not in out:
                out[name] = RemoteEntry(name, info.get("size"), _mtime(info), info.get("type") == "directory")
        return list(out.values())

    def fetch(self, rel: str, size: int | None, spool: Path) -> Path:
        local = spool / (hashlib.sha1(rel.encode()).hexdigest() + ".json.gz")
        try:
            self.fs.get_file(self._path(rel), str(local))
        except BaseException:
            local.unlink(missing_ok=True)
            raise
        return local

    def release(self, local: Path) -> None:
        local.unlink(missing_ok=True)

    def close(self) -> None:
        return None


def _mtime(info: dict[str, Any]) -> float | None:
    """The entry's modification time as Unix seconds, whichever key and type the implementation uses."""
    for key in MTIME_KEYS:
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
    return None
