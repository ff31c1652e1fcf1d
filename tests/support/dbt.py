"""The dbt project's end-to-end helpers: a warehouse the loader and `dbt` both use, and the marts' ground truth.

dbt runs as a subprocess from the repository root with ``--profiles-dir`` pointing at a temp folder holding a
copy of ``profiles.example.yml`` (exactly what a user does), and its own target/log paths.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dlt_pipeline.synthetic.design import page_event_design
from dlt_pipeline.synthetic.generator import GeneratorConfig, visitor_digest
from support.loader import REPO, Target, loader_env, run_or_fail

BIN = Path(sys.executable).parent
MARTS = ("sessions", "offer_exposures", "purchase_items", "visitors", "visitor_customer_map",
         "session_conversion_events", "session_extra_items")
DBT_TIMEOUT = 600
GEN_ARGS = ("--days", "2", "--sessions-per-day", "1200", "--files-per-window", "2", "--redeliver", "2",
            "--reemit", "0.3", "--seed", "11")
"""The generated data of the mart tests: late sessions, re-emitted closed versions, re-delivered files."""
CONVERSION_EVENTS = [
    {"name": name, "page_event_id": e.event_id}
    for name, e in zip(("signup", "wishlist_add"),
                       [e for e in page_event_design(GeneratorConfig(seed=11)) if e.in_sessions], strict=False)
]
"""var conversion_events of every test build: two page events the sessions of GEN_ARGS (seed 11) fire."""
REPORTING_TIME_ZONE = "America/New_York"
"""var reporting_time_zone of every test build (UTC would hide a wrong conversion)."""
WITHOUT_READOUT = ("--exclude", "path:models/marts/experiments", "int_monetate__experiment_first_exposures")
"""dbt flags for builds that prove the session marts: the experiment readout (tables rebuilt from the marts' inputs
on every run) has its own build per engine in tests/e2e/test_experiment_readout.py, checked against numpy/scipy."""


class Warehouse(Target):
    """One destination (DuckDB file or PostgreSQL schema pair) plus the env the loader and dbt need.

    Raw tables go to ``raw_<name>``; dbt's target schema is ``an_<name>`` (layers in ``an_<name>_staging`` /
    ``_intermediate``).
    """

    def __init__(self, tmp: Path, kind: str, pg: Any = None, name: str = "t",  # noqa: ANN401
                 dbt_vars: dict | None = None) -> None:
        super().__init__(tmp, postgres=pg if kind == "postgres" else None, dataset=f"raw_{name}")
        self.kind = kind
        self.tmp = tmp
        self.raw_schema = self.dataset
        self.schema = f"an_{name}"
        self.dbt_vars = {"raw_schema": self.raw_schema, "conversion_events": CONVERSION_EVENTS,
                         "reporting_time_zone": REPORTING_TIME_ZONE, **(dbt_vars or {})}
        self.profiles_dir = tmp / "profiles"
        self.profiles_dir.mkdir(exist_ok=True)
        shutil.copy(REPO / "profiles.example.yml", self.profiles_dir / "profiles.yml")

    def env(self) -> dict[str, str]:
        env = {**super().env(), "SESSION_STREAM_DUCKDB": str(self.duckdb_path), "DBT_SCHEMA": self.schema,
               "DBT_TARGET": self.kind, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
        if self.postgres is not None:
            pg = self.postgres
            env.update(DBT_PG_HOST=pg.host, DBT_PG_PORT=str(pg.port), DBT_PG_USER=pg.user,
                       DBT_PG_PASSWORD=pg.password, DBT_PG_DBNAME=pg.database, DBT_PG_SSLMODE="disable")
        return env

    def load_run(self, source: Path, *extra: str, env: dict[str, str] | None = None) -> Any:  # noqa: ANN401
        """One quiet loader run of `source` (by default every day from 2026-10-01 on), whatever its exit code."""
        return self.run("--source", source, *(extra or ("--start-date", "2026-10-01")), "-q", env=env,
                        timeout=DBT_TIMEOUT)

    def load(self, source: Path, *extra: str) -> None:
        """:meth:`load_run` that must succeed (AssertionError with the loader's output otherwise)."""
        proc = self.load_run(source, *extra)
        if proc.returncode != 0:
            raise AssertionError(f"loader failed ({proc.returncode}):\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}")

    def dbt(self, *args: str) -> str:
        cmd = [str(BIN / "dbt"), *args, "--profiles-dir", str(self.profiles_dir),
               "--target-path", str(self.tmp / "dbt_target"), "--log-path", str(self.tmp / "dbt_logs"),
               "--vars", json.dumps(self.dbt_vars)]
        return run_or_fail(cmd, loader_env(self.env()), "dbt " + " ".join(args), DBT_TIMEOUT)

    def query(self, sql: str) -> list[tuple]:
        """Rows of `sql`, with ``{mart}`` standing for dbt's target schema."""
        return self.sql(sql.replace("{mart}", self.schema))

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every row of every mart, normalised and sorted, for exact comparison."""
        out = {}
        relations = {mart: f"{{mart}}.{mart}" for mart in MARTS}
        # the deduplicated sessions are an incremental table too
        relations["int_monetate__sessions_deduped"] = "{mart}_intermediate.int_monetate__sessions_deduped"
        for name, relation in relations.items():
            rows = self.query(f"select * from {relation}")
            out[name] = sorted((tuple(_norm(v) for v in row) for row in rows), key=repr)
        return out


def _norm(v: Any) -> Any:  # noqa: ANN401
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, Decimal):
        return v.normalize()
    return v


def mart_totals(wh: Warehouse) -> dict:
    (sessions, converted, revenue, page_views, items_value_f), = wh.query(
        "select count(*), sum(case when is_converted then 1 else 0 end), sum(session_value), sum(page_views),"
        " sum(purchased_items_value) from {mart}.sessions"
    )
    (exposures,), = wh.query("select count(*) from {mart}.offer_exposures")
    (items, items_value), = wh.query("select count(*), sum(line_value) from {mart}.purchase_items")
    by_day = {
        str(day): {"sessions": int(n), "revenue": round(float(rev), 2)}
        for day, n, rev in wh.query(
            "select session_date, count(*), sum(session_value) from {mart}.sessions"
            " group by session_date order by 1"
        )
    }
    return {
        "visitors": visitor_totals(wh),
        "sessions": int(sessions),
        "converted_sessions": int(converted),
        "revenue": round(float(revenue), 2),
        "offer_exposures": int(exposures),
        "purchase_items": int(items),
        "items_value": round(float(items_value), 2),
        "page_views": int(page_views),
        "by_day": by_day,
        "_items_value_from_fact": round(float(items_value_f), 2),
    }


def visitor_totals(wh: Warehouse) -> dict:
    """The visitor marts' figures in the shape of the generator's ``visitors`` truth (visitor_truth.py)."""
    (n, identified, conflicting, returning, buyers, stitched), = wh.query(
        "select count(*), sum(case when customer_id_count > 0 then 1 else 0 end),"
        " sum(case when has_conflicting_customer_ids then 1 else 0 end), sum(case when is_returning then 1 else 0 end),"
        " sum(case when has_returned_and_bought then 1 else 0 end), count(stitched_customer_id) from {mart}.visitors"
    )
    per_visitor = {str(k): int(v) for k, v in wh.query(
        "select session_count, count(*) from {mart}.visitors group by session_count order by 1")}
    stitched_rows = wh.query(
        "select monetate_id, stitched_customer_id from {mart}.visitors where stitched_customer_id is not null")
    first_rows = wh.query(
        "select monetate_id, session_key from {mart}.sessions where is_first_visitor_session")
    # sessions carries the visitor's stitched id on every session: one per visitor
    (fact_stitch_conflicts,), = wh.query(
        "select count(*) from (select monetate_id from {mart}.sessions group by monetate_id"
        " having count(distinct stitched_customer_id) > 1) x")
    (map_visitors,), = wh.query("select count(distinct monetate_id) from {mart}.visitor_customer_map")
    return {
        "visitors": int(n), "identified_visitors": int(identified or 0), "conflicting_visitors": int(conflicting or 0),
        "returning_visitors": int(returning or 0), "returning_buyers": int(buyers or 0),
        "stitched_visitors": int(stitched), "sessions_per_visitor": per_visitor,
        "stitched_digest": visitor_digest(f"{m}|{c}" for m, c in stitched_rows),
        "first_session_digest": visitor_digest(f"{m}|{k.rsplit('|', 1)[1]}" for m, k in first_rows),
        "_map_visitors": int(map_visitors), "_fact_stitch_conflicts": int(fact_stitch_conflicts),
    }


def assert_conversions_match_truth(wh: Warehouse, truth: dict) -> None:
    """converted_<name> flags and session_conversion_events rows = final sessions that fired the event."""
    fired = truth["visitors"]["page_event_sessions"]
    for event in wh.dbt_vars.get("conversion_events", []):
        name, want = event["name"], fired.get(str(event["page_event_id"]), 0)
        (flags,), = wh.query(f"select count(*) from {{mart}}.sessions where converted_{name}")
        (rows,), = wh.query(
            f"select count(*) from {{mart}}.session_conversion_events where conversion_name = '{name}'")
        assert flags == rows == want, f"conversion {name}: flags {flags}, rows {rows}, ground truth {want}"
    assert_bought_after_event_matches_truth(wh, truth)


def assert_bought_after_event_matches_truth(wh: Warehouse, truth: dict) -> None:
    """"Fired the event, then bought": per page event, the sessions with a purchase line at or after its first
    firing and the value of those lines, on page_event_sessions and session_conversion_events, equal the
    generator's count over the surviving versions (to the cent)."""
    want = truth["visitors"]["bought_after_event"]
    assert want, "the generated data has no session that fired an event, then bought: this check would prove nothing"
    got = {str(event_id): (int(n), float(value or 0)) for event_id, n, value in wh.query(
        "select page_event_id, sum(case when purchased_after_event then 1 else 0 end),"
        " sum(purchased_value_after_event) from {mart}.page_event_sessions group by page_event_id")}
    designed = set(truth["visitors"]["page_event_sessions"])  # capped bot sessions fire made-up ids too
    assert {k: n for k, (n, _) in got.items() if n and k in designed} == {k: v["sessions"] for k, v in want.items()}
    for event_id, v in want.items():
        assert got[event_id][1] == pytest.approx(v["value"], abs=0.01), event_id
    for event in wh.dbt_vars.get("conversion_events", []):
        (n, value), = wh.query(
            "select sum(case when purchased_after_event then 1 else 0 end), sum(purchased_value_after_event)"
            f" from {{mart}}.session_conversion_events where conversion_name = '{event['name']}'")
        expected = want.get(str(event["page_event_id"]), {"sessions": 0, "value": 0.0})
        assert (int(n or 0), float(value or 0)) == (expected["sessions"], pytest.approx(expected["value"], abs=0.01))


def assert_local_times(wh: Warehouse) -> None:
    """session_start_at_local / session_date_local are the UTC start in var reporting_time_zone (zoneinfo)."""
    zone = ZoneInfo(wh.dbt_vars.get("reporting_time_zone", "UTC"))
    rows = wh.query("select session_start_at, session_start_at_local, session_date_local from {mart}.sessions")
    for utc, local, day in rows:
        want = utc.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)
        assert (local, day) == (want, want.date()), (utc, local, day, want)


def assert_matches_truth(wh: Warehouse, truth: dict) -> None:
    got = mart_totals(wh)
    want = truth["dedup"]
    assert got["_items_value_from_fact"] == want["items_value"]
    for key in ("sessions", "converted_sessions", "revenue", "offer_exposures", "purchase_items", "items_value",
                "page_views", "by_day"):
        assert got[key] == want[key], f"{key}: marts {got[key]!r} != ground truth {want[key]!r}"
    visitors, want_visitors = got["visitors"], truth["visitors"]
    for key in ("visitors", "identified_visitors", "conflicting_visitors", "returning_visitors", "returning_buyers",
                "stitched_visitors", "sessions_per_visitor", "stitched_digest", "first_session_digest"):
        assert visitors[key] == want_visitors[key], f"{key}: marts {visitors[key]!r} != truth {want_visitors[key]!r}"
    assert visitors["_map_visitors"] == want_visitors["identified_visitors"]
    assert visitors["_fact_stitch_conflicts"] == 0
    assert_conversions_match_truth(wh, truth)
    assert_local_times(wh)


def build_and_check(wh: Warehouse, *flags: str) -> str:
    out = wh.dbt("build", *flags)
    # warn-severity data tests (e.g. the monitors) end a good build with "Completed with N warnings"
    ok = "Completed successfully" in out or (re.search(r"Completed with \d+ warnings?:", out) and " ERROR=0 " in out)
    assert ok, out[-4000:]
    return out
