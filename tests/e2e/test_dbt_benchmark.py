"""dbt benchmarks (opt-in, not part of the normal suite).

    SESSION_STREAM_DBT_BENCH=1000000 .venv/bin/python -m pytest tests/e2e/test_dbt_benchmark.py -k cost -s
    SESSION_STREAM_DBT_BENCH=1000000,4000000 ...     # also: does the incremental run cost the same at 4M?

For each size N (sessions of history; ~250k a day, re-deliveries and re-emitted versions as in real data) the
DuckDB benchmark generates the data, holds back the newest 15-minute file, loads the rest with the loader and
builds everything from scratch (`dbt run`, then `dbt test`: every model and every data test). Then it serves the
held-back file, loads it, and runs what the every-load job runs (README "Operating it"):

    dbt run  --selector session_marts
    dbt test --selector session_marts --vars '{monetate_test_scope_minutes: 1}'

and what the hourly/daily readout job runs (`dbt run --selector experiment_readout`). "Model time" is the sum of
dbt's per-model execution times (run_results.json; with 4 threads it exceeds the wall time, which is printed too).
Ratios: incremental / full build at the same size, and, when several sizes are given, incremental at each size /
incremental at the first size, all measured in this run. Results go to stdout and to
``$SESSION_STREAM_DBT_BENCH_OUT`` (JSON) when set.

The loads here are minutes apart, so the look-back is 0 (the e2e tests prove that setting exact) and the test scope
is 1 minute; with the defaults (1 hour each) every session loaded in the last hour is re-derived and re-tested.
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
READOUT_PREFIXES = ("experiment_", "int_monetate__experiment_")
"""Models of selector experiment_readout (tag experiment_readout), to split a full build's model time."""

pytestmark = pytest.mark.skipif(not BENCH, reason="set SESSION_STREAM_DBT_BENCH=N to run the dbt benchmark")


def _sizes() -> list[int]:
    """Sizes from SESSION_STREAM_DBT_BENCH ("1" = 1,000,000; "1000000,4000000" = both, in that order)."""
    return [1_000_000 if part.strip() == "1" else int(part) for part in (BENCH or "1").split(",")]


def _seconds(step: Callable[..., object], *args: object) -> float:
    """Wall time of `step(*args)`."""
    started = time.perf_counter()
    step(*args)
    return time.perf_counter() - started


def _timed_dbt(wh: Warehouse, *args: str) -> dict:
    """Run one dbt command; its wall time, the sum of its nodes' execution times and the slowest nodes."""
    wall = _seconds(wh.dbt, *args)
    results = json.loads((wh.tmp / "dbt_target" / "run_results.json").read_text())["results"]
    times = sorted(((r["execution_time"], r["unique_id"].split(".")[-1]) for r in results), reverse=True)
    readout = sum(t for t, name in times if name.startswith(READOUT_PREFIXES))
    return {"wall_s": round(wall, 1), "node_s": round(sum(t for t, _ in times), 1), "nodes": len(times),
            "node_s_session_marts": round(sum(t for t, _ in times) - readout, 1),
            "slowest": {name: round(t, 2) for t, name in times[:8]}}


def _bench_size(tmp_path: Path, n: int) -> dict:
    """One size: full build, then the every-load job after one new file, then the readout job."""
    days = max(1, n // 250_000)
    src = tmp_path / "src"
    truth = generate_cli(src, "--days", str(days), "--sessions-per-day", str(n // days), "--redeliver", "2",
                         "--reemit", "0.05", "--seed", "3")
    root = session_stream_root(src, ACCOUNT)
    newest = sorted(root.rglob("*.json.gz"), key=lambda p: p.name)[-1]
    served = tmp_path / "served"
    shutil.copytree(root, served, ignore=lambda d, names: [x for x in names if x == newest.name])
    wh = Warehouse(tmp_path, "duckdb", name="bench", dbt_vars={"mart_lookback_hours": 0})
    t_load = _seconds(wh.load, served)
    wh.dbt("seed")
    full_run, full_test = _timed_dbt(wh, "run"), _timed_dbt(wh, "test")

    rel = newest.relative_to(root)
    (served / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(newest, served / rel)
    wh.load(served)
    incr_run = _timed_dbt(wh, "run", "--selector", "session_marts")
    wh.dbt_vars["monetate_test_scope_minutes"] = 1
    incr_test = _timed_dbt(wh, "test", "--selector", "session_marts")
    del wh.dbt_vars["monetate_test_scope_minutes"]
    readout = _timed_dbt(wh, "run", "--selector", "experiment_readout")
    (sessions,), = wh.query("select count(*) from {mart}.sessions")
    assert sessions == truth["dedup"]["sessions"]
    return {
        "sessions": sessions, "raw_session_lines": truth["raw"]["sessions"], "files": truth["raw"]["files"],
        "load_s": round(t_load, 1),
        "full_dbt_run": full_run, "full_dbt_test": full_test,
        "incremental_dbt_run": incr_run, "incremental_dbt_test_scoped": incr_test, "readout_dbt_run": readout,
        "ratio_incremental_to_full_model_time": round(incr_run["node_s"] / full_run["node_s"], 3),
        "ratio_incremental_to_full_session_marts_model_time": round(
            incr_run["node_s"] / full_run["node_s_session_marts"], 3),
        "ratio_incremental_to_full_wall": round(incr_run["wall_s"] / full_run["wall_s"], 3),
        "ratio_incremental_build_to_full_build_wall": round(
            (incr_run["wall_s"] + incr_test["wall_s"]) / (full_run["wall_s"] + full_test["wall_s"]), 3),
    }


@pytest.mark.timeout(14400)
def test_dbt_incremental_cost_follows_new_data(tmp_path: Path) -> None:
    results = {}
    for n in _sizes():
        results[str(n)] = _bench_size(tmp_path / str(n), n)
        print(f"\n{n:,} sessions:\n" + json.dumps(results[str(n)], indent=2), flush=True)
    first = results[str(_sizes()[0])]
    for n in _sizes()[1:]:
        later = results[str(n)]
        results[f"ratio_{n}_to_{_sizes()[0]}"] = {
            "incremental_model_time": round(later["incremental_dbt_run"]["node_s"]
                                            / first["incremental_dbt_run"]["node_s"], 3),
            "incremental_wall": round(later["incremental_dbt_run"]["wall_s"]
                                      / first["incremental_dbt_run"]["wall_s"], 3),
            "incremental_scoped_test_wall": round(later["incremental_dbt_test_scoped"]["wall_s"]
                                                  / first["incremental_dbt_test_scoped"]["wall_s"], 3),
            "full_model_time": round(later["full_dbt_run"]["node_s"] / first["full_dbt_run"]["node_s"], 3),
        }
        print(json.dumps({k: v for k, v in results.items() if k.startswith("ratio_")}, indent=2))
    if os.environ.get("SESSION_STREAM_DBT_BENCH_OUT"):
        Path(os.environ["SESSION_STREAM_DBT_BENCH_OUT"]).write_text(json.dumps(results, indent=2))


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
