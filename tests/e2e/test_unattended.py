"""A scheduled run with nobody watching: no telemetry unless asked, dated log lines, progress in a log file,
a mistyped host and SIGTERM each end with one line.

Everything runs the real loader as a subprocess (cron's view). Telemetry goes to a collector on loopback
(dlt's endpoint setting points there), so the test sees exactly what dlt would send and nothing leaves the
machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.data import ACCOUNT, days_ago, write_window
from support.dns import LoopbackDns
from support.loader import REPO, Target, explain, loader_command, loader_env
from support.servers import free_port

from dlt_pipeline.exit_codes import EXIT_ERROR, EXIT_OK, EXIT_TERMINATED
from dlt_pipeline.synthetic.generator import session_stream_root

LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two day folders of small files on a local 'server'."""
    data = tmp_path_factory.mktemp("unattended") / "sftp"
    for back, token in ((2, 1764000000001), (1, 1764000000002)):
        for hhmm, n in (("0500", 3), ("0515", 2)):
            write_window(data, days_ago(back), hhmm, token + int(hhmm), n=n, seed=back)
    return session_stream_root(data, ACCOUNT)


class _Collector(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        type(self).hits.append(self.rfile.read(length).decode(errors="replace"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[tuple[str, list[str]]]:
    """An HTTP endpoint on loopback that records every telemetry event posted to it."""
    hits: list[str] = []
    handler = type("Collector", (_Collector,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/track", hits
    server.shutdown()
    server.server_close()


def _run_elsewhere(cwd: Path, target: Target, root: Path, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The loader started from a folder that is not the project (cron without `cd`), telemetry unset."""
    env = {k: v for k, v in loader_env(target.env()).items() if k != "RUNTIME__DLTHUB_TELEMETRY"} | extra
    env["HOME"] = str(cwd)  # dlt's global folder (~/.dlt) and its anonymous id stay inside the test
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(loader_command(*target.args(), "--source", root), cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("user_setting", [None, "env", "config.toml"])
def test_telemetry_is_off_unless_the_user_turns_it_on(small_root: Path, tmp_path: Path, collector: tuple,
                                                      user_setting: str | None) -> None:
    """Started from another folder, the loader sends dlt nothing; a user's explicit setting (environment or the
    current folder's .dlt/config.toml) turns it on, and then events reach the (loopback) endpoint."""
    endpoint, hits = collector
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    extra = {"RUNTIME__DLTHUB_TELEMETRY_ENDPOINT": endpoint}
    if user_setting == "env":
        extra["RUNTIME__DLTHUB_TELEMETRY"] = "true"
    elif user_setting == "config.toml":
        (cwd / ".dlt").mkdir()
        (cwd / ".dlt" / "config.toml").write_text("[runtime]\ndlthub_telemetry = true\n")
    proc = _run_elsewhere(cwd, Target(tmp_path / "w"), small_root, extra)
    assert proc.returncode == EXIT_OK, explain(proc)
    assert "loaded now 4" in proc.stdout, explain(proc)
    if user_setting is None:
        assert hits == [], f"telemetry was sent although nobody turned it on: {hits[:2]}"
    else:
        assert hits and any("pipeline" in h for h in hits), f"telemetry on ({user_setting}) sent nothing"


DAY_LINE = re.compile(r"day folder (\d{4}-\d{2}-\d{2}) read: (\d+) file\(s\), (\d+) sessions \((\d+) of (\d+) files, "
                      r"[\d.]+ s elapsed\)")


def test_log_file_gets_dated_lines_and_a_line_per_day_folder(small_root: Path, tmp_path: Path) -> None:
    """Without a terminal (cron writing to a log file) every stderr line is a log line with an ISO date, time and
    zone, and each day folder read says so with its files and sessions; `-q` keeps only warnings."""
    target = Target(tmp_path / "w")
    proc = target.run("--source", small_root)
    assert proc.returncode == EXIT_OK, explain(proc)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and all(LOG_LINE.match(line) for line in lines), explain(proc)
    days = [m.groups() for line in lines if (m := DAY_LINE.search(line))]
    assert [(d, int(f), int(s), int(done)) for d, f, s, done, _ in days] == [
        (str(days_ago(2)), 2, 5, 2), (str(days_ago(1)), 2, 5, 4)], explain(proc)
    assert sum(int(s) for _, _, s, _, _ in days) == target.count("sessions")

    quiet = Target(tmp_path / "q").run("--source", small_root, "-q")
    assert quiet.returncode == EXIT_OK, explain(quiet)
    assert "day folder" not in quiet.stderr and "loaded now 4" in quiet.stdout, explain(quiet)


def _run_with_dns(tmp_path: Path, dns: LoopbackDns, host: str, retries: str, backoff: str) \
        -> tuple[subprocess.CompletedProcess[str], float]:
    """A loader run whose name lookups go to `dns` only (nothing leaves loopback), and its wall time."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    target = Target(tmp_path / "w")
    argv = loader_command(*target.args(), "--source", f"sftp://loader@{host}/{ACCOUNT}/raw_data/session_stream",
                          "--known-hosts", known_hosts)
    env = loader_env({"SESSION_STREAM__SFTP_PASSWORD": "not-used", "SESSION_STREAM__RETRIES": retries,
                      "SESSION_STREAM__BACKOFF": backoff})
    started = time.monotonic()
    proc = subprocess.run(dns.wrap(argv), cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    return proc, time.monotonic() - started


def test_a_host_name_that_does_not_resolve_fails_at_once(tmp_path: Path) -> None:
    """A mistyped host (the DNS answers "no such host") is not a network blip: one line naming the host and
    --source, exit 1, no retries even with a long backoff (it used to take ~32 s)."""
    with LoopbackDns(tmp_path) as dns:
        proc, seconds = _run_with_dns(tmp_path, dns, "sftp.monetat.invalid", "5", "2")
    assert dns.queries >= 1, "the lookup did not reach the loopback DNS server"
    assert proc.returncode == EXIT_ERROR, explain(proc)
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "cannot resolve host 'sftp.monetat.invalid': check --source" in errors[0], \
        explain(proc)
    assert "retrying" not in proc.stderr and "Traceback" not in proc.stderr, explain(proc)
    assert seconds < 10, f"took {seconds:.1f} s: the lookup was retried"


def test_a_resolver_in_trouble_is_retried(tmp_path: Path) -> None:
    """A temporary lookup failure (the DNS server answers SERVFAIL: EAI_AGAIN) may pass on a later try: it is
    retried with the configured backoff, then the run stops with one line."""
    with LoopbackDns(tmp_path, servfail=True) as dns:
        proc, _ = _run_with_dns(tmp_path, dns, "sftp.monetate.example", "2", "0.1")
    assert proc.returncode == EXIT_ERROR, explain(proc)
    assert proc.stderr.count("retrying") == 2, explain(proc)
    assert dns.queries >= 3, f"{dns.queries} lookups: the resolver was not asked again"
    assert "Traceback" not in proc.stderr, explain(proc)


@pytest.mark.parametrize("point", ["started", "before_plan", "after_download", "after_normalize"])
def test_sigterm_stops_with_one_line_and_the_next_run_resumes(small_root: Path, tmp_path: Path, point: str) -> None:
    """SIGTERM while starting (before dlt is imported), planning, downloading/parsing, after the package is written
    and before the load: one line, exit 143, the lock released and no downloads left; the next run loads every
    session exactly once."""
    target = Target(tmp_path / "w")
    paused = target.pause(point, "--source", str(small_root), "--workers", "1")
    paused.proc.send_signal(signal.SIGTERM)
    (paused.dir / "resume").touch()  # a download thread paused at the hook finishes its file, as a real one would
    proc = paused.finish(timeout=60)
    assert proc.returncode == EXIT_TERMINATED, explain(proc)
    errors = [line for line in proc.stderr.splitlines() if "SIGTERM" in line]
    assert errors == ["error: stopped by SIGTERM; nothing half-loaded: the next run resumes"], explain(proc)
    assert "Traceback" not in proc.stderr, explain(proc)
    assert not list(target.pipelines_dir.rglob("spool-*")), "downloads left behind"

    again = target.run("--source", small_root)  # not locked out (exit 5), nothing loaded twice
    assert again.returncode == EXIT_OK, explain(again)
    assert target.count("sessions") == 10
    assert target.scalar(f"select count(distinct _source_path) from {target.dataset}.sessions") == 4


def test_sigterm_while_the_first_connection_retries_stops_at_once(tmp_path: Path) -> None:
    """Nothing listens on the port: the background connection backs off (5 retries, 2 s apart and more); SIGTERM
    during a wait ends the run within a second or two with the same line, instead of after the ~60 s of retries."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    target = Target(tmp_path / "w")
    env = loader_env({"SESSION_STREAM__SFTP_PASSWORD": "not-used", "SESSION_STREAM__RETRIES": "5",
                      "SESSION_STREAM__BACKOFF": "2"})
    cmd = loader_command(*target.args(), "--source", f"sftp://loader@127.0.0.1:{free_port()}/{ACCOUNT}/raw_data/"
                         "session_stream", "--known-hosts", known_hosts)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the first retry warning: the run is now waiting to try again
    assert "retrying in" in first, first
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    seconds = time.monotonic() - signalled
    assert proc.returncode == EXIT_TERMINATED, f"{proc.returncode}\n{out}\n{first}{err}"
    assert "error: stopped by SIGTERM; nothing half-loaded: the next run resumes" in err and "Traceback" not in err
    assert seconds < 5, f"took {seconds:.1f} s after SIGTERM: the retries were waited out"
