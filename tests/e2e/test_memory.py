"""Memory follows the batch size, not the file size (the unit tests of the spool are in tests/unit/test_spool.py).

One vendor file can hold hundreds of thousands of sessions. Parser workers used to return a whole
file's Arrow tables in one pickle, so the worker, the pickle and the main process each held the whole
file (2 GB peak for 300,000 sessions in one file). Here one such file is loaded through the CLI with
the default two workers and `--batch-size 5000`, and the loader's process tree is sampled every 50 ms.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from support.data import ACCOUNT, write_big_file
from support.loader import REPO, Target, explain, loader_command, loader_env

from bench.benchmark import TreeMemorySampler  # the benchmark's own way of sampling a process tree
from dlt_pipeline.session_stream.workers import SPOOL_PREFIX
from dlt_pipeline.synthetic.generator import session_stream_root

SESSIONS = 300_000
PEAK_PSS_LIMIT_MB = 800
"""Before the fix this run peaked at 2,044 MB PSS (2,143 MB RSS); after it at 450-570 MB, most of it DuckDB's
load step (capped at 512 MB by the loader). The bound leaves room for noise and still fails the old code."""


@dataclass
class Measured:
    """A finished loader run and the peak memory of its process tree."""

    proc: subprocess.CompletedProcess[str]
    pid: int
    peak_rss_mb: float
    peak_pss_mb: float


def measure(argv: list[str], timeout: float = 300) -> Measured:
    """Run argv (cwd = repo, the loader's test environment), sampling RSS and PSS summed over it and its
    children every 50 ms.

    The children are the parser workers; PSS counts pages they share with the main process once. This
    is what bench/benchmark.py reports as tree RSS / tree PSS.
    """
    proc = subprocess.Popen(argv, cwd=REPO, env=loader_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    with TreeMemorySampler(proc.pid) as sampler:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    peak_rss, peak_pss = sampler.peak_rss, sampler.peak_pss
    return Measured(subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr), proc.pid,
                    peak_rss / 2**20, peak_pss / 2**20)


def test_one_big_file_stays_within_batch_memory(tmp_path: Path) -> None:
    """300,000 sessions in one file, two workers, 5,000-session batches: peak well under the old whole-file peak."""
    write_big_file(tmp_path / "data", SESSIONS)
    target = Target(tmp_path / "warehouse")
    started = time.perf_counter()
    run = measure(loader_command(*target.args(), "--source", session_stream_root(tmp_path / "data", ACCOUNT),
                                 "--workers", "2", "--batch-size", "5000", "-q"))
    seconds = time.perf_counter() - started
    print(f"\n{SESSIONS:,} sessions in one file: peak tree RSS {run.peak_rss_mb:,.0f} MB, "
          f"PSS {run.peak_pss_mb:,.0f} MB, {seconds:.1f} s")
    assert run.proc.returncode == 0, explain(run.proc)
    assert target.count("sessions") == SESSIONS
    assert run.peak_pss_mb < PEAK_PSS_LIMIT_MB, (f"peak PSS {run.peak_pss_mb:,.0f} MB (RSS {run.peak_rss_mb:,.0f} MB) "
                                                 f"for one {SESSIONS:,}-session file")
    leftovers = [*Path(tempfile.gettempdir()).glob(f"{SPOOL_PREFIX}{run.pid}-*"),
                 *target.pipelines_dir.rglob(f"{SPOOL_PREFIX}*")]
    assert not leftovers, f"batch files left behind: {leftovers}"
