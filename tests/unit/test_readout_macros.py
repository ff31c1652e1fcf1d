"""Readout macros (macros/experiment_readout.sql) run in DuckDB in-process on hand-made rows, against scipy/numpy.

The multiple-testing step reads `readout_rows` (one row per experience and split with every metric's p-value);
here that is a small table with ties, NULLs and two experiences, and the adjusted p-values must equal Holm's
definition (numpy) and scipy's Benjamini-Hochberg. The e2e readout test checks the same step on real builds.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from scipy import stats
from support.readout_check import METRICS, adjust_p_values
from support.sql_macros import CompilerError, macros

FILES = ("macros/statistics.sql", "macros/experiment_readout.sql", "macros/experiments.sql")
ROWS = {  # (experience, split) -> p-values of conversion_rate, revenue_per_visitor, the rest NULL
    ("1", 11): (0.010, 0.040),
    ("1", 12): (0.030, 0.030),  # a tie with the row above
    ("1", 13): (0.200, None),  # a guarded (NULL) p-value is no test
    ("1", 14): (0.0005, 0.9),
    ("2", 21): (0.049, 0.051),
    ("3", 31): (None, None),  # no test at all: no family
}


def _readout_rows(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f"{m}_p_value double" for m in METRICS)
    con.execute(f"create table readout_rows (experience_key varchar, split_id bigint, {cols})")
    for (key, sid), (conv, rpv) in ROWS.items():
        con.execute("insert into readout_rows (experience_key, split_id, conversion_rate_p_value,"
                    " revenue_per_visitor_p_value) values (?, ?, ?, ?)", [key, sid, conv, rpv])


def _reference(method: str) -> dict:
    rows = {k: {f"{m}_p_value": None for m in METRICS} for k in ROWS}
    for k, (conv, rpv) in ROWS.items():
        rows[k].update(conversion_rate_p_value=conv, revenue_per_visitor_p_value=rpv)
    return adjust_p_values(rows, ("conversion_rate", "revenue_per_visitor"), method)


@pytest.mark.parametrize("method", ["holm", "bh", "none"])
def test_adjusted_p_values_match_the_definitions(method: str) -> None:
    con = duckdb.connect()
    _readout_rows(con)
    m = macros("duckdb", *FILES, variables={"experiment_multiple_testing": method})
    sql = f"with {m.experiment_readout_adjusted()} select * from final"
    cols = [d[0] for d in con.execute(sql).description]
    got = {(r["experience_key"], r["split_id"]): r for r in (dict(zip(cols, row, strict=True))
                                                            for row in con.execute(sql).fetchall())}
    want = _reference(method)
    assert set(got) == set(want)
    for k, w in want.items():
        for col in ("conversion_rate_p_value_adjusted", "revenue_per_visitor_p_value_adjusted",
                    "orders_per_visitor_p_value_adjusted", "conversion_rate_is_significant_adjusted",
                    "multiple_testing_family_size", "multiple_testing_method"):
            g = got[k][col]
            if isinstance(w[col], float):
                assert g == pytest.approx(w[col], rel=1e-12), (method, k, col)
            else:
                assert g == w[col], (method, k, col, g, w[col])
    assert got[("1", 11)]["multiple_testing_family_size"] == 7
    assert got[("3", 31)]["multiple_testing_family_size"] is None
    if method == "holm":  # by hand: sorted p 0.0005, 0.01, 0.03, 0.03, 0.04, 0.2, 0.9 with m = 7
        assert got[("1", 14)]["conversion_rate_p_value_adjusted"] == pytest.approx(0.0035)
        assert got[("1", 11)]["conversion_rate_p_value_adjusted"] == pytest.approx(0.06)
        tie = got[("1", 12)]
        assert tie["conversion_rate_p_value_adjusted"] == tie["revenue_per_visitor_p_value_adjusted"]
        assert got[("1", 14)]["revenue_per_visitor_p_value_adjusted"] == pytest.approx(0.9)  # max(.., 1 x 0.9)


def test_the_bh_reference_is_the_definition() -> None:
    """By hand, min over j >= i of m p_(j) / j with m = 7 (rank 3: min(0.07, 0.0525, ..) = 0.0525)."""
    p = np.array([0.0005, 0.01, 0.03, 0.03, 0.04, 0.2, 0.9])
    assert np.allclose(stats.false_discovery_control(p), [0.0035, 0.035, 0.0525, 0.0525, 0.056, 0.2 * 7 / 6, 0.9])


@pytest.mark.parametrize(("name", "value"), [("experiment_multiple_testing", "bonferroni"),
                                             ("experiment_primary_metrics", ["conversion"]),
                                             ("experiment_primary_metrics", "conversion_rate"),
                                             ("experiment_alpha", 0.7), ("experiment_alpha", 0)])
def test_a_wrong_setting_stops_the_build(name: str, value: object) -> None:
    with pytest.raises(CompilerError, match=name):
        macros("duckdb", *FILES, variables={name: value}).experiment_readout_adjusted()


@pytest.mark.parametrize(("alpha", "z"), [(0.05, 1.959963984540054), (0.1, 1.6448536269514722),
                                          (0.01, 2.5758293035489004)])
def test_the_level_sets_the_quantile_of_every_interval(alpha: float, z: float) -> None:
    m = macros("duckdb", *FILES, variables={"experiment_alpha": alpha})
    (got,), = duckdb.connect().execute(f"select cast({m.experiment_z()} as double)").fetchall()
    assert got == pytest.approx(z, rel=1.2e-9)


@pytest.mark.parametrize(("name", "value", "macro"), [("experiment_min_units_per_arm", 2, "experiment_min_units"),
                                                     ("experiment_min_events_per_arm", 0, "experiment_min_events"),
                                                     ("experiment_srm_alpha", 1.5, "experiment_srm_alpha"),
                                                     ("experiment_window_hours", 0, "experiment_window_hours"),
                                                     ("experiment_window_hours", 1.5, "experiment_window_hours")])
def test_a_minimum_or_threshold_out_of_range_stops_the_build(name: str, value: float, macro: str) -> None:
    """Below 3 units the Welch df can fall under 2 (where the t quantile is not accurate); below 1 event a mean
    can be 0 and its log undefined."""
    with pytest.raises(CompilerError, match=name):
        getattr(macros("duckdb", *FILES, variables={name: value}), macro)()
    assert getattr(macros("duckdb", *FILES), macro)() in (100, 5, 0.001, None)


@pytest.mark.parametrize(("rule", "message"), [({"revenue": {"percentile": 1.5}}, "in \\(0, 1\\)"),
                                               ({"revenue": {"absolute": 0}}, "above 0"),
                                               ({"page_views": {"absolute": 3}}, "page_views"),
                                               ({"revenue": {"percentile": 0.9, "absolute": 3}}, "revenue")])
def test_a_wrong_capping_stops_the_build(rule: dict, message: str) -> None:
    with pytest.raises(CompilerError, match=message):
        macros("duckdb", *FILES, variables={"experiment_capping": rule}).experiment_capping()
