"""The dbt project's end-to-end helpers: a warehouse the loader and `dbt` both use, and the marts' ground truth.

dbt runs as a subprocess from the repository root with ``--profiles-dir`` pointing at a temp folder holding a
copy of ``profiles.example.yml`` (exactly what a user does), and its own target/log paths.
"""

from __future__ import annotations

import json
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from support.loader import REPO, Target, loader_env, run_or_fail

BIN = Path(sys.executable).parent
MARTS = ("sessions_fact", "offer_exposure", "purchase_items")
DBT_TIMEOUT = 600
GEN_ARGS = ("--days", "2", "--sessions-per-day", "1200", "--files-per-window", "2", "--redeliver", "2",
            "--reemit", "0.3", "--seed", "11")
"""The generated data of the mart tests: late sessions, re-emitted closed versions, re-delivered files."""
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
        self.dbt_vars = {"raw_schema": self.raw_schema, **(dbt_vars or {})}
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
        " sum(purchased_items_value) from {mart}.sessions_fact"
    )
    (exposures,), = wh.query("select count(*) from {mart}.offer_exposure")
    (items, items_value), = wh.query("select count(*), sum(line_value) from {mart}.purchase_items")
    by_day = {
        str(day): {"sessions": int(n), "revenue": round(float(rev), 2)}
        for day, n, rev in wh.query(
            "select session_date, count(*), sum(session_value) from {mart}.sessions_fact"
            " group by session_date order by 1"
        )
    }
    return {
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


def assert_matches_truth(wh: Warehouse, truth: dict) -> None:
    got = mart_totals(wh)
    want = truth["dedup"]
    assert got["_items_value_from_fact"] == want["items_value"]
    for key in ("sessions", "converted_sessions", "revenue", "offer_exposures", "purchase_items", "items_value",
                "page_views", "by_day"):
        assert got[key] == want[key], f"{key}: marts {got[key]!r} != ground truth {want[key]!r}"


def build_and_check(wh: Warehouse, *flags: str) -> str:
    out = wh.dbt("build", *flags)
    assert "Completed successfully" in out, out[-4000:]
    return out
