"""Crash safety reaches the marts: a loader killed mid-load, then re-run, gives marts equal to the ground truth.

The raw-table side of this is proved in tests/e2e/test_reliability.py; here the same crash is followed by
`dbt build` so the promise "no missing and no duplicate rows in the marts" is checked where analysts read it.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from support.dbt import WITHOUT_READOUT, Warehouse, assert_matches_truth, build_and_check


@pytest.mark.timeout(900)
@pytest.mark.parametrize("points", [["after_normalize"], ["during_load", "loads_row_committed"]],
                         ids=["after_normalize", "during_load-then-loads_row_committed"])
def test_kill_9_then_rerun_gives_exact_marts(tmp_path: Path, points: list[str],
                                             mart_data: tuple[dict, Path]) -> None:
    """Killed at each of `points` in turn (the second kill hits the run that finishes the first's package,
    right after its `_dlt_loads` row), then a plain run: `dbt build` passes, its unique test on
    `_dlt_loads.load_id` included, and the marts equal the truth."""
    truth, source = mart_data
    wh = Warehouse(tmp_path, "duckdb", name="crash")
    for point in points:
        crashed = wh.load_run(source, env={"SESSION_STREAM_TEST_CRASH_AT": point})
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    rerun = wh.load_run(source)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    build_and_check(wh, *WITHOUT_READOUT)
    assert_matches_truth(wh, truth)
