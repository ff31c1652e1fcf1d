"""End-to-end tests of the dbt project: generated data -> loader -> ``dbt build`` -> marts.

* mart totals equal the generator's ``dedup`` ground truth (sessions, converted sessions, revenue, offer
  exposures, purchase items, items value, page views, by day) on DuckDB and on a private PostgreSQL, and its
  ``visitors`` truth (visitors, conflicting ids, returning buyers, sessions per visitor, every stitched id and
  first session by digest), the conversion-event flags, "fired the event, then bought" per page event
  (sessions and value) and the reporting-time-zone columns;
* fields the vendor adds later (a scalar, an array) surface as ``extra_<field>`` and ``session_extra_items``;
* incremental marts after two batches (the second with late sessions, late files, re-emitted closed
  versions and a re-delivered file) are row-for-row identical to a full build, on both engines;
* the project parses and compiles for the ``redshift`` target without a cluster.

dbt runs as a subprocess from the repository root with ``--profiles-dir`` pointing at a temp folder
holding a copy of ``profiles.example.yml`` (exactly what a user does), and its own target/log paths.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from support.data import ACCOUNT, generate_cli
from support.dbt import BIN, MARTS, WITHOUT_READOUT, Warehouse, assert_matches_truth, build_and_check, mart_totals
from support.loader import REPO, run_or_fail
from support.servers import PrivatePostgres

from dlt_pipeline.mart_summary import print_summary
from dlt_pipeline.synthetic.generator import session_stream_root

# ----------------------------------------------------------------------------------------- tests


@pytest.mark.timeout(900)
def test_duckdb_loader_to_marts_matches_ground_truth(tmp_path: Path, mart_data: tuple[dict, Path]) -> None:
    truth, source = mart_data
    assert truth["extra"]["redelivered_files"] == 2 and truth["extra"]["reemitted_sessions"] > 0
    wh = Warehouse(tmp_path, "duckdb")
    wh.load(source)
    out = build_and_check(wh)
    assert "unit test" in out  # unit tests ran as part of build
    assert_matches_truth(wh, truth)
    # raw lines > sessions: duplicates and versions really were collapsed, nothing doubled in children
    (raw_lines,), = wh.query("select count(*) from raw_t.sessions")
    assert raw_lines == truth["raw"]["sessions"] > truth["dedup"]["sessions"]
    (capped,), = wh.query("select count(*) from {mart}.sessions where is_capped")
    assert capped >= 1

    # the README demo's summary reads the same marts
    buf = io.StringIO()
    s = print_summary(str(wh.duckdb_path), wh.schema, file=buf)
    assert s["sessions"] == truth["dedup"]["sessions"]
    assert round(s["revenue"], 2) == truth["dedup"]["revenue"]
    assert "conversion rate" in buf.getvalue() and "2026-11-01" in buf.getvalue()

    # docs build (every model and column is described)
    wh.dbt("docs", "generate")
    catalog = json.loads((tmp_path / "dbt_target" / "catalog.json").read_text())
    assert any(k.endswith(".sessions") for k in catalog["nodes"])


def _two_batches(mart_data: tuple[dict, Path]) -> tuple[dict, Path, list[Path], list[Path]]:
    """Generated tree split into batch 1 and batch 2 (late files, late sessions, a re-delivered file)."""
    truth, root = mart_data
    files = sorted(p.relative_to(root) for p in root.rglob("*.json.gz"))
    # batch 1: windows before 2026-11-02 12:00, minus every 7th file (held back: a late delivery)
    cut = "20261102T120000"
    early = [f for f in files if f.name[:15] < cut]
    held_back = early[3::7]
    batch1 = [f for f in early if f not in held_back]
    batch2 = [f for f in files if f not in batch1]
    assert held_back and len(batch2) > len(held_back)
    return truth, root, batch1, batch2


def _copy(files: list[Path], root: Path, dest: Path) -> None:
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest / rel)


def _redeliver(dest: Path, rel: Path) -> Path:
    """Re-deliver a file that is already loaded: same window, new token, same lines."""
    window = rel.name.split("-")[0]
    new = rel.parent / f"{window}-9999999999999.json.gz"
    shutil.copy2(dest / rel, dest / new)
    return new


def incremental_equals_full(tmp_path: Path, wh: Warehouse, mart_data: tuple[dict, Path]) -> None:
    truth, root, batch1, batch2 = _two_batches(mart_data)
    served = tmp_path / "served"
    _copy(batch1, root, served)
    wh.load(served)
    build_and_check(wh, *WITHOUT_READOUT)
    first = wh.snapshot()
    open_before = {r[1] for r in wh.query(
        "select session_id, session_key from {mart}.sessions where not is_closed")}

    # batch 2: late files for early windows, the next day's files (sessions that started a day earlier),
    # closed versions of sessions that were open in batch 1, and a re-delivery of an already-loaded file
    _copy(batch2, root, served)
    _redeliver(served, batch1[len(batch1) // 2])
    wh.load(served)
    # the second run must take the selective path: only sessions touched by batch 2 are re-derived
    # (the test runs with mart_lookback_hours = 0, the strictest setting, so nothing is rebuilt "just in case")
    (touched,), = wh.query(
        "select count(distinct s.guid || '|' || cast(s.start_time_ms as varchar(20)))"
        " from {mart}_staging.stg_monetate__sessions s"
        " inner join {mart}_staging.stg_monetate__loads l on s.load_id = l.load_id"
        " where l.loaded_at > (select max(loaded_at) from {mart}.sessions)"
    )
    (before,), = wh.query("select count(*) from {mart}.sessions")
    assert 0 < touched < before, (touched, before)
    # the every-load job's data tests read only recently loaded rows (macros/test_scope.sql)
    wh.dbt_vars["monetate_test_scope_minutes"] = 60
    out = build_and_check(wh, *WITHOUT_READOUT)
    del wh.dbt_vars["monetate_test_scope_minutes"]
    assert "incremental model" in out
    scoped = [sql for p in (tmp_path / "dbt_target" / "compiled").rglob("*.yml/*.sql")
              if p.parent.name != "_deprecated__models.yml" and '."sessions"' in (sql := p.read_text())]
    # ... through constant bounds (DuckDB and the raw scans behind views skip older rows only for constants)
    assert scoped and all(re.search(r"loaded_at >=\s*cast\('\d{4}-\d\d-\d\d ", sql) for sql in scoped), \
        "data tests were not scoped"
    compiled = next((tmp_path / "dbt_target" / "compiled").rglob("sessions.sql")).read_text()
    merged = next((tmp_path / "dbt_target" / "run").rglob("sessions.sql")).read_text()
    assert "delete from" in merged  # delete+insert, not a rebuild
    assert "version_loaded_at >" in compiled, "second run did not take the incremental path"
    incremental = wh.snapshot()

    # the second batch really changed sessions that were already in the marts
    closed_after = {r[0] for r in wh.query("select session_key from {mart}.sessions where is_closed")}
    assert open_before & closed_after, "no open version was replaced by its closed version in batch 2"
    assert incremental["sessions"] != first["sessions"]

    # a third run with nothing new changes nothing (models only: the data tests ran on this state just above)
    wh.dbt("run", *WITHOUT_READOUT)
    assert wh.snapshot() == incremental

    # --reload of the first day replaces its raw rows, and so does a file of the last day that the vendor
    # re-delivers under its name with other bytes (the same lines, compressed again, a newer time): the grain
    # tests pass and the figures do not move
    totals = mart_totals(wh)
    day = "-".join(batch1[0].parts[:3])
    changed = served / batch2[-1]
    changed.write_bytes(gzip.compress(gzip.decompress(changed.read_bytes()), compresslevel=1))
    wh.load(served)
    (size,), = wh.query(f"select size_bytes from {wh.raw_schema}.session_stream_files "
                        f"where file_path = '{batch2[-1].as_posix()}'")
    assert size == changed.stat().st_size, "the changed re-delivery was not loaded again"
    wh.load(served, "--reload", "--start-date", day, "--end-date", day)
    (copies,), = wh.query(f"select count(*) - count(distinct _dlt_id) from {wh.raw_schema}.sessions")
    assert copies == 0, f"{copies} session rows doubled by --reload or the changed re-delivery"
    build_and_check(wh, *WITHOUT_READOUT)
    assert mart_totals(wh) == totals, "--reload changed the marts"
    incremental = wh.snapshot()  # load times of the reloaded sessions moved: compare with a full build below

    build_and_check(wh, "--full-refresh", *WITHOUT_READOUT)
    full = wh.snapshot()
    for mart in (*MARTS, "int_monetate__sessions_deduped"):
        assert len(incremental[mart]) == len(full[mart]), mart
        assert incremental[mart] == full[mart], f"{mart}: incremental != full build"
    # re-delivered file: same sessions again, so the ground truth is unchanged
    assert_matches_truth(wh, truth)


@pytest.mark.timeout(900)
def test_duckdb_incremental_two_batches_equals_full_build(tmp_path: Path, mart_data: tuple[dict, Path]) -> None:
    incremental_equals_full(tmp_path, Warehouse(tmp_path, "duckdb", dbt_vars={"mart_lookback_hours": 0}), mart_data)


@pytest.mark.timeout(900)
def test_postgres_loader_to_marts_matches_ground_truth(tmp_path: Path, postgres: PrivatePostgres,
                                                       mart_data: tuple[dict, Path]) -> None:
    truth, source = mart_data
    wh = Warehouse(tmp_path, "postgres", pg=postgres, name="pg_full")
    wh.load(source)
    build_and_check(wh)
    assert_matches_truth(wh, truth)


@pytest.mark.timeout(900)
def test_postgres_incremental_two_batches_equals_full_build(tmp_path: Path, postgres: PrivatePostgres,
                                                            mart_data: tuple[dict, Path]) -> None:
    wh = Warehouse(tmp_path, "postgres", pg=postgres, name="pg_incr", dbt_vars={"mart_lookback_hours": 0})
    incremental_equals_full(tmp_path, wh, mart_data)
    # the on-run-start hook gave the raw session tables their load-order (BRIN) index (macros/analyze_raw.sql)
    brin = {name for (name,) in wh.sql(
        f"select indexname from pg_indexes where schemaname = '{wh.raw_schema}'"
        " and indexname like '%dlt_load_id_brin'")}
    assert {"sessions__dlt_load_id_brin", "sessions__offers__dlt_load_id_brin"} <= brin, brin


# ----------------------------------------------------------------------------------------- vendor fields

_VENDOR_FIELD_MODELS = ("-s", "+sessions", "+session_extra_items", "--indirect-selection", "cautious")
"""What the vendor-field test builds: the two marts that surface new fields and everything they read."""


@pytest.mark.timeout(900)
def test_duckdb_fields_the_vendor_adds_later_surface_without_code_changes(tmp_path: Path) -> None:
    """Day 1 has no loyalty_tier / coupon_codes; a later delivery brings them. After the next incremental build
    the scalar is sessions.extra_loyalty_tier and the array's items are session_extra_items rows, exactly as
    many as the generator wrote; sessions from before the field keep NULL."""
    before, after = tmp_path / "before", tmp_path / "after"
    generate_cli(before, "--sessions-per-day", "300", "--seed", "21", "--start-date", "2026-11-01")
    truth = generate_cli(after, "--sessions-per-day", "300", "--seed", "22", "--start-date", "2026-11-03",
                         "--new-vendor-field-share", "0.25")
    wh = Warehouse(tmp_path, "duckdb", name="vendor")
    served = tmp_path / "served"
    shutil.copytree(session_stream_root(before, ACCOUNT), served)
    wh.load(served)
    build_and_check(wh, *_VENDOR_FIELD_MODELS)
    columns = {r[0] for r in wh.query("select column_name from information_schema.columns"
                                      " where table_schema = '{mart}' and table_name = 'sessions'")}
    assert "extra_visitor_score" in columns and "extra_loyalty_tier" not in columns

    shutil.copytree(session_stream_root(after, ACCOUNT), served, dirs_exist_ok=True)
    wh.load(served)
    build_and_check(wh, *_VENDOR_FIELD_MODELS)  # incremental: the new column is appended
    want_sessions = truth["extra"]["new_vendor_field_sessions"]
    want_items = truth["extra"]["new_vendor_child_items"]
    by_day = dict(wh.query("select session_date >= date '2026-11-03', count(extra_loyalty_tier)"
                           " from {mart}.sessions group by 1"))
    assert by_day == {False: 0, True: want_sessions} and want_sessions > 0
    (tiers,), = wh.query("select count(*) from {mart}.sessions"
                         " where extra_loyalty_tier not in ('bronze', 'silver', 'gold')")
    assert tiers == 0
    (items, sessions, positions), = wh.query(
        "select count(*), count(distinct session_id), min(item_position)"
        " from {mart}.session_extra_items where table_name = 'sessions__coupon_codes' and field_name = 'value'")
    assert (items, sessions, positions) == (want_items, want_sessions, 0)
    # id-keyed objects the vendor added earlier (experiment_flags) keep their key
    (keyed,), = wh.query("select count(*) from {mart}.session_extra_items"
                         " where table_name = 'sessions__experiment_flags' and item_key is null")
    assert keyed == 0


# ----------------------------------------------------------------------------------------- redshift

_REDSHIFT_ENV = {
    "DBT_TARGET": "redshift",
    "DBT_REDSHIFT_HOST": "127.0.0.1",
    "DBT_REDSHIFT_PORT": "1",  # nothing listens there: any connection attempt fails fast
    "DBT_REDSHIFT_USER": "ci",
    "DBT_REDSHIFT_PASSWORD": "not-a-secret",
    "DBT_REDSHIFT_DBNAME": "dev",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
}

# dbt compile needs the warehouse for is_incremental() (does the mart exist?) and for cache population.
# Without a cluster we stub exactly those lookups on the Redshift adapter class and compile twice: once
# as a first build (no relation exists) and once as an incremental run (the marts exist), with raw
# column introspection switched off (var monetate_introspect=false). Every model, test and the redshift__
# macros are rendered; nothing is executed.
_COMPILE_SCRIPT = textwrap.dedent(
    """
    import sys
    from dbt.adapters.redshift import RedshiftAdapter
    from dbt.cli.main import dbtRunner

    mode, profiles_dir, target_path = sys.argv[1:4]

    def get_relation(self, database, schema, identifier):
        if mode == "incremental" and identifier in (
            "sessions", "offer_exposures", "purchase_items", "int_monetate__sessions_deduped",
            "visitors", "visitor_customer_map", "session_conversion_events", "session_extra_items",
            "int_monetate__session_versions", "int_monetate__seen_ids"
        ):
            return self.Relation.create(database=database, schema=schema, identifier=identifier, type="table")
        return None

    RedshiftAdapter.get_relation = get_relation
    RedshiftAdapter.list_relations_without_caching = lambda self, schema_relation: []
    RedshiftAdapter.get_columns_in_relation = lambda self, relation: []

    res = dbtRunner().invoke([
        "compile", "--profiles-dir", profiles_dir, "--target-path", target_path, "--no-populate-cache",
        "--vars", "{monetate_introspect: false}",
    ])
    sys.exit(0 if res.success else 1)
    """
)


@pytest.mark.timeout(600)
def test_redshift_parse_and_compile_without_cluster(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    shutil.copy(REPO / "profiles.example.yml", profiles / "profiles.yml")
    env = dict(os.environ, **_REDSHIFT_ENV)
    target = tmp_path / "target"
    run_or_fail([str(BIN / "dbt"), "parse", "--profiles-dir", str(profiles), "--target-path", str(target),
          "--log-path", str(tmp_path / "logs")], env, "dbt parse (redshift)")
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "redshift"

    script = tmp_path / "compile_redshift.py"
    script.write_text(_COMPILE_SCRIPT)
    for mode in ("first", "incremental"):
        out_dir = tmp_path / f"compiled_{mode}"
        run_or_fail([sys.executable, str(script), mode, str(profiles), str(out_dir)], env,
                    f"dbt compile redshift ({mode})")
        compiled = {p.name: p.read_text() for p in (out_dir / "compiled").rglob("*.sql")}
        expected = {"sessions.sql", "offer_exposures.sql", "purchase_items.sql", "stg_monetate__sessions.sql"}
        assert expected <= set(compiled)
        stg = compiled["stg_monetate__sessions.sql"]
        # the project's redshift__ versions were dispatched: epoch ms via interval arithmetic, explicit flag mapping
        assert "timestamp 'epoch'" in stg and "convert_timezone('UTC'" in stg and "btrim(" in stg
        assert "status = 0" in stg  # staging reads completed loads only
        # and dbt's own redshift__ built-ins (they render one argument per line, hence the whitespace removal)
        enriched = re.sub(r"\s+", "", compiled["int_monetate__sessions_enriched.sql"].lower())
        assert "date_trunc('day'," in enriched and "datediff(millisecond," in enriched
        fact = re.sub(r"\s+", "", compiled["sessions.sql"].lower())
        # the reporting time zone and the Monetate ID through the redshift__ / dbt built-in versions
        assert "convert_timezone('utc','utc'," in fact
        # the Monetate ID is computed once, when a line enters the versions table
        assert "split_part(" in re.sub(r"\s+", "", compiled["int_monetate__session_versions.sql"].lower())
        if mode == "incremental":
            assert "dateadd(hour," in fact and "version_loaded_at>" in fact
            # the visitor-level rule: every session of a touched visitor (by Monetate ID)
            for name in ("sessions.sql", "visitors.sql", "visitor_customer_map.sql"):
                visitor_sql = re.sub(r"\s+", "", compiled[name].lower())
                assert "monetate_idin(select" in visitor_sql or "session_keyin(selectsession_key" in visitor_sql, name
        # nothing DuckDB- or Postgres-only leaks into Redshift SQL (`::` casts are fine on Redshift: dbt's own
        # redshift__cast_bool_to_text uses one)
        for name, sql in compiled.items():
            for bad in ("try_cast(", "epoch_ms(", "qualify ", "to_hours(", "timezone('UTC'"):
                assert bad not in sql.lower(), f"{bad!r} in compiled {name}"


@pytest.mark.timeout(600)
def test_duckdb_quarantined_lines_and_files_reach_staging(tmp_path: Path) -> None:
    """Quarantined lines and files reach staging through the rejects table (which exists, empty, from the first
    load on: tests/e2e/test_first_load.py), the ledger reconciliation still holds for a file with rejected
    lines; marts hold the good lines only."""
    src = tmp_path / "src"
    truth = generate_cli(src, "--sessions-per-day", "300", "--seed", "5")
    day = session_stream_root(src, ACCOUNT) / "2026" / "11" / "01"
    files = sorted(day.glob("*.json.gz"))
    with gzip.open(files[4], "ab") as fh:
        fh.write(b"{not json\n[1, 2]\n")
    bad_lines_file = files[4].name
    lost = next(p for p in truth["files"] if p["path"].endswith(files[5].name))["sessions"]
    files[5].write_bytes(b"garbage, not gzip\n")

    wh = Warehouse(tmp_path, "duckdb")
    try:
        wh.load(session_stream_root(src, ACCOUNT))
    except AssertionError as exc:  # the loader may exit non-zero to report quarantines; the data is loaded
        assert "quarantin" in str(exc).lower(), exc
    build_and_check(wh)
    rejects = wh.query(
        "select file_path, line_number from {mart}_staging.stg_monetate__rejects order by file_path, line_number"
    )
    assert len(rejects) == 3
    assert [r[1] for r in rejects if r[0].endswith(bad_lines_file)] == [
        next(p for p in truth["files"] if p["path"].endswith(bad_lines_file))["sessions"] + 1,
        next(p for p in truth["files"] if p["path"].endswith(bad_lines_file))["sessions"] + 2,
    ]
    statuses = dict(wh.query("select file_name, file_status from {mart}_staging.stg_monetate__files"))
    assert statuses[files[5].name] == "quarantined" and statuses[bad_lines_file] == "loaded"
    (sessions,), = wh.query("select count(*) from {mart}.sessions")
    assert sessions == truth["dedup"]["sessions"] - lost


@pytest.mark.timeout(600)
def test_duckdb_table_from_an_older_version_stops_with_one_line_then_full_refresh_mends_it(tmp_path: Path) -> None:
    """Upgrading a warehouse whose deduplicated sessions predate `version_loaded_at` (the column every incremental
    mart filters on): the incremental run stops with one line naming the table and `dbt build --full-refresh`,
    instead of filtering on NULLs and silently skipping sessions; after the full refresh the next run succeeds."""
    src = tmp_path / "src"
    truth = generate_cli(src, "--sessions-per-day", "200", "--seed", "7")
    wh = Warehouse(tmp_path, "duckdb", name="upgrade")
    wh.load(session_stream_root(src, ACCOUNT))
    select = ("-s", "+int_monetate__sessions_deduped")
    wh.dbt("run", *select)
    con = duckdb.connect(str(wh.duckdb_path))  # the tests' own reader is read-only
    try:
        con.execute(f"alter table {wh.schema}_intermediate.int_monetate__sessions_deduped"
                    " drop column version_loaded_at")
    finally:
        con.close()

    with pytest.raises(AssertionError) as stopped:
        wh.dbt("run", *select)
    lines = [line for line in str(stopped.value).splitlines() if "built by an older version" in line]
    assert lines and "version_loaded_at" in lines[0] and "dbt build --full-refresh" in lines[0], stopped.value
    assert "int_monetate__sessions_deduped" in lines[0]

    wh.dbt("run", "--full-refresh", *select)
    wh.dbt("run", *select)  # incremental again, on the rebuilt table
    (sessions, stamped), = wh.query("select count(*), count(version_loaded_at)"
                                    " from {mart}_intermediate.int_monetate__sessions_deduped")
    assert sessions == stamped == truth["dedup"]["sessions"]
