"""A soak of scheduled runs: every fault a season of 15-minute runs meets, then raw tables and marts = the truth.

The loader runs as cron runs it (no --start-date: the ledger and the look-back decide), over a real sshd, into
a DuckDB file and a PostgreSQL schema, once per round, while the vendor's drop (`support.soak.Vendor`) delivers
the generated files with late arrivals, stalled uploads, short and corrupt first copies re-delivered in full
under the same name, and one line that is never valid. Each round's run meets one fault in turn
(`support.soak.fault_cycle`): kill -9 at every named point of a run (dlt_pipeline/testhooks.py), the server
down, a BI reader holding the DuckDB file, or none; `dbt build` runs at its end (and, in the long soak, in its
middle too). It ends with:

- every generated line in the raw tables exactly once (per-table counts equal the generator's), the one bad line
  quarantined with its file and line, every file's ledger row loaded once, `_dlt_loads` without a repeated id;
- a green `dbt build` whose marts equal the generator's ground truth.

`SOAK_ROUNDS` (default: one full fault cycle, 18 runs) and `SOAK_SEED` (default 5) make it longer or
different; `./dev soak` is the long soak (64 rounds; see docs/reliability.md).

The default suite (`./dev test`, no `SOAK_ROUNDS`) soaks DuckDB only and builds only at the end: every fault of the
cycle, the final build and the truth comparison stay, within the suite's 10-minute budget. The long soak (any
`SOAK_ROUNDS`, as `./dev soak` sets) adds the PostgreSQL soak and the mid-soak build; PostgreSQL's kill points
stay covered in the default suite by tests/e2e/test_crash_points.py (every commit on PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from support.dbt import WITHOUT_READOUT, Warehouse, assert_matches_truth, build_and_check
from support.loader import explain, summary
from support.reader import Reader
from support.servers import PrivateSshd
from support.soak import Vendor, fault_cycle

from dlt_pipeline import testhooks
from dlt_pipeline.exit_codes import EXIT_LOCKED
from dlt_pipeline.synthetic.generator import CHILD_TABLES

ROUNDS = int(os.environ.get("SOAK_ROUNDS", str(len(fault_cycle()))))
SEED = int(os.environ.get("SOAK_SEED", "5"))
LONG = "SOAK_ROUNDS" in os.environ
"""The long soak (`./dev soak`, or any SOAK_ROUNDS): PostgreSQL too, and a dbt build in the middle of the soak."""
ENGINES = ["duckdb", "postgres"] if LONG else ["duckdb"]
EXPECTED = {"none": {0, 3}, "outage": {1}, "reader": {EXIT_LOCKED}}
"""Exit codes a round may end with, by fault (3: a file or line quarantined so far, e.g. a corrupt first copy)."""


def _run_round(wh: Warehouse, sshd: PrivateSshd, source: str, fault: str) -> subprocess.CompletedProcess[str]:
    """One scheduled run meeting `fault`, whose exit code must be the one that fault gives."""
    env: dict[str, str] = {}
    reader = None
    if fault.startswith("crash:"):
        env[testhooks.CRASH_ENV] = fault.split(":", 1)[1]
    elif fault == "outage":
        sshd.stop()
    elif fault == "reader" and wh.postgres is None and wh.duckdb_path.exists():
        reader = Reader(wh.duckdb_path, 120)
    try:
        proc = wh.run("--source", source, "--private-key", str(sshd.client_key_path), "--known-hosts",
                      str(sshd.known_hosts_path), "--min-file-age-seconds", "60", "--lock-wait-seconds", "1",
                      env=env)
    finally:
        if reader is not None:
            reader.stop()
        if not sshd.running:
            sshd.start()
    allowed = {-signal.SIGKILL, *EXPECTED["none"]} if fault.startswith("crash:") else EXPECTED[fault]
    if fault == "reader" and reader is None:  # nothing loaded yet: no file to hold
        allowed = EXPECTED["none"]
    assert proc.returncode in allowed, f"round with fault {fault}: {explain(proc)}"
    return proc


def _assert_raw_equals_truth(wh: Warehouse, truth: dict, vendor: Vendor) -> None:
    raw = truth["raw"]
    for table in ("sessions", *CHILD_TABLES):
        assert wh.count(table) == raw[table], f"{table}: {wh.count(table)} rows, generated {raw[table]}"
    (dupes,), = wh.sql(f"select count(*) - count(distinct load_id) from {wh.dataset}._dlt_loads")
    assert dupes == 0, "a load id recorded twice in _dlt_loads"
    files = wh.sql(f"select file_path, status from {wh.dataset}.session_stream_files")
    assert sorted(p for p, _ in files) == vendor.files, "the ledger does not hold every delivered file once"
    assert {s for _, s in files} == {"loaded"}, files
    rejects = wh.sql(f"select file_path, line_number, reason from {wh.dataset}.session_stream_rejects")
    assert len(rejects) == 1 and rejects[0][0] == vendor.mishaps.bad_line, rejects
    assert rejects[0][1] == vendor.garbage_line_number and rejects[0][2], rejects


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("engine", ENGINES)
def test_soak_of_scheduled_runs_with_faults_ends_equal_to_the_truth(
        tmp_path: Path, mart_data: tuple[dict, Path], fresh_sshd, engine: str,  # noqa: ANN001
        request: pytest.FixtureRequest) -> None:
    truth, outbox = mart_data
    pg = request.getfixturevalue("postgres") if engine == "postgres" else None
    sshd = fresh_sshd()
    served = tmp_path / "served" / "1234" / "raw_data" / "session_stream"
    served.mkdir(parents=True)
    vendor = Vendor(outbox, served, ROUNDS, SEED)
    wh = Warehouse(tmp_path / "wh", engine, pg, name=f"soak_{engine}")
    source = sshd.url(served)
    faults = fault_cycle()
    codes: list[tuple[str, int]] = []
    for round_no in range(ROUNDS):
        vendor.deliver(round_no)
        fault = faults[round_no % len(faults)]
        codes.append((fault, _run_round(wh, sshd, source, fault).returncode))
        if LONG and round_no == ROUNDS // 2:  # analysts build in the middle of it all
            _run_round(wh, sshd, source, "none")
            build_and_check(wh, *WITHOUT_READOUT)
    # the drop is complete: scheduled runs go on; the second one after it must find nothing new
    _run_round(wh, sshd, source, "none")
    assert summary(_run_round(wh, sshd, source, "none").stdout)["loaded"] == 0
    _assert_raw_equals_truth(wh, truth, vendor)
    build_and_check(wh, *WITHOUT_READOUT)
    assert_matches_truth(wh, truth)
    assert sum(code == -signal.SIGKILL for _, code in codes) >= 3, codes  # the kills really happened


def test_vendor_schedule_ends_with_every_file_in_full(tmp_path: Path, mart_data: tuple[dict, Path]) -> None:
    """The soak's own premise: after the last round the served folder equals the generated one (plus the bad line)."""
    _, outbox = mart_data
    served = tmp_path / "served"
    vendor = Vendor(outbox, served, ROUNDS, SEED)
    for round_no in range(ROUNDS):
        vendor.deliver(round_no)
    for name in vendor.files:
        got, want = (served / name).read_bytes(), (outbox / name).read_bytes()
        assert (got == want) != (name == vendor.mishaps.bad_line), name
    shutil.rmtree(served)
