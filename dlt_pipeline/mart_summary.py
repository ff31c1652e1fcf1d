"""Print a short summary of the dbt marts in a DuckDB file (used by the README demo after ``dbt build``).

    python -m dlt_pipeline.mart_summary [DUCKDB_PATH] [--schema analytics]

The marts live in the dbt target schema (``analytics`` unless ``DBT_SCHEMA`` says otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import duckdb

DEFAULT_DUCKDB = "session_stream.duckdb"


def _default_path() -> str:
    return os.environ.get("SESSION_STREAM_DUCKDB", DEFAULT_DUCKDB)


def _default_schema() -> str:
    return os.environ.get("DBT_SCHEMA", "analytics")


def summary(duckdb_path: str | None = None, schema: str | None = None) -> dict:
    """Headline numbers from the marts: sessions, conversions, revenue (total and by day), exposures, items."""
    path = duckdb_path or _default_path()
    schema = schema or _default_schema()
    con = duckdb.connect(path, read_only=True)
    try:
        (sessions, converted, bounces, revenue, capped), = con.sql(
            f"""select count(*),
                       coalesce(sum(case when is_converted then 1 else 0 end), 0),
                       coalesce(sum(case when is_bounce then 1 else 0 end), 0),
                       coalesce(sum(session_value), 0),
                       coalesce(sum(case when is_capped then 1 else 0 end), 0)
                from {schema}.sessions_fact"""
        ).fetchall()
        by_day = con.sql(
            f"""select session_date, count(*),
                       sum(case when is_converted then 1 else 0 end),
                       coalesce(sum(session_value), 0)
                from {schema}.sessions_fact group by session_date order by session_date"""
        ).fetchall()
        (exposures,), = con.sql(f"select count(*) from {schema}.offer_exposure").fetchall()
        (items, items_value), = con.sql(
            f"select count(*), coalesce(sum(line_value), 0) from {schema}.purchase_items"
        ).fetchall()
    finally:
        con.close()
    return {
        "sessions": int(sessions),
        "converted_sessions": int(converted),
        "conversion_rate": (converted / sessions) if sessions else 0.0,
        "bounces": int(bounces),
        "revenue": float(revenue),
        "capped_sessions": int(capped),
        "offer_exposures": int(exposures),
        "purchase_items": int(items),
        "items_value": float(items_value),
        "by_day": [
            {"day": str(day), "sessions": int(n), "converted": int(c), "revenue": float(rev)}
            for day, n, c, rev in by_day
        ],
    }


def print_summary(duckdb_path: str | None = None, schema: str | None = None, file=None) -> dict:
    """Print sessions, conversion rate and revenue by day from the marts; returns the numbers too."""
    out = file or sys.stdout
    s = summary(duckdb_path, schema)
    print(f"Marts in {duckdb_path or _default_path()} (schema {schema or _default_schema()}):", file=out)
    print(
        f"  sessions {s['sessions']:,}  converted {s['converted_sessions']:,}"
        f"  conversion rate {s['conversion_rate']:.2%}  bounces {s['bounces']:,}"
        f"  revenue {s['revenue']:,.2f}",
        file=out,
    )
    print(
        f"  offer exposures {s['offer_exposures']:,}  purchased items {s['purchase_items']:,}"
        f" (value {s['items_value']:,.2f})  capped sessions {s['capped_sessions']:,}",
        file=out,
    )
    if s["by_day"]:
        print("  day          sessions  conv. rate      revenue", file=out)
        for d in s["by_day"]:
            rate = d["converted"] / d["sessions"] if d["sessions"] else 0.0
            print(f"  {d['day']}  {d['sessions']:>8,}  {rate:>10.2%}  {d['revenue']:>11,.2f}", file=out)
    return s


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Print a short summary of the Session Stream marts (DuckDB).")
    p.add_argument("duckdb_path", nargs="?", default=None,
                   help="DuckDB file (default $SESSION_STREAM_DUCKDB or session_stream.duckdb)")
    p.add_argument("--schema", default=None,
                   help="dbt target schema holding the marts (default $DBT_SCHEMA or analytics)")
    args = p.parse_args(argv)
    print_summary(args.duckdb_path, args.schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
