"""What every transport shares: the entry a listing returns, the protocol a transport offers, and the one rule
for following a symlink. Its own module so that the local, SFTP and fsspec transports and the factory that picks
one (`transport.open_transport`) all import it, and none of them imports another.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


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


def inside(path: str, root: str) -> bool:
    """Whether a server path is `root` or below it (plain string test on normalised absolute paths)."""
    base = root.rstrip("/")
    return path == root or path == base or path.startswith(base + "/")


def followed_entry(name: str, target: str, mode: int | None, size: int | None, mtime: float | None,
              refused: Callable[[str], RemoteEntry]) -> RemoteEntry:
    """The entry for a symlink whose target exists inside the root: a regular file is followed, nothing else."""
    if mode is not None and stat.S_ISDIR(mode):
        return refused(f"symlink to the folder {target}; not followed")
    if mode is not None and not stat.S_ISREG(mode):
        return refused(f"symlink to {target}, which is not a regular file; not followed")
    return RemoteEntry(name, size, None if mtime is None else float(mtime), False)
