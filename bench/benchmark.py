"""Benchmark: our loader vs dlt's default path, on the same generated files, served by a private sshd.

    .venv/bin/python bench/benchmark.py                       # 100k sessions, loader (default workers) + dlt default
    .venv/bin/python bench/benchmark.py --workers 0 1 2       # compare parser worker counts
    .venv/bin/python bench/benchmark.py --rss-only            # 1M sessions in one run, loader only: peak RSS

What is measured, per run, in a fresh child process (so import time and memory are the child's own):
  * loader   `python dlt_pipeline/run.py --source sftp://... --workers N` into a fresh DuckDB file
  * dlt      paramiko download with prefetch -> gunzip -> orjson.loads per line -> yield the dicts to a
             dlt resource (default relational normalizer, parquet loader file format) into a fresh DuckDB
Wall time is end to end (process start to exit: connect, list, download, parse, normalize, load).
Peak RSS: the sampled peak of the sum over the child's whole process tree (parser workers included),
and the largest single process (from wait4's rusage).

Generated data is cached under bench_out/ (one day, 96 windows, ~1 file per window). Run it on an idle
machine: the script prints the load average first and warns when something else is running.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

TARGET_RATE = 25_000
TARGET_RATIO = 8.0
TARGET_RSS_MB = 1024
ACCOUNT = 1234


@dataclass
class Result:
    label: str
    sessions: int
    seconds: float
    peak_tree_mb: float | None
    peak_pss_mb: float | None
    peak_proc_mb: float
    loaded: int | None
    stdout: str = ""
    cpu_seconds: float = 0.0  # user + system CPU of the process and its reaped descendants (workers, forkserver)

    @property
    def rate(self) -> float:
        return self.sessions / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------------------------------
# data


def cached_data(out: Path, sessions: int, seed: int) -> tuple[Path, dict]:
    """Generate (once) one day of `sessions` sessions; return (session_stream root, truth)."""
    import orjson

    from dlt_pipeline.synthetic.generator import generate, session_stream_root

    folder = out / f"data-{sessions}-s{seed}"
    truth_path = folder / "truth.json"
    if truth_path.exists():
        return session_stream_root(folder, ACCOUNT), orjson.loads(truth_path.read_bytes())
    shutil.rmtree(folder, ignore_errors=True)
    print(f"generating {sessions:,} sessions into {folder} (cached for the next run) ...", flush=True)
    t0 = time.perf_counter()
    # a day in the past: the loader lists day folders up to today
    start = (datetime.now(UTC) - timedelta(days=3)).date()
    truth = generate(folder / "tmp", account_id=ACCOUNT, start_date=start, days=1, sessions_per_day=sessions,
                     files_per_window=1, seed=seed, truth_path=folder / "tmp" / "truth.json")
    (folder / "tmp" / "truth.json").rename(truth_path)
    (folder / "tmp" / str(ACCOUNT)).rename(folder / str(ACCOUNT))
    shutil.rmtree(folder / "tmp")  # the generator's other outputs (metadata catalog): not needed here
    print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)
    return session_stream_root(folder, ACCOUNT), truth


# --------------------------------------------------------------------------------------------------
# measuring a child process


def _tree_memory(pid: int, cpu: dict[int, float] | None = None) -> tuple[int, int]:
    """(sum of RSS, sum of PSS) over a process and its descendants; PSS counts shared pages once.

    With `cpu`, also records each process's CPU seconds so far (user + system) under its pid.
    """
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    rss = pss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        if cpu is not None:
            try:
                times = p.cpu_times()
            except psutil.Error:
                continue
            cpu[p.pid] = max(cpu.get(p.pid, 0.0), times.user + times.system)
    return rss, pss


class TreeMemorySampler:
    """Samples the summed RSS and PSS of a process and its children every 50 ms, from a thread, until closed.

    Also used by tests/e2e/test_memory.py, so the test and the benchmark measure memory the same way.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = self.peak_pss = 0
        self.cpu: dict[int, float] = {}
        """CPU seconds per process of the tree, as last sampled (the last 50 ms of a process are missed)."""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="memory-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            rss, pss = _tree_memory(self.pid, self.cpu)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self._done.wait(0.05)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def measure(label: str, argv: list[str], sessions: int, env: dict[str, str] | None = None) -> Result:
    """Run argv, sampling the process tree's RSS; wall time from spawn to exit."""
    try:
        import psutil  # noqa: F401
        have_psutil = True
    except ImportError:
        have_psutil = False
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sampler = TreeMemorySampler(proc.pid)
    if have_psutil:
        sampler.__enter__()
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [threading.Thread(target=lambda s=s, b=b: b.append(s.read()), daemon=True)
               for s, b in ((proc.stdout, out_chunks), (proc.stderr, err_chunks))]
    for r in readers:
        r.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join()
    if have_psutil:
        sampler.__exit__()
    peak, peak_pss = sampler.peak_rss, sampler.peak_pss
    stdout, stderr = "".join(out_chunks), "".join(err_chunks)
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed with exit {proc.returncode}:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    loaded = None
    for line in stdout.splitlines():
        if line.startswith("LOADED_SESSIONS="):
            loaded = int(line.split("=", 1)[1])
    # CPU of the whole tree: the main process from the kernel (exact), the others (parser workers, forkserver)
    # as last sampled: the forkserver outlives a fast exit, so the kernel never adds them to the child's usage
    others = sum(cpu for pid, cpu in sampler.cpu.items() if pid != proc.pid) if have_psutil else 0.0
    return Result(label, sessions, seconds, peak / 2**20 if have_psutil else None,
                  peak_pss / 2**20 if have_psutil else None, usage.ru_maxrss / 1024, loaded, stdout,
                  usage.ru_utime + usage.ru_stime + others)


def count_sessions(duckdb_path: Path) -> int:
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        return int(con.sql("select count(*) from monetate_raw.sessions").fetchall()[0][0])
    finally:
        con.close()


# --------------------------------------------------------------------------------------------------
# the two paths


def run_loader(sshd, root: Path, work: Path, sessions: int, workers: int | None, batch_size: int | None) -> Result:  # noqa: ANN001
    target = work / f"loader-w{workers}"
    shutil.rmtree(target, ignore_errors=True)
    db = target / "loader.duckdb"
    argv = [sys.executable, str(REPO / "dlt_pipeline" / "run.py"), "--source", sshd.url(root),
            "--private-key", str(sshd.client_key_path), "--known-hosts", str(sshd.known_hosts_path),
            "--duckdb-path", str(db), "--pipelines-dir", str(target / "pipelines"), "--min-file-age-seconds", "0",
            "-q"]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if batch_size is not None:
        argv += ["--batch-size", str(batch_size)]
    label = f"loader (--workers {workers if workers is not None else 'default'})"
    result = measure(label, argv, sessions)
    result.loaded = count_sessions(db)
    match = re.search(r"read in ([\d.]+) s \(([\d,]+) sessions/s\)", result.stdout)
    if match:
        result.label += f" [own: {match.group(1)} s]"
    shutil.rmtree(target, ignore_errors=True)
    return result


def run_baseline(sshd, root: Path, work: Path, sessions: int, max_files: int) -> Result:  # noqa: ANN001
    target = work / "dlt-default"
    shutil.rmtree(target, ignore_errors=True)
    argv = [sys.executable, __file__, "--baseline-child", sshd.host, str(sshd.port), sshd.user,
            str(sshd.client_key_path), str(sshd.known_hosts_path), str(root), str(target), str(max_files)]
    label = "dlt default (dicts, relational normalizer, parquet)"
    if max_files:
        label = f"dlt default, first {max_files} files only"
    result = measure(label, argv, sessions,
                     env={"RUNTIME__DLTHUB_TELEMETRY": "false"})
    shutil.rmtree(target, ignore_errors=True)
    return result


def baseline_child(host: str, port: str, user: str, key: str, known_hosts: str, root: str, target: str,
                   max_files: str) -> None:
    """dlt's default path: paramiko (prefetch) -> gunzip -> orjson.loads -> dict items -> dlt."""
    import gzip
    import stat

    import dlt
    import orjson
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(host, port=int(port), username=user, pkey=paramiko.PKey.from_path(key), allow_agent=False,
                   look_for_keys=False, timeout=30)
    sftp = client.open_sftp()

    def walk(path: str) -> list[str]:
        found = []
        for attr in sorted(sftp.listdir_attr(path), key=lambda a: a.filename):
            full = f"{path}/{attr.filename}"
            if stat.S_ISDIR(attr.st_mode or 0):
                found += walk(full)
            elif attr.filename.endswith(".json.gz"):
                found.append(full)
        return found

    @dlt.resource(name="sessions", write_disposition="append")
    def sessions():
        paths = walk(root)
        for path in paths[: int(max_files)] if int(max_files) else paths:
            with sftp.open(path, "rb") as remote:
                remote.prefetch()
                with gzip.GzipFile(fileobj=remote) as lines:
                    batch = [orjson.loads(line) for line in lines if line.strip()]
            yield batch

    pipeline = dlt.pipeline(pipeline_name="bench_dlt_default", pipelines_dir=f"{target}/pipelines",
                            destination=dlt.destinations.duckdb(credentials=f"{target}/dlt.duckdb"),
                            dataset_name="monetate_raw")
    pipeline.run(sessions(), loader_file_format="parquet")
    sftp.close()
    client.close()
    with pipeline.sql_client() as c:
        print(f"LOADED_SESSIONS={c.execute_sql('select count(*) from sessions')[0][0]}")


# --------------------------------------------------------------------------------------------------


def report(results: list[Result], baseline: Result | None, sessions: int, rss_only: bool) -> None:
    print()
    print(f"{'path':<54} {'seconds':>8} {'sessions/s':>11} {'tree RSS':>9} {'tree PSS':>9} {'max 1 proc':>11}")
    for r in [*results, *([baseline] if baseline else [])]:
        tree = f"{r.peak_tree_mb:,.0f} MB" if r.peak_tree_mb is not None else "n/a"
        pss = f"{r.peak_pss_mb:,.0f} MB" if r.peak_pss_mb is not None else "n/a"
        print(f"{r.label:<54} {r.seconds:>8.1f} {r.rate:>11,.0f} {tree:>9} {pss:>9} {r.peak_proc_mb:>8,.0f} MB")
    print("([own: s] = the loader's own timer, from its start of work to the end of the load, without interpreter "
          "start-up and imports)")
    print("(tree RSS sums the processes' RSS, counting shared pages once per process; tree PSS counts them once)")
    print()
    best = max(results, key=lambda r: r.rate)
    if rss_only:
        for r in results:
            peak = r.peak_pss_mb if r.peak_pss_mb is not None else r.peak_proc_mb
            verdict = "meets" if peak < TARGET_RSS_MB else "MISSES"
            print(f"{r.label}: peak memory for {sessions:,} sessions in one run {peak:,.0f} MB PSS "
                  f"({verdict} < {TARGET_RSS_MB} MB)")
        return
    verdict = "meets" if best.rate >= TARGET_RATE else "MISSES"
    print(f"best loader rate {best.rate:,.0f} sessions/s ({best.label}): {verdict} the {TARGET_RATE:,}/s target")
    if baseline:
        ratio = best.rate / baseline.rate
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        print(f"speed-up over dlt's default path: {ratio:.1f}x ({verdict} the {TARGET_RATIO:.0f}x target)")
        for r in results:
            print(f"  {r.label}: {r.rate / baseline.rate:.1f}x")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--baseline-child":
        baseline_child(*sys.argv[2:10])
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=None, help="sessions to generate (default 100000; 1M with "
                                                               "--rss-only)")
    p.add_argument("--workers", type=int, nargs="*", default=None,
                   help="run the loader once per value, passing --workers N (default: the loader's default)")
    p.add_argument("--batch-size", type=int, default=None, help="pass --batch-size N to the loader")
    p.add_argument("--skip-baseline", action="store_true", help="do not run dlt's default path")
    p.add_argument("--baseline-files", type=int, default=0,
                   help="run dlt's default path on the first N files only (default: all). It turns every id of "
                        "the id-keyed objects into a column and slows down as the schema grows, so on 100k "
                        "sessions it takes tens of minutes; a subset gives it its best case")
    p.add_argument("--rss-only", action="store_true", help="1M sessions, loader only: report peak RSS")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=REPO / "bench_out", help="cache folder for generated data")
    args = p.parse_args()
    sessions = args.sessions or (1_000_000 if args.rss_only else 100_000)
    workers = args.workers if args.workers else [None]

    load1, load5, _ = os.getloadavg()
    print(f"load average {load1:.2f} {load5:.2f} on {os.cpu_count()} cores", flush=True)
    if load1 > 0.7:
        print("  WARNING: the machine is busy; numbers will be low and noisy", flush=True)

    from support.servers import PrivateSshd

    args.out.mkdir(parents=True, exist_ok=True)
    root, truth = cached_data(args.out, sessions, args.seed)
    files = sum(1 for _ in root.rglob("*.json.gz"))
    size = sum(p.stat().st_size for p in root.rglob("*.json.gz"))
    lines = truth["raw"]["sessions"]
    print(f"{lines:,} session lines in {files} files, {size / 1e6:.1f} MB gzipped", flush=True)

    work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.out))
    results: list[Result] = []
    baseline = None
    try:
        with PrivateSshd() as sshd:
            for w in workers:
                print(f"running loader --workers {w if w is not None else 'default'} ...", flush=True)
                r = run_loader(sshd, root, work, lines, w, args.batch_size)
                if r.loaded != lines:
                    raise SystemExit(f"{r.label} loaded {r.loaded:,} sessions, expected {lines:,}")
                results.append(r)
            if not args.skip_baseline and not args.rss_only:
                print("running dlt's default path ...", flush=True)
                expected = lines
                if args.baseline_files:
                    expected = sum(f["sessions"] for f in sorted(truth["files"], key=lambda f: f["path"])
                                   [: args.baseline_files])
                baseline = run_baseline(sshd, root, work, expected, args.baseline_files)
                if baseline.loaded != expected:
                    raise SystemExit(f"dlt default loaded {baseline.loaded}, expected {expected:,}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, baseline, lines, args.rss_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
