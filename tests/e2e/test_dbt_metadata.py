"""End-to-end tests of the names in dbt: Metadata API tables -> dimensions -> names on the marts.

One sequence per engine (DuckDB, PostgreSQL), on the mart tests' generated data (``support.dbt.GEN_ARGS``) and
the catalog the generator's design gives for it (``metadata_catalog``), loaded by the real metadata source
(``dlt_pipeline.metadata_api.monetate_metadata``) from the stand-in API server on loopback:

1. sessions of the first day, no metadata tables: everything builds; the dimensions hold every id of the
   session data with ``has_metadata`` false, names are empty;
2. (DuckDB only) the catalog as it was (revision 0) is refreshed, nothing new in the sessions: the incremental
   marts get the names anyway (the post-hook refresh, macros/monetate_names.sql);
3. the current catalog (revision 1: renames) and the rest of the sessions: the dimensions hold session ids and
   catalog ids, unknown ids keep their row, every name on offer_exposures / page_event_sessions /
   session_custom_targets is the catalog's current one, the rename history is visible; ``dbt build`` (tests too);
4. ``--full-refresh``: every mart and dimension equals the incremental result row for row.

The dbt builds exclude the experiment readout models (their own test builds them). Redshift compiles in
tests/e2e/test_dbt_e2e.py, which renders every model of the project.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import dlt
import pytest
from support.dbt import GEN_ARGS, WITHOUT_READOUT, Warehouse, build_and_check
from support.servers import PrivatePostgres

from dlt_pipeline.metadata_api import monetate_metadata
from dlt_pipeline.synthetic.generate import build_parser
from dlt_pipeline.synthetic.generator import GeneratorConfig
from dlt_pipeline.synthetic.metadata_catalog import metadata_catalog
from dlt_pipeline.synthetic.metadata_server import MetadataApiServer, demo_key_pair

"""The readout's models are E's (tests/e2e/test_experiment_readout.py); this file tests the names only."""
NAMED_MARTS = ("offer_exposures", "page_event_sessions", "session_custom_targets")
DIMENSIONS = ("splits", "experiments", "experiment_name_history", "page_events",
              "custom_targets")
USER, RETAILER = "api-user", "demo"


def _config() -> GeneratorConfig:
    """The GeneratorConfig behind ``GEN_ARGS`` (so the catalog names exactly the mart data's ids)."""
    args = vars(build_parser().parse_args(["--out", "unused", *GEN_ARGS]))
    args["account_id"] = args.pop("account")
    names = {f.name for f in dataclasses.fields(GeneratorConfig)}
    return GeneratorConfig(**{k: v for k, v in args.items() if k in names})


class Metadata:
    """The stand-in Metadata API serving a catalog revision, refreshed into a warehouse by the real source."""

    def __init__(self, wh: Warehouse, api: MetadataApiServer, private_pem: bytes) -> None:
        self.wh, self.api, self.private_pem = wh, api, private_pem

    def refresh(self, catalog: dict[str, list[dict]]) -> None:
        self.api.catalog = catalog
        if self.wh.postgres is not None:
            destination: Any = dlt.destinations.postgres(credentials=self.wh.postgres.dsn)
        else:
            destination = dlt.destinations.duckdb(str(self.wh.duckdb_path))
        pipeline = dlt.pipeline(f"metadata_{self.wh.schema}", destination=destination,
                                dataset_name=self.wh.raw_schema, pipelines_dir=str(self.wh.tmp / "meta_pipelines"))
        pipeline.run(monetate_metadata(base_url=self.api.base_url, retailer=RETAILER, api_username=USER,
                                       private_key=self.private_pem.decode()))


# ------------------------------------------------------------------------------------------------ expectations


def _is_control(split: dict, variant_split: dict | None) -> bool:
    flag = variant_split is not None and str(variant_split.get("is_control")).lower() == "true"
    names = [split.get("split_name"), (variant_split or {}).get("variant")]
    return flag or any(n and (n.lower() == "control" or n.lower().endswith("-control")) for n in names)


def expected_splits(catalog: dict[str, list[dict]]) -> dict[int, tuple]:
    """split_id -> (experience_id, experience_name, split_name, is_control) as the current catalog says."""
    experiences = {e["id"]: e for e in catalog["experience-summary"]}
    design = {int(v["id"]): v for e in experiences.values() for v in e["variant_splits"]}
    out = {}
    for v in catalog["variant"]:
        exp = experiences.get(v["experience_id"])
        name = exp["experience_name"] if exp else v["experience_name"]
        out[int(v["id"])] = (v["experience_id"], name, v["split_name"], _is_control(v, design.get(int(v["id"]))))
    return out


def catalog_split_ids(catalog: dict[str, list[dict]]) -> set[int]:
    ids = {int(v["id"]) for v in catalog["variant"]}
    for e in catalog["experience-summary"]:
        ids |= {int(s) for s in e["splits"]}
        for v in e["variant_splits"]:
            ids.add(int(v["id"]))
            ids |= {int(a["split_id"]) for a in v.get("allocations") or []}
    return ids


def _ids(wh: Warehouse, sql: str) -> set[int]:
    return {int(r[0]) for r in wh.query(sql)}


def _snapshot(wh: Warehouse) -> dict[str, list[tuple]]:
    return {name: sorted((tuple(row) for row in wh.query(f"select * from {{mart}}.{name}")), key=repr)
            for name in (*NAMED_MARTS, *DIMENSIONS)}


# ------------------------------------------------------------------------------------------------ checks


def check_without_metadata(wh: Warehouse) -> None:
    """Step 1: no metadata tables: every session id has its row, nothing is named, nothing guessed."""
    raw_tables = {r[0] for r in wh.query(
        f"select table_name from information_schema.tables where table_schema = '{wh.raw_schema}'")}
    assert not {t for t in raw_tables if t.startswith("metadata_")}, raw_tables
    assert _ids(wh, "select split_id from {mart}.splits") == _ids(
        wh, "select distinct split_id from {mart}.offer_exposures")
    assert _ids(wh, "select page_event_id from {mart}.page_events") == _ids(
        wh, "select distinct page_event_id from {mart}.page_event_sessions")
    assert _ids(wh, "select target_id from {mart}.custom_targets") == _ids(
        wh, "select distinct target_id from {mart}.session_custom_targets")
    for dim in ("splits", "page_events", "custom_targets"):
        (named,), = wh.query(f"select count(*) from {{mart}}.{dim} where has_metadata")
        assert named == 0, dim
    (n,), = wh.query("select count(*) from {mart}.experiments")
    assert n == 0
    (named, control), = wh.query(
        "select count(experience_name), count(is_control) from {mart}.offer_exposures")
    assert named == control == 0


def check_names(wh: Warehouse, catalog: dict[str, list[dict]]) -> dict[str, int]:
    """The dimensions hold session ids + catalog ids; every name on the marts is the catalog's current one."""
    session_splits = _ids(wh, "select distinct split_id from {mart}.offer_exposures")
    known = catalog_split_ids(catalog)
    assert _ids(wh, "select split_id from {mart}.splits") == session_splits | known
    unknown = _ids(wh, "select split_id from {mart}.splits where not has_metadata")
    assert unknown == session_splits - known and unknown, "unknown split ids must keep their row"
    (named_unknown,), = wh.query(
        "select count(*) from {mart}.splits where not has_metadata"
        " and (experience_name is not null or split_name is not null or is_control is not null)")
    assert named_unknown == 0

    want = expected_splits(catalog)
    got = {int(r[0]): (int(r[1]) if r[1] is not None else None, r[2], r[3], r[4]) for r in wh.query(
        "select distinct split_id, experience_id, experience_name, split_name, is_control from {mart}.offer_exposures")}
    assert {k: v for k, v in got.items() if k in want} == {k: want[k] for k in got if k in want}
    assert all(v == (None, None, None, None) for k, v in got.items() if k not in known)
    dim = {int(r[0]): (int(r[1]), r[2], r[3], r[4]) for r in wh.query(
        "select split_id, experience_id, experience_name, split_name, is_control from {mart}.splits"
        " where has_metadata and split_id in (" + ", ".join(map(str, want)) + ")")}
    assert dim == want

    experiences = {e["id"]: e["experience_name"] for e in catalog["experience-summary"]}
    assert dict(wh.query("select experience_id, experience_name from {mart}.experiments")) == experiences

    titles = {e["id"]: e["title"] for e in catalog["pageevent"]}
    events = _ids(wh, "select distinct page_event_id from {mart}.page_event_sessions")
    assert _ids(wh, "select page_event_id from {mart}.page_events") == events | set(titles)
    got_titles = dict(wh.query("select distinct page_event_id, page_event_title from {mart}.page_event_sessions"))
    assert got_titles == {k: titles.get(k) for k in events}

    targets = {t["id"]: t for t in catalog["customtarget"]}
    seen_targets = _ids(wh, "select distinct target_id from {mart}.session_custom_targets")
    rows = wh.query("select distinct target_id, target_title, is_personal_data from {mart}.session_custom_targets")
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        k: ((targets[k]["title"], bool(targets[k]["is_identifier"] or targets[k]["collects_person_id"]))
            if k in targets else (None, None)) for k in seen_targets}

    (named, exposures), = wh.query("select count(experience_name), count(*) from {mart}.offer_exposures")
    return {
        "splits_named": len(session_splits & known), "splits_unknown": len(unknown),
        "splits_metadata_only": len(known - session_splits), "exposures_named": named, "exposures": exposures,
        "page_events_unknown": len(events - set(titles)), "targets_unknown": len(seen_targets - set(targets)),
    }


def check_history(wh: Warehouse, before: dict[str, list[dict]], after: dict[str, list[dict]]) -> None:
    """Renamed experiences show both names, in order, one period ending where the next begins."""
    old = {e["id"]: e["experience_name"] for e in before["experience-summary"]}
    new = {e["id"]: e["experience_name"] for e in after["experience-summary"]}
    renamed = {k for k in new if old.get(k) not in (None, new[k])}
    assert renamed, "the catalog revision renames no experience"
    rows = wh.query("select experience_id, name_version, experience_name, valid_from, valid_to"
                    " from {mart}.experiment_name_history order by experience_id, name_version")
    history: dict[int, list[tuple]] = {}
    for exp_id, _version, name, valid_from, valid_to in rows:
        history.setdefault(int(exp_id), []).append((name, valid_from, valid_to))
    for k in new:
        names = [h[0] for h in history[k]]
        assert names == ([old[k], new[k]] if k in renamed else [new[k]]), (k, names)
        assert history[k][-1][2] is None
        if k in renamed:
            assert history[k][0][2] == history[k][1][1]
    counts = dict(wh.query("select experience_id, name_history_count from {mart}.experiments"))
    assert counts == {k: 2 if k in renamed else 1 for k in new}


# ------------------------------------------------------------------------------------------------ the sequence


def _copy_days(root: Path, dest: Path, days: set[str] | None) -> None:
    """Copy the session files of `days` (``YYYY/MM/DD``; None = all) from the generated tree."""
    for path in sorted(root.rglob("*.json.gz")):
        rel = path.relative_to(root)
        if days is None or "/".join(rel.parts[:3]) in days:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / rel)


def run_sequence(tmp_path: Path, wh: Warehouse, mart_data: tuple[dict, Path], *, with_revision_0: bool) -> dict:
    _truth, root = mart_data
    config = _config()
    rev0, rev1 = metadata_catalog(config, 0), metadata_catalog(config, 1)
    served = tmp_path / "served"
    first_day = min("/".join(p.relative_to(root).parts[:3]) for p in root.rglob("*.json.gz"))

    # 1. first day of sessions, no Metadata API
    _copy_days(root, served, {first_day})
    wh.load(served)
    build_and_check(wh, *WITHOUT_READOUT)  # data tests too: everything must build and pass without the API
    check_without_metadata(wh)

    private_pem, public_pem = demo_key_pair()
    with MetadataApiServer(rev0, public_pem, USER, RETAILER) as api:
        meta = Metadata(wh, api, private_pem)
        meta.refresh(rev0)
        if with_revision_0:
            # 2. names arrive, no new sessions: the incremental marts are named by the post-hook refresh
            wh.dbt("run", *WITHOUT_READOUT)
            check_names(wh, rev0)
        # 3. renames in the API and the rest of the sessions (new rows named at build time, old rows refreshed)
        meta.refresh(rev1)
    _copy_days(root, served, None)
    wh.load(served)
    build_and_check(wh, *WITHOUT_READOUT)  # the monitors warn on the partial day after the generated days
    counts = check_names(wh, rev1)
    check_history(wh, rev0, rev1)
    print(f"names on {wh.kind}: {counts}")  # the numbers the closing note quotes (pytest -s)

    # 4. a full build gives the same rows
    incremental = _snapshot(wh)
    wh.dbt("run", "--full-refresh", *WITHOUT_READOUT)
    full = _snapshot(wh)
    for name in incremental:
        assert incremental[name] == full[name], f"{name}: incremental != full build"
    return counts


@pytest.mark.timeout(900)
def test_duckdb_names_from_metadata(tmp_path: Path, mart_data: tuple[dict, Path]) -> None:
    counts = run_sequence(tmp_path, Warehouse(tmp_path, "duckdb", dbt_vars={"mart_lookback_hours": 0}), mart_data,
                          with_revision_0=True)
    assert counts["splits_named"] > 0 and counts["splits_unknown"] > 0 and counts["exposures_named"] > 0


@pytest.mark.timeout(900)
def test_postgres_names_from_metadata(tmp_path: Path, postgres: PrivatePostgres,
                                      mart_data: tuple[dict, Path]) -> None:
    wh = Warehouse(tmp_path, "postgres", pg=postgres, name="pg_names", dbt_vars={"mart_lookback_hours": 0})
    counts = run_sequence(tmp_path, wh, mart_data, with_revision_0=False)
    assert counts["splits_named"] > 0 and counts["splits_unknown"] > 0
