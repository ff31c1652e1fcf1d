"""A small Metadata API catalog in the API's own shape (../shared/metadata_api.md), for the metadata tests.

Helper G's `dlt_pipeline.synthetic.metadata_catalog` builds the demo's full catalog; these tests need only a
few rows whose every quirk is known: `is_control` as a string and as a boolean, a traffic share of exactly 1
(an integer in JSON), an experience with no control, an empty end time, more rows than one page.
"""

from __future__ import annotations

import copy
from typing import Any

RETAILER = "acme"
USERNAME = "api-user"
PII_TARGETS = (701, 702)  # collects_person_id / is_identifier in the catalog below


def experience(eid: int, name: str, splits: list[tuple[int, str, float, Any]], **extra: Any) -> dict[str, Any]:
    """An experience summary; `splits` are (split id, variant, share, is_control as the API sends it)."""
    return {
        "id": eid, "account_domain": "acme.example", "experience_name": name, "experience_type": "ab_test",
        "archived": False, "create_time": "2026-10-01T08:00:00Z", "start_time": "2026-10-02T00:00:00+00:00",
        "end_time": None, "status": "active", "splits": [s[0] for s in splits], "tags": ["checkout", "q4"],
        "goals": [{"key": "conv", "name": "Conversion", "description": "any purchase"}],
        "variant_splits": [
            {"id": sid, "variant": variant, "split": share, "label": variant, "is_control": ctl,
             **({"allocations": [{"variant": "A-Control", "split": 0.0665, "label": "A-Control",
                                  "split_id": sid + 50}]} if variant == "Control" else {})}
            for sid, variant, share, ctl in splits],
        "integration_type": "js-tag", **extra}


def catalog(revision: int = 1, extra_variants: int = 12) -> dict[str, list[dict[str, Any]]]:
    """Revision 0: original names; revision 1: experience 101 and page event 9001 renamed."""
    exps = [
        experience(101, "Checkout button" if revision == 0 else "Checkout button v2",
                   [(1001, "A", 0.5, "false"), (1002, "Control", 0.5, "true")]),
        experience(102, "Free shipping banner", [(1011, "A", 0.34, False), (1012, "B", 0.33, False),
                                                 (1013, "Control", 0.33, True)]),
        experience(103, "Homepage hero (no control)", [(1021, "Experiment", 1, None)], status="ended",
                   end_time="2026-10-20T00:00:00Z"),
    ]
    variants = [{"id": vs["id"], "account_domain": "acme.example", "experience_id": e["id"],
                 "experience_name": e["experience_name"], "experience_type": "ab_test", "split_name": vs["variant"],
                 "split_description": f"{vs['variant']} of {e['experience_name']}", "preview_token": "p",
                 "integration_type": "js-tag"} for e in exps for vs in e["variant_splits"]]
    variants += [{"id": 5000 + i, "account_domain": "acme.example", "experience_id": 999,
                  "experience_name": "Old test", "experience_type": "ab_test", "split_name": "A",
                  "split_description": "", "preview_token": None, "integration_type": "email"}
                 for i in range(extra_variants)]
    return copy.deepcopy({
        "account": [{"id": 1, "type": "retailer", "kind": "web", "archived": False, "channel": "web",
                     "name": "Acme", "preview_url": "https://acme.example"}],
        "variant": variants,
        "experience-summary": exps,
        "pageevent": [{"id": 9001, "title": "Cart view" if revision == 0 else "Cart page view"},
                      {"id": 9002, "title": "Checkout start"}],
        "customtarget": [
            {"id": 701, "title": "Email", "description": "hashed e-mail", "is_identifier": True,
             "collects_person_id": False},
            {"id": 702, "title": "Name", "description": "", "is_identifier": "false", "collects_person_id": "true"},
            {"id": 703, "title": "Segment", "description": "CRM segment", "is_identifier": False,
             "collects_person_id": False}],
    })
