"""dbt build benchmark (opt-in, not part of the normal suite).

    SESSION_STREAM_DBT_BENCH=1000000 .venv/bin/python -m pytest tests/e2e/test_dbt_benchmark.py -s

Generates N sessions (default 1,000,000 when the variable is just ``1``), holds back the newest
15-minute file, loads the rest into DuckDB with the loader and times a full ``dbt build``; then serves
the held-back file, loads it and times the incremental ``dbt build`` (same models and tests). Each build is
timed as ``dbt run`` (models) plus ``dbt test`` (all data and unit tests, which by design scan whole tables:
a grain must hold globally). Prints the times and ratios, and writes them to
``$SESSION_STREAM_DBT_BENCH_OUT`` (JSON) when set.

The loads here are minutes apart, so the look-back is set to 0 (the e2e test proves that setting exact);
with the default one-hour look-back every session loaded in the last hour would be re-derived too.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.data import ACCOUNT, generate_cli
from support.dbt import Warehouse

from dlt_pipeline.synthetic.generator import session_stream_root

BENCH = os.environ.get("SESSION_STREAM_DBT_BENCH")

pytestmark = pytest.mark.skipif(not BENCH, reason="set SESSION_STREAM_DBT_BENCH=N to run the dbt benchmark")


def _seconds(step: Callable[..., object], *args: object) -> float:
    """Wall time of `step(*args)`."""
    started = time.perf_counter()
    step(*args)
    return time.perf_counter() - started


@pytest.mark.timeout(7200)
def test_dbt_full_vs_incremental_build_time(tmp_path: Path) -> None:
    n = int(BENCH) if BENCH and BENCH != "1" else 1_000_000
    days = max(1, n // 250_000)
    src = tmp_path / "src"
    t0 = time.perf_counter()
    truth = generate_cli(src, "--days", str(days), "--sessions-per-day", str(n // days), "--redeliver", "2",
                     "--reemit", "0.05", "--seed", "3")
    t_gen = time.perf_counter() - t0
    root = session_stream_root(src, ACCOUNT)
    files = sorted(root.rglob("*.json.gz"), key=lambda p: p.name)
    newest = files[-1]
    served = tmp_path / "served"
    shutil.copytree(root, served, ignore=lambda d, names: [x for x in names if x == newest.name])

    wh = Warehouse(tmp_path, "duckdb", name="bench", dbt_vars={"mart_lookback_hours": 0})
    t_load = _seconds(wh.load, served)

    wh.dbt("seed")
    t_full_run, t_full_test = _seconds(wh.dbt, "run"), _seconds(wh.dbt, "test")
    (sessions_full,), = wh.query("select count(*) from {mart}.sessions_fact")

    rel = newest.relative_to(root)
    (served / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(newest, served / rel)
    wh.load(served)
    t_incr_run, t_incr_test = _seconds(wh.dbt, "run"), _seconds(wh.dbt, "test")
    t_full, t_incr = t_full_run + t_full_test, t_incr_run + t_incr_test
    (sessions,), = wh.query("select count(*) from {mart}.sessions_fact")
    assert sessions == truth["dedup"]["sessions"]

    result = {
        "raw_session_lines": truth["raw"]["sessions"],
        "sessions": sessions,
        "sessions_before_last_file": sessions_full,
        "files": truth["raw"]["files"],
        "generate_s": round(t_gen, 1),
        "load_s": round(t_load, 1),
        "full_dbt_run_s": round(t_full_run, 1),
        "full_dbt_test_s": round(t_full_test, 1),
        "full_build_s": round(t_full, 1),
        "incremental_dbt_run_s": round(t_incr_run, 1),
        "incremental_dbt_test_s": round(t_incr_test, 1),
        "incremental_build_s": round(t_incr, 1),
        "ratio_build_incremental_to_full": round(t_incr / t_full, 3),
        "ratio_run_incremental_to_full": round(t_incr_run / t_full_run, 3),
    }
    print("\n" + json.dumps(result, indent=2))
    if os.environ.get("SESSION_STREAM_DBT_BENCH_OUT"):
        Path(os.environ["SESSION_STREAM_DBT_BENCH_OUT"]).write_text(json.dumps(result, indent=2))


@pytest.mark.timeout(7200)
def test_postgres_incremental_run_with_and_without_jit(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """PostgreSQL: incremental `dbt run` after one new file, JIT on vs off (the marts' pre-hook), alternating.

    The newest four files are held back and served one at a time; runs 1 and 3 keep JIT on
    (`monetate_postgres_jit: true`), runs 2 and 4 use the default (JIT off for the marts), so a drift in
    machine load hits both settings alike. Prints each run and the ratio of the medians.
    """
    pg = request.getfixturevalue("postgres")
    n = int(BENCH) if BENCH and BENCH != "1" else 200_000
    src = tmp_path / "src"
    generate_cli(src, "--days", "1", "--sessions-per-day", str(n), "--redeliver", "2", "--reemit", "0.05",
                 "--seed", "3")
    root = session_stream_root(src, ACCOUNT)
    held = sorted(root.rglob("*.json.gz"), key=lambda p: p.name)[-4:]
    served = tmp_path / "served"
    shutil.copytree(root, served, ignore=lambda d, names: [x for x in names if x in {h.name for h in held}])
    wh = Warehouse(tmp_path, "postgres", pg=pg, name="jitbench", dbt_vars={"mart_lookback_hours": 0})
    wh.load(served)
    wh.dbt("seed")
    wh.dbt("run")
    times: dict[bool, list[float]] = {True: [], False: []}
    for i, newest in enumerate(held):
        rel = newest.relative_to(root)
        (served / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(newest, served / rel)
        wh.load(served)
        jit = i % 2 == 0
        wh.dbt_vars["monetate_postgres_jit"] = jit
        times[jit].append(_seconds(wh.dbt, "run"))
    on, off = sorted(times[True]), sorted(times[False])
    result = {"sessions": n, "incremental_run_s_jit_on": on, "incremental_run_s_jit_off": off,
              "ratio_off_to_on": round(sum(off) / sum(on), 3)}
    print("\n" + json.dumps(result, indent=2))
