"""End-to-end proof of the experiment readout: generated experiences -> loader + metadata -> dbt -> readout marts.

One build per engine (one test each, so parallel workers never build an engine twice), DuckDB and PostgreSQL,
of the demo's generated day (seed 7, 20,000 sessions:
the size at which the design's planted effect is significant; A/A, 55/45 SRM and no-control experiences) plus a
hand-made file with the edge cases the generator does not make: a split with a single visitor and a split whose
visitors never buy (zero conversions; both ids unknown to the metadata, so each is its own group), and a visitor who
saw both splits of the A/A experience (excluded, counted); and the planted experiences of
``support.readout_plants`` (identical arms, six conversions against none, no variance, one order against two, tiny
splits), which the stand-in Metadata API serves with a control.
The metadata comes from the stand-in API through the real source (``monetate_metadata``).

Every figure of ``experiment_results`` and ``experiment_results_daily`` (and the headline columns of
``experiment_results_by_session``) is compared with ``support.readout_check``, which recomputes them with
numpy/scipy from the per-visitor values it derives from the files itself, to 1e-6 relative. The statistics macros'
grid runs on PostgreSQL too (the DuckDB run is tests/unit/test_statistics_macros.py).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import dlt
import pytest
from support.data import ACCOUNT, window_name
from support.dbt import Warehouse
from support.readout_check import (
    assert_grid,
    by_session,
    compare,
    exposures,
    grid_values,
    max_difference,
    read_sessions,
    results,
    split_info,
)
from support.readout_plants import (
    GUARDRAIL_DROP,
    ONE_VS_TWO,
    PLANTS,
    SIX_VS_NONE,
    TIE,
    TINY,
    planted_catalog,
    planted_sessions,
    planted_split_info,
)

from dlt_pipeline.metadata_api import monetate_metadata
from dlt_pipeline.synthetic.generator import (
    GeneratorConfig,
    generate,
    make_session,
    session_stream_root,
    write_session_file,
)
from dlt_pipeline.synthetic.metadata_catalog import metadata_catalog
from dlt_pipeline.synthetic.metadata_server import MetadataApiServer, demo_key_pair

CONFIG = GeneratorConfig(start_date=dt.date(2026, 11, 1), days=1, sessions_per_day=20_000, seed=7)
SELECT = "path:models/marts/experiments"
ONE_VISITOR_SPLIT = 3_999_002  # unknown to the metadata: one visitor
NO_BUYER_SPLIT = 3_999_001  # unknown to the metadata: its own group, five visitors, no purchase
USER, RETAILER = "api-user", "demo"
CAPPING_VARS = {"revenue": {"percentile": 0.999}, "orders": {"absolute": 2}, "sessions": {"percentile": 0.99}}
"""var experiment_capping of the build: every kind of cap (the default caps revenue only, the same way)."""
CAPPING = {y: next(iter(rule.items())) for y, rule in CAPPING_VARS.items()}
ALPHA = 0.1
"""var experiment_alpha of the build (not the default 0.05: the level must reach every interval and test)."""
WINDOW_HOURS = 6
"""var experiment_window_hours of the build: outcomes up to 6 hours after the first exposure (the day's returning
visitors come back later too, so the window cuts)."""
DBT_VARS = {"experiment_capping": CAPPING_VARS, "experiment_guardrail_metrics": ["sessions_per_visitor"],
            "experiment_alpha": ALPHA, "experiment_window_hours": WINDOW_HOURS}


def _plain(visitor: str, start_ms: int, offers: dict[int, int]) -> dict[str, Any]:
    """A valid closed session of `visitor` without purchases (nor stealth, nor cap) that saw `offers`."""
    seed = 0
    while True:
        doc = make_session(ACCOUNT, start_ms, seed=seed)
        if not doc["purchase_count"] and doc["has_stealth"] == "f" and len(doc["view_lines"]) < 1000:
            break
        seed += 1
    guid = f"{ACCOUNT}:{visitor}"
    doc.update(guid=guid, session_id=f"{guid}:0:{doc['start_time']}:{doc['end_time']}", has_stealth="f",
               offers={str(k): start_ms + v for k, v in offers.items()})
    return doc


def _edge_cases(out: Path) -> None:
    day = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    base = int(day.timestamp() * 1000)
    lines = [_plain("9.0000000001.1", base + 1000, {ONE_VISITOR_SPLIT: 500})]
    lines += [_plain(f"9.000000001{i}.1", base + 2000 + i * 1000, {NO_BUYER_SPLIT: 100}) for i in range(5)]
    # the same visitor in both splits of the A/A experience, in two sessions two hours apart
    lines += [_plain("9.0000000099.1", base + 3000, {3_102_001: 100}),
              _plain("9.0000000099.1", base + 2 * 3_600_000, {3_102_002: 100})]
    write_session_file(out, ACCOUNT, window_name(day.date(), "2345", 1_795_000_000_001), lines)
    write_session_file(out, ACCOUNT, window_name(day.date(), "2345", 1_795_000_000_002),
                       planted_sessions(ACCOUNT, day.date()))


@pytest.fixture(scope="module")
def readout_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("readout_data")
    generate(out, account_id=ACCOUNT, start_date=CONFIG.start_date, days=CONFIG.days,
             sessions_per_day=CONFIG.sessions_per_day, seed=CONFIG.seed)
    _edge_cases(out)
    return out


@pytest.fixture(scope="module")
def reference(readout_data: Path) -> dict[str, Any]:
    sessions = read_sessions(readout_data, ACCOUNT)
    splits = {**split_info(CONFIG), **planted_split_info()}
    visitors = exposures(sessions, splits, window_hours=WINDOW_HOURS)
    return {"sessions": sessions, "splits": splits, "visitors": visitors,
            "results": results(visitors, splits, capping=CAPPING, alpha=ALPHA)}


def _refresh_metadata(wh: Warehouse) -> None:
    private_pem, public_pem = demo_key_pair()
    with planted_catalog():
        catalog = metadata_catalog(CONFIG)
    with MetadataApiServer(catalog, public_pem, username=USER, retailer=RETAILER) as api:
        if wh.postgres is not None:
            destination: Any = dlt.destinations.postgres(credentials=wh.postgres.dsn)
        else:
            destination = dlt.destinations.duckdb(str(wh.duckdb_path))
        pipeline = dlt.pipeline(f"metadata_{wh.schema}", destination=destination, dataset_name=wh.raw_schema,
                                pipelines_dir=str(wh.tmp / "meta_pipelines"))
        pipeline.run(monetate_metadata(base_url=api.base_url, retailer=RETAILER, api_username=USER,
                                       private_key=private_pem.decode()))


def _build(kind: str, request: pytest.FixtureRequest, readout_data: Path, tmp: Path) -> Warehouse:
    """Load the readout data and the metadata into `kind`, then build the readout and everything it reads."""
    pg = request.getfixturevalue("postgres") if kind == "postgres" else None
    wh = Warehouse(tmp, kind, pg=pg, name=f"readout_{kind}", dbt_vars=DBT_VARS)
    wh.load(session_stream_root(readout_data, ACCOUNT))
    _refresh_metadata(wh)
    # the readout and everything it reads (seed included), with the tests whose parents are all selected
    out = wh.dbt("build", "--select", f"+{SELECT}", "--indirect-selection", "cautious")
    assert "Completed successfully" in out, out[-4000:]
    return wh


def _rows(wh: Warehouse, relation: str, *keys: str) -> dict[tuple, dict[str, Any]]:
    cursor_rows = wh.query(f"select * from {{mart}}.{relation}")
    cols = [r[0] for r in wh.query(
        f"select column_name from information_schema.columns where table_schema = '{wh.schema}'"
        f" and table_name = '{relation}' order by ordinal_position")]
    out = {}
    for row in cursor_rows:
        d = dict(zip(cols, row, strict=True))
        out[tuple(str(d[k]) if k == "readout_date" else d[k] for k in keys)] = d
    return out


# ------------------------------------------------------------------------------------------------ tests


def _results_match_the_python_reference(built: Warehouse, reference: dict[str, Any]) -> None:
    got = _rows(built, "experiment_results", "experience_key", "split_id")
    problems = compare(got, reference["results"])
    assert not problems, "\n".join(problems[:30])
    worst_abs, worst_rel, where = max_difference(got, reference["results"])
    print(f"experiment_results vs numpy/scipy: max abs {worst_abs:.3g}, max rel {worst_rel:.3g} ({where})")


def _daily_results_match_the_reference_for_every_day(built: Warehouse, reference: dict[str, Any]) -> None:
    got = _rows(built, "experiment_results_daily", "experience_key", "split_id", "readout_date")
    days = sorted({k[2] for k in got})
    assert days
    for day in days:
        want = results(reference["visitors"], reference["splits"], until=dt.date.fromisoformat(day), capping=CAPPING,
                       alpha=ALPHA)
        problems = compare({k[:2]: v for k, v in got.items() if k[2] == day}, want)
        assert not problems, f"{day}:\n" + "\n".join(problems[:30])
    # the last day is the whole readout
    last = {k[:2]: v for k, v in got.items() if k[2] == days[-1]}
    assert not compare(last, reference["results"])


def _session_level_table_matches_the_sessions(built: Warehouse, reference: dict[str, Any]) -> None:
    got = _rows(built, "experiment_results_by_session", "experience_key", "split_id")
    problems = compare(got, by_session(reference["sessions"], reference["splits"]))
    assert not problems, "\n".join(problems[:30])


def _the_readout_tells_the_planted_truths(built: Warehouse) -> None:
    r = _rows(built, "experiment_results", "experience_key", "split_id")
    effect = r[("210101", 3_101_002)]
    assert effect["conversion_rate_is_significant"] and effect["conversion_rate_rel_lift"] > 0
    assert effect["conversion_rate_rel_lift_ci_low"] > 0
    aa = r[("210102", 3_102_002)]
    assert not aa["conversion_rate_is_significant"] and not aa["revenue_per_visitor_is_significant"]
    assert aa["experience_multi_split_visitors"] == 1  # the hand-made visitor in both splits
    for (key, _), row in r.items():
        assert row["srm_detected"] == (key == "210103") if row["srm_p_value"] is not None else True, (key, row)
    assert "sample ratio mismatch" in r[("210103", 3_103_002)]["readout_warning"]
    no_control = [row for (key, _), row in r.items() if key == "210104"]
    assert len(no_control) == 2
    for row in no_control:
        assert row["control_split_id"] is None and row["conversion_rate_p_value"] is None
        assert "no control split" in row["readout_warning"]
    one = r[(f"split-{ONE_VISITOR_SPLIT}", ONE_VISITOR_SPLIT)]
    assert one["n_visitors"] == 1 and one["revenue_per_visitor_sd"] is None and one["revenue_per_visitor_se"] is None
    assert one["revenue_per_visitor"] == 0 and one["conversion_rate_se"] == 0
    assert "1 visitors, below the minimum of 100 per split" in one["split_warning"]
    assert one["readout_warning"] == "no control split"
    no_buyer = r[(f"split-{NO_BUYER_SPLIT}", NO_BUYER_SPLIT)]
    assert no_buyer["n_visitors"] == 5 and no_buyer["sum_converted"] == 0 and no_buyer["conversion_rate"] == 0
    assert no_buyer["average_order_value"] is None
    _planted_truths(r)
    # CUPED: the pre-period outcome removes variance (one day of data: only same-day returning visitors have one)
    best = max((row for row in r.values() if row["revenue_per_visitor_cuped_variance_reduction"] is not None),
               key=lambda row: row["revenue_per_visitor_cuped_variance_reduction"])
    assert best["revenue_per_visitor_cuped_variance_reduction"] > 0
    assert best["revenue_per_visitor_cuped_se_diff"] < best["revenue_per_visitor_se_diff"]


def _planted_truths(r: dict[tuple, dict[str, Any]]) -> None:
    """The planted experiences: exact p = 1 on a tie, NULL and a warning (not a number) on every degenerate case."""
    assert {(str(p.experience_id), sid) for p in PLANTS for sid in p.split_ids} <= set(r)
    row = {p.name: r[(str(p.experience_id), p.split_ids[1])] for p in PLANTS}
    control = {p.name: r[(str(p.experience_id), p.split_ids[0])] for p in PLANTS}
    tie = row[TIE.name]  # identical arms: every statistic is exactly 0, every p-value exactly 1 (not 1.00000003)
    for col in ("conversion_rate", "revenue_per_visitor", "orders_per_visitor", "sessions_per_visitor",
                "average_order_value", "revenue_per_visitor_cuped", "conversion_rate_cuped"):
        assert tie[f"{col}_abs_lift"] == 0 and tie[f"{col}_p_value"] == 1.0, (col, tie[f"{col}_p_value"])
    assert tie["split_warning"] is None and control[TIE.name]["split_warning"] is None
    six = row[SIX_VS_NONE.name]  # 6 conversions against 0, everyone one session
    assert six["sum_converted"] == 6 and control[SIX_VS_NONE.name]["sum_converted"] == 0
    for col in ("conversion_rate", "revenue_per_visitor", "orders_per_visitor", "average_order_value",
                "sessions_per_visitor", "conversion_rate_cuped", "revenue_per_visitor_cuped"):
        assert six[f"{col}_p_value"] is None and six[f"{col}_rel_lift_ci_low"] is None, col
    for text in ("fewer than 5 conversions", "fewer than 5 orders", "no variance in sessions per visitor"):
        assert text in six["split_warning"], six["split_warning"]
    assert control[SIX_VS_NONE.name]["conversion_rate_ci_low"] == 0.0  # Wilson: 0 of 120, never below 0
    assert 0 < control[SIX_VS_NONE.name]["conversion_rate_ci_high"] < 0.04
    assert six["revenue_capped_visitors"] == 1 and abs(six["revenue_cap"] - 59.95) < 1e-9  # p99.9 of 10, 20, .., 60
    assert six["orders_cap"] == 2 and six["sessions_cap"] == 1 and six["orders_capped_visitors"] == 0
    two = row[ONE_VS_TWO.name]  # one order against two: no order or revenue comparison
    assert two["average_order_value_p_value"] is None and two["revenue_per_visitor_p_value"] is None
    assert two["sessions_per_visitor_p_value"] is not None  # its guard (units) holds: it is compared
    assert "fewer than 5 orders" in two["split_warning"]
    tiny, tiny_control = row[TINY.name], control[TINY.name]  # 4 and 3 visitors
    assert "4 visitors, below the minimum of 100 per split" in tiny["split_warning"]
    assert "3 visitors, below the minimum of 100 per split" in tiny_control["split_warning"]
    assert tiny["conversion_rate_p_value"] is None and tiny["revenue_per_visitor_ci_low"] is None
    assert 0 <= tiny["conversion_rate_ci_low"] < tiny["conversion_rate"] < tiny["conversion_rate_ci_high"] <= 1
    drop = row[GUARDRAIL_DROP.name]
    assert drop["sessions_per_visitor_p_value"] < 0.001 and drop["sessions_per_visitor_abs_lift"] < 0
    assert "guardrail sessions per visitor is significantly worse" in drop["split_warning"]
    # every order 20.00 in both arms: order value has no variance (not float noise of 1e-7 passed off as a CI)
    assert "no variance in average order value" in drop["split_warning"]
    assert drop["average_order_value_se"] == 0 and drop["average_order_value_p_value"] is None
    for x in r.values():  # a guardrail warning exactly where the guardrail is significantly worse
        worse = x["sessions_per_visitor_p_value"] is not None and x["sessions_per_visitor_p_value"] < ALPHA \
            and x["sessions_per_visitor_abs_lift"] < 0
        assert ("guardrail sessions per visitor" in (x["split_warning"] or "")) == worse, x["split_warning"]
    for key, x in r.items():  # ranges: every relative bound above -100 %, every rate interval within [0, 1]
        assert 0 <= x["conversion_rate_ci_low"] <= x["conversion_rate_ci_high"] <= 1, key
        for col in [c for c in x if c.endswith("rel_lift_ci_low") and x[c] is not None]:
            assert x[col] > -1, (key, col, x[col])


def test_postgres_runs_the_statistics_macros_like_scipy(postgres: Any, tmp_path: Path) -> None:  # noqa: ANN401
    wh = Warehouse(tmp_path, "postgres", pg=postgres, name="stat_grid")
    assert_grid(grid_values(wh.sql, "postgres"))


def _demo_summary_prints_the_readout(built: Warehouse) -> None:
    """The part of the demo's summary that prints the readout (the rest reads marts this build leaves out)."""
    import duckdb

    from dlt_pipeline.mart_summary import print_readout, readout

    con = duckdb.connect(str(built.duckdb_path), read_only=True)
    try:
        experiments = readout(con, built.schema)
    finally:
        con.close()
    buf = io.StringIO()
    print_readout(experiments, file=buf)
    text = buf.getvalue()
    print(text)  # the demo's readout, for the record (pytest -s)
    assert "Sitewide free shipping banner" in text and "SRM DETECTED" in text and "no control split" in text
    assert any(e["experience_key"] == "210103" and e["srm_detected"] for e in experiments)


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_readout_equals_numpy_scipy_and_tells_the_planted_truths(kind: str, request: pytest.FixtureRequest,
                                                                 readout_data: Path, reference: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    """One build per engine (a build is most of the time), then every check against it, in order."""
    built = _build(kind, request, readout_data, tmp_path)
    _results_match_the_python_reference(built, reference)
    _daily_results_match_the_reference_for_every_day(built, reference)
    _session_level_table_matches_the_sessions(built, reference)
    _the_readout_tells_the_planted_truths(built)
    if kind == "duckdb":
        _demo_summary_prints_the_readout(built)
