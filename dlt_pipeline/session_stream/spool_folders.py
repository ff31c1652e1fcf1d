"""Private working folders named after the process that made them, so a later run can remove a killed run's.

`kill -9` skips every `finally`: the downloads and parsed batches of a killed run would stay on disk for
good. Each folder's name carries its creator's pid; whoever makes a new folder first deletes the folders
of processes that are gone (never those of a live run: two pipelines may share a working folder).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

DOWNLOAD_PREFIX = "spool-"
"""Name prefix of a run's folder of downloads and parsed batches in the pipeline's working folder."""


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a killed but not yet reaped zombie counts as gone)."""
    if os.path.isdir("/proc/self"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            return False
        return stat.rsplit(b")", 1)[-1].split()[0] not in (b"Z", b"X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ours(folder: Path) -> bool:
    """Whether this user owns `folder` (the system temp folder is shared)."""
    getuid = getattr(os, "getuid", None)
    try:
        return getuid is None or folder.stat().st_uid == getuid()
    except OSError:
        return False


def remove_stale(parent: Path, prefix: str) -> None:
    """Delete the `prefix<pid>-*` folders under `parent` whose process is gone; live ones are kept."""
    for folder in parent.glob(f"{prefix}*"):
        pid = folder.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)) and _ours(folder):
            shutil.rmtree(folder, ignore_errors=True)


def make_folder(parent: Path, prefix: str) -> Path:
    """A new private folder (mode 0700) `prefix<pid>-*` under `parent`, after removing killed runs' folders."""
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale(parent, prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
