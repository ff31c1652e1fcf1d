"""The synthetic Metadata API catalog must look like the API and agree with the generated sessions.

Every helper downstream (the metadata source, the stand-in server, the dimension models, the readout)
trusts this catalog, so its shape is checked against the field lists of ``../shared/metadata_api.md``
and its ids against sessions re-read from the generator's output.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from dlt_pipeline.synthetic.design import CUSTOM_TARGETS, OLD_SPLIT_IDS, PII_TARGET_IDS, page_event_design
from dlt_pipeline.synthetic.generator import GeneratorConfig, experience_design, iter_sessions
from dlt_pipeline.synthetic.metadata_catalog import RESOURCES, metadata_catalog

CFG = GeneratorConfig(sessions_per_day=4000, seed=7)

FIELDS = {  # from ../shared/metadata_api.md, "Metadata endpoints"
    "account": {"id", "type", "kind", "archived", "channel", "name", "preview_url"},
    "variant": {"id", "account_domain", "experience_id", "experience_name", "experience_type", "split_name",
                "split_description", "preview_token", "integration_type"},
    "experience-summary": {"id", "account_domain", "experience_name", "experience_type", "archived", "create_time",
                           "start_time", "end_time", "status", "splits", "tags", "goals", "variant_splits",
                           "integration_type"},
    "pageevent": {"id", "title"},
    "customtarget": {"id", "title", "description", "is_identifier", "collects_person_id"},
}
STATUSES = {"active", "draft", "paused", "scheduled", "ended"}
INTEGRATIONS = {"js-tag", "engine-api", "email"}


def is_iso(value: str) -> bool:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def as_bool(value: bool | str) -> bool:
    assert isinstance(value, bool) or value in ("true", "false"), value
    return value is True or value == "true"


@pytest.fixture(scope="module")
def sessions() -> list[dict]:
    return [s for _, s in iter_sessions(CFG)]


@pytest.mark.parametrize("revision", [0, 1])
def test_rows_are_shaped_like_the_api(revision: int) -> None:
    cat = metadata_catalog(CFG, revision)
    assert tuple(cat) == RESOURCES
    json.dumps(cat)  # plain JSON types only
    for resource, rows in cat.items():
        assert rows, resource
        ids = [r["id"] for r in rows]
        assert all(type(i) is int for i in ids) and len(ids) == len(set(ids)), resource
        for r in rows:
            assert set(r) == FIELDS[resource], (resource, set(r) ^ FIELDS[resource])
    assert cat["account"][0]["id"] == CFG.account_id
    for v in cat["variant"]:
        assert v["integration_type"] in INTEGRATIONS and isinstance(v["preview_token"], str)
        assert type(v["experience_id"]) is int
    for e in cat["experience-summary"]:
        assert e["status"] in STATUSES and isinstance(e["archived"], bool)
        assert is_iso(e["create_time"]) and is_iso(e["start_time"]) and e["create_time"] <= e["start_time"]
        assert e["end_time"] is None or is_iso(e["end_time"])
        assert all(isinstance(t, str) for t in e["tags"])
        assert all(set(g) == {"key", "name", "description"} for g in e["goals"])
        vs = e["variant_splits"]
        assert [x["id"] for x in vs] == e["splits"]
        assert math.isclose(sum(x["split"] for x in vs), 1.0)
        assert all({"id", "variant", "split", "label", "is_control"} <= set(x) for x in vs)
        controls = [x for x in vs if as_bool(x["is_control"])]
        assert len(controls) <= 1
        for x in controls:
            assert x["variant"] == "Control"
            assert [a["split_id"] for a in x["allocations"]] == [x["id"]]
            assert math.isclose(sum(a["split"] for a in x["allocations"]), x["split"])
            assert all(set(a) == {"variant", "split", "label", "split_id"} for a in x["allocations"])
    types = {type(x["is_control"]) for e in cat["experience-summary"] for x in e["variant_splits"]}
    assert types == {bool, str}, "is_control must be served both ways (the docs disagree on its type)"
    flags = {t["id"]: (t["is_identifier"], t["collects_person_id"]) for t in cat["customtarget"]}
    assert {i for i, f in flags.items() if any(f)} == {int(i) for i in PII_TARGET_IDS}


def test_catalog_matches_the_design() -> None:
    cat = metadata_catalog(CFG)
    variants = {v["id"]: v for v in cat["variant"]}
    summaries = {e["id"]: e for e in cat["experience-summary"]}
    design = experience_design(CFG)
    assert set(summaries) == {e.experience_id for e in design}
    assert set(variants) == {s.split_id for e in design for s in e.splits}
    for e in design:
        summary = summaries[e.experience_id]
        assert summary["experience_name"] == e.name and summary["splits"] == list(e.split_ids)
        shares = {x["id"]: x["split"] for x in summary["variant_splits"]}
        for s in e.splits:
            assert variants[s.split_id]["experience_id"] == e.experience_id
            assert variants[s.split_id]["split_name"] == s.name
            assert shares[s.split_id] == s.share  # what the metadata says, also for the broken allocation
        control = [x["id"] for x in summary["variant_splits"] if as_bool(x["is_control"])]
        if e.kind == "no_control":
            assert control == [] and all(v["split_name"] != "Control" for v in cat["variant"]
                                         if v["experience_id"] == e.experience_id)
        else:
            assert control == [e.control.split_id]


def test_sessions_use_catalog_ids_and_a_few_unknown_ones(sessions: list[dict]) -> None:
    cat = metadata_catalog(CFG)
    known_splits = {v["id"] for v in cat["variant"]}
    seen_splits = {int(k) for s in sessions if len(s["offers"]) < 1000 for k in s["offers"]}
    unknown = seen_splits - known_splits
    assert unknown and unknown <= set(OLD_SPLIT_IDS)
    live = {s.split_id for e in experience_design(CFG) if e.exposure >= 0.1 for s in e.splits}
    assert live <= seen_splits
    catalog_only = {s.split_id for e in experience_design(CFG) if e.exposure == 0 for s in e.splits}
    assert catalog_only and not catalog_only & seen_splits

    known_events = {p["id"] for p in cat["pageevent"]}
    seen_events = {int(k) for s in sessions if len(s["page_event_ids"]) < 1000 for k in s["page_event_ids"]}
    assert seen_events <= {e.event_id for e in page_event_design(CFG)}
    assert len(seen_events - known_events) == 3 and len(known_events - seen_events) >= 2

    known_targets = {t["id"] for t in cat["customtarget"]}
    seen_targets = {int(k) for s in sessions for k in s["custom_targets"]}
    assert seen_targets - known_targets == {1008}
    assert {9001, 9002} <= seen_targets & known_targets
    assert set(CUSTOM_TARGETS) == known_targets


def test_revisions_rename_some_names_and_keep_ids() -> None:
    old, new = metadata_catalog(CFG, 0), metadata_catalog(CFG, 1)
    for resource in RESOURCES:
        assert [r["id"] for r in old[resource]] == [r["id"] for r in new[resource]], resource

    def changed(resource: str, *fields: str) -> set[int]:
        return {a["id"] for a, b in zip(old[resource], new[resource], strict=True)
                if any(a[f] != b[f] for f in fields)}

    renamed = changed("experience-summary", "experience_name")
    assert len(renamed) >= 2 and len(renamed) < len(new["experience-summary"])
    assert changed("experience-summary", "status")
    split_changes = changed("variant", "split_name", "split_description")
    assert len(split_changes) >= 2
    assert changed("variant", "experience_name") == {
        v["id"] for v in new["variant"] if v["experience_id"] in renamed}
    assert len(changed("pageevent", "title")) == 2
    assert old["customtarget"] == new["customtarget"]
    with pytest.raises(ValueError):
        metadata_catalog(CFG, 2)


def test_catalog_is_deterministic() -> None:
    assert json.dumps(metadata_catalog(CFG)) == json.dumps(metadata_catalog(GeneratorConfig(sessions_per_day=4000,
                                                                                            seed=7)))
