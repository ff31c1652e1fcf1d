"""Keep every loaded file byte for byte, in the vendor's own layout, so history outlives the 820-day retention.

`--archive DEST` (a folder or any fsspec URL: `file://`, `s3://`, `gs://`, `az://`, `memory://`) receives each
downloaded file as `DEST/ACCOUNT/raw_data/session_stream/YYYY/MM/DD/name`: the same tree as the server, so
`--source DEST/ACCOUNT/raw_data/session_stream` replays it. The filesystem and its credentials come from dlt's
filesystem support (`FilesystemConfiguration`, resolved under `[session_stream.archive_storage]`, e.g.
`SESSION_STREAM__ARCHIVE_STORAGE__CREDENTIALS__AWS_ACCESS_KEY_ID`, then dlt's usual fallbacks).

Two steps, because a file must be archived before its rows are committed, and only once it is known good:
`stage` (download thread) copies the bytes to a hidden `.NAME.RANDOM.part` object beside the final name while
hashing them; `commit` (main thread, after the whole file parsed, before any of its rows reach dlt) moves it
to the final name. A file quarantined for a truncated upload is therefore never archived in its broken form,
and its complete re-delivery is not mistaken for a conflict. An archived file is never overwritten: the same
bytes again are fine (a replay into the same archive). Different bytes are fine only when the archived copy is
the one the ledger says was loaded and the vendor re-delivered the file with other content: the earlier copy
then keeps its bytes under `NAME.superseded-SHA12` (never listed as a Session Stream file) and the new one
takes the name. Any other difference fails that file, which the loader records as unreadable and tries again
on later runs.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dlt_pipeline.exception_chain import first_line
from dlt_pipeline.session_stream.errors import TransportError

CHUNK = 1 << 20
ARCHIVE_SECTIONS = ("session_stream", "archive_storage")
"""dlt config sections for the archive's (and a replay source's) filesystem credentials."""
LAYOUT_TAIL = ("raw_data", "session_stream")
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "azure", "gdrive", "hf"}
"""Protocols whose uploads are atomic objects: no folders to create."""


class ArchiveError(Exception):
    """One file could not be archived; its rows are not loaded this run (recorded as unreadable, retried)."""

    def __init__(self, rel: str, reason: str) -> None:
        self.path = rel
        self.reason = reason
        super().__init__(f"{rel}: {reason}")


class ArchiveConfigError(TransportError):
    """The archive cannot be used at all (bad URL, no account in --source, missing credentials)."""


def account_prefix(source: str) -> str:
    """`ACCOUNT/raw_data/session_stream` from a source URL or folder that ends the vendor's way.

    The archive repeats the vendor's tree from the account folder down, so it must know the account.
    """
    path = urlparse(source).path if "://" in source else source
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if len(parts) < 3 or tuple(parts[-2:]) != LAYOUT_TAIL:
        raise ArchiveConfigError(
            f"--archive needs --source to end in ACCOUNT/raw_data/session_stream (the vendor's layout, which the "
            f"archive repeats); {source!r} does not")
    return "/".join(parts[-3:])


def open_filesystem(url: str) -> tuple[Any, str]:
    """An authenticated fsspec filesystem and the path inside it, the way dlt's filesystem destination gets one."""
    from dlt.common.configuration.resolve import resolve_configuration
    from dlt.common.storages.configuration import FilesystemConfiguration
    from dlt.common.storages.fsspec_filesystem import fsspec_from_config

    try:
        config = resolve_configuration(FilesystemConfiguration(bucket_url=url), sections=ARCHIVE_SECTIONS)
        fs, path = fsspec_from_config(config)
    except Exception as exc:  # noqa: BLE001 - missing extras and credentials raise many types; say which URL
        first = first_line(exc)
        raise ArchiveConfigError(f"cannot open {url}: {first}; check the URL and its credentials under "
                                 "[session_stream.archive_storage] in .dlt/secrets.toml") from None
    return fs, path.rstrip("/") or "/"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (the gzip as delivered): the checksum the ledger records."""
    with path.open("rb") as fh:
        return _sha256_of(fh)


def _sha256_of(fh: Any) -> str:
    """Hex sha256 of what an open binary file (local or fsspec) holds from here on, read in chunks."""
    digest = hashlib.sha256()
    while chunk := fh.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Staged:
    """A downloaded file's checksum and, with an archive, its bytes waiting under a temporary name."""

    rel: str
    sha256: str
    size: int
    tmp: str | None = None


@dataclass
class Archive:
    """Where files are kept: an fsspec filesystem, the archive root in it, and the account's prefix."""

    fs: Any
    root: str
    prefix: str
    url: str
    pending: set[str] = field(default_factory=set)

    @property
    def local(self) -> bool:
        return "file" in _protocols(self.fs)

    def final(self, rel: str) -> str:
        """The archive path of a file, `rel` being YYYY/MM/DD/name below session_stream."""
        return posixpath.join(self.root, self.prefix, rel)

    def stage(self, rel: str, local: Path) -> Staged:
        """Copy the downloaded file to a hidden temporary name beside its final one, hashing it on the way."""
        final = self.final(rel)
        folder, name = posixpath.split(final)
        tmp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.part")
        digest = hashlib.sha256()
        size = 0
        try:
            if not _protocols(self.fs) & OBJECT_STORES:
                self.fs.makedirs(folder, exist_ok=True)
            self.pending.add(tmp)
            with local.open("rb") as src, self.fs.open(tmp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                if self.local:
                    dst.flush()
                    os.fsync(dst.fileno())  # on disk before the rows are committed, not just in the page cache
        except Exception as exc:  # noqa: BLE001 - any storage fault fails this file only
            self.discard(tmp)
            raise ArchiveError(rel, f"could not be written to the archive {self.url} ({_one_line(exc)})") from None
        return Staged(rel, digest.hexdigest(), size, tmp)

    def commit(self, staged: Staged, replaces: str | None = None) -> None:
        """Give the staged bytes their final name, never replacing a different file already there.

        `replaces` is the sha256 the ledger recorded for the copy loaded before (a changed re-delivery): an
        archived copy with exactly those bytes is set aside (`superseded`), not refused.
        """
        if staged.tmp is None:
            return
        final = self.final(staged.rel)
        try:
            held = self._sha256(final) if self.fs.exists(final) else None
            if held == staged.sha256:
                self.discard(staged.tmp)
            else:
                if held is not None:
                    self._superseded_or_fail(staged, final, held, replaces)
                self._move(staged.tmp, final)
                self.pending.discard(staged.tmp)
            if self.fs.size(final) != staged.size:
                raise ArchiveError(staged.rel, f"the archived copy {final} does not have the downloaded size "
                                               f"({staged.size:,} bytes); check the archive storage")
        except ArchiveError:
            self.discard(staged.tmp)
            raise
        except FileExistsError:
            self.discard(staged.tmp)
            raise ArchiveError(staged.rel, f"{final} appeared in the archive while this run wrote it; the next run "
                                           "compares the two") from None
        except Exception as exc:  # noqa: BLE001 - any storage fault fails this file only
            self.discard(staged.tmp)
            raise ArchiveError(staged.rel, f"could not be moved into place in the archive {self.url} "
                                           f"({_one_line(exc)})") from None
        staged.tmp = None

    def _sha256(self, path: str) -> str:
        with self.fs.open(path, "rb") as fh:
            return _sha256_of(fh)

    def _superseded_or_fail(self, staged: Staged, final: str, held: str, replaces: str | None) -> None:
        """Set the archived copy aside if it is the one loaded before; any other difference needs a person."""
        if held != replaces:
            raise ArchiveError(staged.rel, (
                f"the archive already holds a different {final} (sha256 {held[:12]}…, downloaded "
                f"{staged.sha256[:12]}…); the archive never overwrites. Move the archived copy aside if the vendor's "
                "new version is right; the next run then archives and loads it"))
        aside = f"{final}.superseded-{held[:12]}"
        if not self.fs.exists(aside):
            self.fs.mv(final, aside)
        else:  # a crash after setting it aside and before the new copy committed: the same bytes are kept already
            self.fs.rm(final)

    def _move(self, tmp: str, final: str) -> None:
        """Atomic where the storage allows: a hard link on local disks fails rather than replace a file."""
        if self.local:
            try:
                os.link(tmp, final)  # FileExistsError if another writer got there first: never replaced
            except FileExistsError:
                raise
            except OSError:
                os.replace(tmp, final)  # a filesystem without hard links; the existence check came first
                return
            os.unlink(tmp)
            return
        self.fs.mv(tmp, final)

    def discard(self, tmp: str | None) -> None:
        """Remove a temporary copy (a quarantined file, a failed write); quiet if it is already gone."""
        if tmp is None:
            return
        self.pending.discard(tmp)
        try:
            self.fs.rm(tmp)
        except Exception:  # noqa: BLE001 - best effort: a leftover .part is hidden from listings and harmless
            pass

    def close(self) -> None:
        """Remove what was staged but never committed (the run stopped early)."""
        for tmp in list(self.pending):
            self.discard(tmp)


def _protocols(fs: Any) -> set[str]:
    proto = fs.protocol
    return {proto} if isinstance(proto, str) else set(proto)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def stage(archive: Archive | None, rel: str, local: Path) -> Staged:
    """Checksum a download and, with an archive, stage its bytes there (one read of the file either way)."""
    if archive is None:
        return Staged(rel, sha256_file(local), local.stat().st_size)
    return archive.stage(rel, local)


def open_archive(url: str, source: str) -> Archive:
    """The archive at `url` for the account `source` points at; fails at once if it cannot be used."""
    prefix = account_prefix(source)
    fs, root = open_filesystem(url)
    return Archive(fs, root, prefix, url)
