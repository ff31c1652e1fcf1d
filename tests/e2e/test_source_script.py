"""The source in a user's own script, run as the user runs it: `python my_script.py`, in a fresh process.

Parser workers start by the forkserver method, and each re-imports the main script: a script without an
`if __name__ == "__main__":` guard would run its whole load again inside every worker. Such a script must
still load every line once (parsing in its own process, with one line saying why), and no run - finished,
failed, interrupted, stopped early by dlt or killed - may leave a folder of downloads behind for good.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.data import Tree, assert_ground_truth
from support.loader import REPO, loader_env
from support.warehouse import duckdb_query

pytestmark = pytest.mark.timeout(180)

SCRIPT = '''\
import datetime, logging
import dlt
from dlt_pipeline.session_stream import session_stream

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
pipeline = dlt.pipeline("my_monetate", destination=dlt.destinations.duckdb({db!r}), dataset_name="monetate_raw",
                        pipelines_dir={state!r})
source = session_stream({root!r}, start_date=datetime.date(2026, 11, 20), min_file_age_seconds=0)
{body}
'''
UNGUARDED = "pipeline.run(source{limit})"
GUARDED = 'if __name__ == "__main__":\n    pipeline.run(source{limit})'
FALLBACK = "parsing in this process instead of 2 worker process(es)"


def write_script(tmp_path: Path, tree: Tree, body: str, limit: str = "") -> Path:
    script = tmp_path / "my_script.py"
    script.write_text(SCRIPT.format(db=str(tmp_path / "mine.duckdb"), state=str(tmp_path / "state"),
                                    root=str(tree.root), body=body.format(limit=limit)))
    return script


def script_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return loader_env({"PYTHONPATH": path, "RUNTIME__LOG_LEVEL": "WARNING", **(extra or {})})


def run_script(script: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python my_script.py` from the script's own folder, as a user runs it."""
    return subprocess.run([sys.executable, script.name], cwd=script.parent, env=script_env(env),
                          capture_output=True, text=True, timeout=150, check=False)


def leftovers(tmp_path: Path) -> list[Path]:
    """Download and parse folders of any run under the pipeline's working folder."""
    return [p for p in (tmp_path / "state").rglob("*") if p.name.startswith(("spool-", "session-stream-parsed-"))]


@pytest.mark.parametrize("guard", [False, True])
def test_a_plain_script_loads_every_line_once_with_or_without_a_main_guard(tree: Tree, tmp_path: Path,
                                                                         guard: bool) -> None:
    script = write_script(tmp_path, tree, GUARDED if guard else UNGUARDED)
    proc = run_script(script)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert_ground_truth(duckdb_query(tmp_path / "mine.duckdb"), tree)
    fallback = [line for line in proc.stderr.splitlines() if FALLBACK in line]
    if guard:  # the workers can start: they do
        assert not fallback, proc.stderr[-4000:]
    else:  # one line, naming the script's line that would run again
        assert len(fallback) == 1 and "my_script.py line 9" in fallback[0], proc.stderr[-4000:]
    assert not leftovers(tmp_path)


def test_kill_9_mid_extract_leaves_a_folder_the_next_run_removes(tree: Tree, tmp_path: Path) -> None:
    script = write_script(tmp_path, tree, GUARDED)
    killed = run_script(script, {"SESSION_STREAM_TEST_CRASH_AT": "after_download#3"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-4000:]
    assert leftovers(tmp_path), "the kill should have left the run's downloads behind"
    proc = run_script(script)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not leftovers(tmp_path), "the next run must remove the killed run's folder"
    assert_ground_truth(duckdb_query(tmp_path / "mine.duckdb"), tree)


def test_interrupted_or_stopped_early_leaves_no_folder(tree: Tree, tmp_path: Path) -> None:
    """Ctrl-C in the middle of the downloads, and dlt closing the source after its first item (`add_limit`)."""
    script = write_script(tmp_path, tree, UNGUARDED)
    pause = tmp_path / "pause"
    pause.mkdir()
    env = script_env({"SESSION_STREAM_TEST_PAUSE_AT": "after_download#2", "SESSION_STREAM_TEST_PAUSE_DIR": str(pause)})
    proc = subprocess.Popen([sys.executable, script.name], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (pause / "paused").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(tmp_path), "paused mid-extract: the run's folder exists"
    proc.send_signal(signal.SIGINT)  # Ctrl-C; the paused download thread is then let go
    (pause / "resume").touch()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err, err[-4000:]
    assert not leftovers(tmp_path)
    stopped = run_script(write_script(tmp_path, tree, UNGUARDED, limit=".add_limit(1)"))
    assert stopped.returncode == 0, stopped.stderr[-4000:]
    assert not leftovers(tmp_path)
