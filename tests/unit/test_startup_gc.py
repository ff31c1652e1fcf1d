"""The command line's start-up pause of the garbage collector (dlt_pipeline/startup_gc.py)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from dlt_pipeline import startup_gc


@pytest.fixture(autouse=True)
def _collector_on_afterwards() -> Iterator[None]:
    yield
    startup_gc.resume()
    gc.enable()


def test_pause_then_resume_turns_the_collector_back_on() -> None:
    startup_gc.pause()
    assert not gc.isenabled()
    startup_gc.resume()
    assert gc.isenabled()
    startup_gc.resume()  # a second resume changes nothing
    assert gc.isenabled()


def test_resume_leaves_a_collector_alone_that_someone_else_turned_off() -> None:
    gc.disable()
    startup_gc.pause()  # already off: not ours to turn on again
    startup_gc.resume()
    assert not gc.isenabled()


PROGRAM = """
import gc, sys
from dlt_pipeline import cli
seen = []
import dlt_pipeline.command as command
command.execute = lambda args: seen.append(gc.isenabled()) or 0
own = sys.argv.pop(1) == "own"
code = cli.main(None if own else ["--source", "x"])
print(seen[0], gc.isenabled())
"""


@pytest.mark.parametrize(("how", "during"), [("own", "False"), ("in-process", "True")])
def test_only_a_process_started_for_the_command_pauses(how: str, during: str) -> None:
    """`main()` without arguments (run.py, the console script) pauses while it runs; `main([...])` never does."""
    argv = [sys.executable, "-c", PROGRAM, how] + (["--source", "x"] if how == "own" else [])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [during, "True"]
