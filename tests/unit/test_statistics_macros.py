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


def test_a_statistic_of_exactly_zero_gives_p_exactly_one() -> None:
    """erfc's fit is 1 + 3e-8 at 0: unclamped, a tie (z = t = 0) gave p = 1.00000003, outside [0, 1]."""
    con = duckdb.connect()
    for adapter in ("duckdb", "redshift"):
        z = render(adapter, "stat_normal_two_sided_p", "z")
        cdf = render(adapter, "stat_normal_cdf", "z")
        t = render(adapter, "stat_t_two_sided_p", "t", "df")
        c = render(adapter, "stat_chi2_sf", "x", "df")
        sql = lambda q: q.replace("double precision", "double")  # noqa: E731
        assert con.execute(sql(f"select {z}, {cdf} from (values (cast(0 as double))) as g(z)")).fetchall() == [
            (1.0, 0.5)]
        got = con.execute(sql(f"select {t} from (values (0.0, 0.7), (0.0, 5.0), (0.0, 99.9), (0.0, 150.0),"
                              " (0.0, 1e6)) as g(t, df)")).fetchall()
        assert got == [(1.0,)] * 5, (adapter, got)
        got = con.execute(sql(f"select {c} from (select cast(x as double) as x, df from (values (0.0), (1e-12),"
                              " (1e-9)) as a(x), range(1, 21) as b(df))")).fetchall()
        assert all(p == 1.0 or 0.999 < p < 1.0 for (p,) in got), (adapter, got)


def test_every_probability_stays_within_zero_and_one() -> None:
    """A dense grid, tails and near-zero statistics included: no p-value or CDF leaves [0, 1]."""
    con = duckdb.connect()
    stats_ = [i / 1000 for i in range(0, 50)] + [i / 10 for i in range(0, 400)] + [1e-9, 1e-12, 1e-15]
    values = ", ".join(f"({v!r})" for v in stats_ + [-v for v in stats_])
    z = render("duckdb", "stat_normal_two_sided_p", "s")
    cdf = render("duckdb", "stat_normal_cdf", "s")
    t = render("duckdb", "stat_t_two_sided_p", "s", "df")
    c = render("duckdb", "stat_chi2_sf", "abs(s)", "df")
    rows = con.execute(f"select min(least({z}, {cdf}, {t}, {c})), max(greatest({z}, {cdf}, {t}, {c})), count(*)"
                       f" from (select cast(s as double) as s, df from (values {values}) as g(s),"
                       " range(1, 21) as d(df))").fetchall()
    low, high, n = rows[0]
    assert n == len(stats_) * 2 * 20 and 0.0 <= low and high <= 1.0, rows


@pytest.mark.parametrize("adapter", ["duckdb", "redshift"])
def test_t_quantile_matches_scipy(adapter: str) -> None:
    """Hill's start plus one Newton step: within 3e-7 of scipy's t.ppf for df >= 2 (the readout's intervals)."""
    from scipy import stats

    con = duckdb.connect()
    grid = [(df, alpha, float(stats.norm.ppf(1 - alpha / 2)))
            for df in (2.0, 2.3, 2.9, 3.0, 4.5, 7.0, 12.7, 29.0, 99.0, 250.5, 1e3, 4.4e4, 1e6)
            for alpha in (0.05, 0.01, 0.1, 0.2)]
    values = ", ".join(f"({df!r}, {alpha!r}, {z!r}, {i})" for i, (df, alpha, z) in enumerate(grid))
    start = render(adapter, "stat_t_quantile_start", "df", "alpha", "z")
    refine = render(adapter, "stat_t_quantile_refine", "q0", "df", "alpha")
    sql = (f"select i, {refine} from (select i, df, alpha, {start} as q0 from (select i,"
           " cast(df as double precision) as df, cast(alpha as double precision) as alpha,"
           f" cast(z as double precision) as z from (values {values}) as g(df, alpha, z, i)) as a) as b order by i")
    rows = con.execute(sql.replace("double precision", "double")).fetchall()
    want = [float(stats.t.ppf(1 - alpha / 2, df)) for df, alpha, _ in grid]
    bad = [(grid[i], q, want[i]) for i, q in rows if abs(q / want[i] - 1) > 3e-7]
    assert len(rows) == len(grid) and not bad, bad
    below = con.execute(f"select {render(adapter, 'stat_t_quantile_start', 'df', '0.05', '1.96')} from"
                        " (values (1.5), (null)) as g(df)".replace("double precision", "double")).fetchall()
    assert below == [(None,), (None,)]


def test_normal_quantile_matches_scipy() -> None:
    """Acklam's approximation, central region and both tails: within 1.2e-9 of scipy's norm.ppf."""
    from scipy import stats
    from support.sql_macros import macros

    con = duckdb.connect()
    for adapter in ("duckdb", "redshift"):
        m = macros(adapter)
        for p in (0.5, 0.6, 0.95, 0.975, 0.97575, 0.99, 0.995, 0.9995, 1 - 1e-7, 0.001, 0.02, 0.3):
            sql = str(m.stat_normal_quantile(p)).replace("double precision", "double")
            (got,), = con.execute(f"select cast({sql} as double)").fetchall()
            assert got == pytest.approx(float(stats.norm.ppf(p)), rel=1.2e-9, abs=1e-15), (adapter, p)
