"""`run.py --publish DIR` as a user or a scheduler runs it: exit codes, messages, files (docs/publishing.md).

The file contents are checked in tests/unit/test_publish.py and, on the demo's real marts, by
tests/e2e/test_loader_e2e.py::test_demo_command; here the command around them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pantab
import pyarrow.parquet as pq
from support.loader import explain, run_loader

from dlt_pipeline.exit_codes import EXIT_ERROR, EXIT_LOCKED, EXIT_OK, EXIT_USAGE
from dlt_pipeline.hyper_extract import HYPER_TABLE

WRITER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
time.sleep(120)
"""


def _marts(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema analytics")
    con.execute("create table analytics.sessions as select range as session_key, "
                "cast(range as hugeint) * 2 as purchased_quantity, cast(range // 3 as decimal(38, 2)) as value "
                "from range(1000)")
    con.execute("create view analytics.by_value as select value, count(*) as n from analytics.sessions "
                "group by value")
    con.close()


def test_publish_writes_every_mart_and_loads_nothing(tmp_path: Path) -> None:
    db, out = tmp_path / "w.duckdb", tmp_path / "bi"
    _marts(db)
    proc = run_loader("--duckdb-path", db, "--publish", out, "--publish-formats", "parquet,hyper")
    assert proc.returncode == EXIT_OK, explain(proc)
    assert f"published 2 marts (1,334 rows) as parquet, hyper into {out}: 4 files" in proc.stdout, explain(proc)
    assert sorted(p.name for p in out.iterdir()) == ["by_value.hyper", "by_value.parquet", "manifest.json",
                                                      "sessions.hyper", "sessions.parquet"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [c["type"] for c in manifest["tables"][1]["columns"]] == ["BIGINT", "BIGINT", "DECIMAL(18,2)"]
    con = duckdb.connect(str(db), read_only=True)
    assert con.sql("select count(*) from information_schema.schemata where schema_name = 'monetate_raw'"
                   ).fetchall() == [(0,)]  # loaded nothing: no raw dataset was created
    con.close()


def test_publish_mistakes_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    proc = run_loader("--duckdb-path", db, "--publish", tmp_path / "bi", "--publish-formats", "xlsx")
    assert proc.returncode == EXIT_USAGE and "--publish-formats is 'xlsx'" in proc.stderr, explain(proc)
    proc = run_loader("--duckdb-path", db, "--publish", tmp_path / "bi")
    assert proc.returncode == EXIT_ERROR and "no marts in schema analytics" in proc.stderr, explain(proc)
    assert "Traceback" not in proc.stderr
    proc = run_loader("--duckdb-path", tmp_path / "missing.duckdb", "--publish", tmp_path / "bi")
    assert proc.returncode == EXIT_ERROR and "does not exist" in proc.stderr, explain(proc)
    proc = run_loader("--destination", "redshift", "--publish", tmp_path / "bi")
    assert proc.returncode == EXIT_USAGE and "connect Tableau or Domo live" in proc.stderr, explain(proc)


def test_publish_waits_for_a_writer_then_names_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _marts(db)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        proc = run_loader("--duckdb-path", db, "--publish", tmp_path / "bi", "--lock-wait-seconds", "1")
    finally:
        writer.kill()
        writer.communicate(timeout=30)
    assert proc.returncode == EXIT_LOCKED, explain(proc)
    assert f"(PID {writer.pid})" in proc.stderr and "stopped before publishing" in proc.stderr, explain(proc)
    assert not (tmp_path / "bi").exists()


PG_MART = """
create schema {schema};
create table {schema}.sessions (
    session_key text, quantity bigint, n integer, value numeric(38, 2), ratio numeric, name varchar(20),
    is_converted boolean, session_date date, started_at timestamp, loaded_at timestamptz, extra json);
insert into {schema}.sessions values
    ('a|1', 9223372036854775807, 1, 1234567890123.45, 0.125, 'Zürich ☕ 東京', true, '2026-11-01',
     '2026-11-01 00:00:00.123456', '2026-11-01 12:00:00+02', '{{"k": [1, 2]}}'),
    ('b|2', null, null, null, null, null, null, null, null, null, null),
    ('c|3', -1, -2147483648, -0.01, -1e-3, '', false, '1970-01-01', '2099-12-31 23:59:59.999999',
     '2026-06-01 00:00:00+00', 'null');
create view {schema}.by_day as select session_date, count(*) as sessions from {schema}.sessions group by 1;
"""


def test_publish_from_postgres_round_trips(tmp_path: Path, postgres: Any) -> None:  # noqa: ANN401
    """`--destination postgres --publish`: the marts read with the loader's dlt credentials, types and rows exact."""
    schema = "analytics_publish_test"
    with postgres.connect() as con, con.cursor() as cur:
        cur.execute(f"drop schema if exists {schema} cascade")
        cur.execute(PG_MART.format(schema=schema))
        cur.execute(f"select session_key, quantity, n, value, cast(ratio as float8), name, is_converted, "
                    f"session_date, started_at, (loaded_at at time zone 'UTC'), extra::text "
                    f"from {schema}.sessions")
        want = sorted(cur.fetchall(), key=repr)
    out = tmp_path / "bi"
    proc = run_loader("--destination", "postgres", "--publish", out, "--publish-schema", schema,
                      env=postgres.env())
    assert proc.returncode == EXIT_OK, explain(proc)
    assert "published 2 marts (6 rows)" in proc.stdout and postgres.password not in proc.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert postgres.password not in json.dumps(manifest)
    types = {c["name"]: c["type"] for c in manifest["tables"][1]["columns"]}
    assert types == {"session_key": "VARCHAR", "quantity": "BIGINT", "n": "INTEGER", "value": "DECIMAL(18,2)",
                     "ratio": "DOUBLE", "name": "VARCHAR", "is_converted": "BOOLEAN", "session_date": "DATE",
                     "started_at": "TIMESTAMP", "loaded_at": "TIMESTAMP", "extra": "VARCHAR"}
    hyper = pantab.frame_from_hyper(out / "sessions.hyper", table=HYPER_TABLE, return_type="pyarrow")
    for got in (pq.read_table(out / "sessions.parquet"), hyper):
        assert sorted((tuple(r.values()) for r in got.to_pylist()), key=repr) == want
    csv = duckdb.sql(f"select * from read_csv('{out / 'sessions.csv'}', header = true, columns = {types!r}, "
                     "auto_detect = false, allow_quoted_nulls = false)").fetchall()
    assert sorted(csv, key=repr) == want
