"""`run.py` leaves through `fast_exit.exit_now`: the exit code, buffered output and exit handlers must survive it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import atexit, sys
from dlt_pipeline.fast_exit import exit_now
atexit.register(lambda: sys.stderr.write("handler ran"))
sys.stdout.write("buffered, no newline")
exit_now(3)
"""


def test_exit_code_output_and_handlers_survive() -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stdout == "buffered, no newline"
    assert proc.stderr == "handler ran"


def test_a_profiler_keeps_the_normal_exit(tmp_path: Path) -> None:
    """cProfile writes its results at the end of the normal exit; `os._exit` would lose them."""
    script, stats = tmp_path / "prog.py", tmp_path / "prog.prof"
    script.write_text(PROGRAM)
    proc = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats), str(script)], capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout == "buffered, no newline", proc.stderr
    assert stats.exists() and stats.stat().st_size > 0
