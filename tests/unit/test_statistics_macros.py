"""The statistics macros (macros/statistics.sql) evaluated in DuckDB on a grid of values, against scipy.

In-process: the macros are rendered with a plain Jinja shim (``support.sql_macros``), no dbt, no server. The same
grid runs on PostgreSQL in tests/e2e/test_experiment_readout.py. Tolerance: 1e-6 relative (documented accuracy of
the approximations: ~1.1e-7 worst case).
"""

from __future__ import annotations

import duckdb
import pytest
from support.readout_check import assert_grid, grid_values
from support.sql_macros import render


def test_statistics_macros_match_scipy_on_duckdb() -> None:
    con = duckdb.connect()
    assert_grid(grid_values(lambda sql: con.execute(sql).fetchall(), "duckdb"))


def test_default_dialect_sql_matches_scipy_when_run_on_duckdb() -> None:
    """The default__ versions (PostgreSQL/Redshift: Lanczos lgamma, guarded exp) are as accurate: run them in DuckDB."""
    con = duckdb.connect()
    assert_grid(grid_values(lambda sql: con.execute(sql.replace("double precision", "double")).fetchall(), "redshift"))


@pytest.mark.parametrize("adapter", ["duckdb", "postgres", "redshift"])
def test_dispatch_picks_the_dialect_version(adapter: str) -> None:
    sql = render(adapter, "stat_t_two_sided_p", "t", "df")
    assert ("lgamma(" in sql) == (adapter == "duckdb")
    assert ("-700.0" in render(adapter, "stat_exp", "x")) == (adapter != "duckdb")


def test_invalid_arguments_give_null() -> None:
    con = duckdb.connect()
    t = render("duckdb", "stat_t_two_sided_p", "t", "df")
    c = render("duckdb", "stat_chi2_sf", "x", "df")
    rows = con.execute(f"select {t} from (values (1.0, 0.0), (null, 5.0), (2.0, null)) as g(t, df)").fetchall()
    assert rows == [(None,), (None,), (None,)]
    assert con.execute(f"select {c} from (values (3.0, 21), (3.0, 0)) as g(x, df)").fetchall() == [(None,), (None,)]
