"""Print a short summary of the dbt marts in a DuckDB file (used by the README demo after ``dbt build``).

    python -m dlt_pipeline.mart_summary [DUCKDB_PATH] [--schema analytics]

The marts live in the dbt target schema (``analytics`` unless ``DBT_SCHEMA`` says otherwise).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Sequence
from typing import TextIO

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
                from {schema}.sessions"""
        ).fetchall()
        by_day = con.sql(
            f"""select session_date, count(*),
                       sum(case when is_converted then 1 else 0 end),
                       coalesce(sum(session_value), 0)
                from {schema}.sessions group by session_date order by session_date"""
        ).fetchall()
        (exposures,), = con.sql(f"select count(*) from {schema}.offer_exposures").fetchall()
        (items, items_value), = con.sql(
            f"select count(*), coalesce(sum(line_value), 0) from {schema}.purchase_items"
        ).fetchall()
        experiments = readout(con, schema)
        visitor_counts = visitors(con, schema)
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
        "experiments": experiments,
        "visitors": visitor_counts,
    }


def visitors(con: duckdb.DuckDBPyConnection, schema: str) -> dict | None:
    """Visitors, returning visitors, those who came back and bought, conflicting ids; None without the mart."""
    (exists,), = con.sql(
        "select count(*) from information_schema.tables"
        f" where table_schema = '{schema}' and table_name = 'visitors'"
    ).fetchall()
    if not exists:
        return None
    (row,) = con.sql(
        "select count(*), count(stitched_customer_id),"
        " coalesce(sum(case when is_returning then 1 else 0 end), 0),"
        " coalesce(sum(case when has_returned_and_bought then 1 else 0 end), 0),"
        " coalesce(sum(case when has_conflicting_customer_ids then 1 else 0 end), 0)"
        f" from {schema}.visitors"
    ).fetchall()
    keys = ("visitors", "identified", "returning", "returned_and_bought", "conflicting_ids")
    return dict(zip(keys, (int(v) for v in row), strict=True))


_READOUT_COLUMNS = (
    "experience_key", "experience_name", "split_id", "split_name", "is_control", "control_split_id", "n_visitors",
    "conversion_rate", "conversion_rate_rel_lift", "conversion_rate_rel_lift_ci_low",
    "conversion_rate_rel_lift_ci_high", "conversion_rate_p_value", "revenue_per_visitor",
    "revenue_per_visitor_rel_lift", "revenue_per_visitor_rel_lift_ci_low", "revenue_per_visitor_rel_lift_ci_high",
    "revenue_per_visitor_p_value", "revenue_per_visitor_cuped_rel_lift", "revenue_per_visitor_cuped_p_value",
    "srm_p_value", "srm_detected", "readout_warning", "split_warning", "revenue_cap", "revenue_capped_visitors",
    "srm_threshold", "conversion_rate_p_value_adjusted", "revenue_per_visitor_p_value_adjusted",
    "multiple_testing_method",
)


def readout(con: duckdb.DuckDBPyConnection, schema: str) -> list[dict]:
    """Rows of `experiment_results` (one per experience and split), or [] when the readout was not built."""
    (exists,), = con.sql(
        "select count(*) from information_schema.tables"
        f" where table_schema = '{schema}' and table_name = 'experiment_results'"
    ).fetchall()
    if not exists:
        return []
    rows = con.sql(
        f"select {', '.join(_READOUT_COLUMNS)} from {schema}.experiment_results"
        " order by experience_id is null, experience_key, is_control is not true, split_id"
    ).fetchall()
    return [dict(zip(_READOUT_COLUMNS, row, strict=True)) for row in rows]


def _pct(x: float | None) -> str:
    return "    n/a" if x is None else f"{x:+7.1%}"


def _ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f" [{lo:+.1%}, {hi:+.1%}]"


def _p(p: float | None) -> str:
    return "p n/a" if p is None else ("p<0.0001" if p < 0.0001 else f"p={p:.4f}")


def _adjusted(e: dict, metric: str) -> str:
    """` (Holm p=...)` after a primary metric's p-value when it was corrected for multiple testing."""
    p = e.get(f"{metric}_p_value_adjusted")
    method = {"holm": "Holm", "bh": "BH"}.get(e.get("multiple_testing_method") or "")
    return "" if p is None or method is None else f" ({method} {_p(p)})"


def _split_line(e: dict) -> str:
    """One split: visitors and conversion; against the control, the lifts with their CIs and p-values."""
    role = "control" if e["is_control"] else "split"
    line = (f"    {role:<7} {str(e['split_name'] or e['split_id']):<18} visitors {e['n_visitors']:>6,}"
            f"  conv {e['conversion_rate']:6.2%}")
    if e["control_split_id"] is not None and not e["is_control"]:
        line += (f"  conv lift {_pct(e['conversion_rate_rel_lift'])}"
                 f"{_ci(e['conversion_rate_rel_lift_ci_low'], e['conversion_rate_rel_lift_ci_high'])}"
                 f" {_p(e['conversion_rate_p_value'])}{_adjusted(e, 'conversion_rate')}"
                 f"  RPV lift {_pct(e['revenue_per_visitor_rel_lift'])}"
                 f"{_ci(e['revenue_per_visitor_rel_lift_ci_low'], e['revenue_per_visitor_rel_lift_ci_high'])}"
                 f" {_p(e['revenue_per_visitor_p_value'])}{_adjusted(e, 'revenue_per_visitor')}"
                 f" (CUPED {_pct(e['revenue_per_visitor_cuped_rel_lift'])}"
                 f" {_p(e['revenue_per_visitor_cuped_p_value'])})")
    return line


def print_readout(experiments: list[dict], file: TextIO | None = None) -> None:
    """Experiences by name: visitors and conversion per split, lift vs control with 95 % CI and p-value, SRM.

    Warnings stand under what they concern, each once: the experience's (``readout_warning``: SRM, no control,
    visitors in two splits; the same on each of its rows) under its header line, a split's own
    (``split_warning``: below the minimums, no variance) under that split's line.
    """
    out = file or sys.stdout
    named = [e for e in experiments if e["experience_name"] is not None]
    if not named:
        return
    print("Experiment readout (unit: visitor, from first exposure on; docs/experiment_readout.md):", file=out)
    for key, group in itertools.groupby(named, key=lambda e: e["experience_key"]):
        rows = list(group)
        first = rows[0]
        flag = "SRM DETECTED" if first["srm_detected"] else "SRM ok"
        threshold = f", threshold {first['srm_threshold']:g}" if first.get("srm_threshold") is not None else ""
        print(f"  {first['experience_name']} (experience {key})  {flag} ({_p(first['srm_p_value'])}{threshold})",
              file=out)
        if first.get("revenue_cap") is not None:
            capped = sum(e.get("revenue_capped_visitors") or 0 for e in rows)
            print(f"    revenue per visitor capped at {first['revenue_cap']:,.2f} ({capped:,} visitor"
                  f"{'' if capped == 1 else 's'} above it; var experiment_capping)", file=out)
        if first["readout_warning"]:
            print(f"    warning: {first['readout_warning']}", file=out)
        for e in rows:
            print(_split_line(e), file=out)
            if e.get("split_warning"):
                print(f"      warning: {e['split_warning']}", file=out)
    unnamed = [e for e in experiments if e["experience_name"] is None]
    if unnamed:
        print(f"  ({len(unnamed)} splits without metadata: per-split figures only, see experiment_results)", file=out)


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
    if s["visitors"]:
        v = s["visitors"]
        print(f"  visitors {v['visitors']:,}  returning {v['returning']:,}  came back and bought "
              f"{v['returned_and_bought']:,}  with a customer id {v['identified']:,}"
              f" ({v['conflicting_ids']:,} with conflicting ids; docs/visitors.md)", file=out)
    print_readout(s["experiments"], file=out)
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
