"""A BI tool's live connection to the DuckDB file: a read-only connection held by another process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

READER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.sql("select count(*) from information_schema.tables").fetchall()
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
print("released", flush=True)
"""


class Reader:
    """A child process with a read-only connection to the file for `seconds` (a BI tool's live connection)."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", READER, str(path), str(seconds)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", self.proc.stderr.read() if self.proc.stderr else line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=30)
