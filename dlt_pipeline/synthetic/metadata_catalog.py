"""The Monetate Metadata API's view of the synthetic account, consistent with the generated sessions.

Why: the metadata loader, the stand-in API server, the dimension models and the experiment
readout all need a catalog that names exactly the ids the generator puts in sessions (and,
like the real API, misses a few old ones).  Rows are shaped exactly like the API's ``data``
items in ``../shared/metadata_api.md``: same field names, integer ids, ISO-8601 time strings.

``revision=0`` is the catalog as it was when the data starts (original names), ``revision=1``
the current one: two experiences, two split descriptions/names and two page events renamed,
one experience paused.  Everything is derived from :mod:`dlt_pipeline.synthetic.design`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from dlt_pipeline.synthetic.design import (
    ACCOUNT_DOMAIN,
    CUSTOM_TARGETS,
    ExperienceDesign,
    experience_design,
    iso_days_before,
    page_event_design,
)

if TYPE_CHECKING:  # pragma: no cover
    from dlt_pipeline.synthetic.generator_config import GeneratorConfig

__all__ = ["RESOURCES", "metadata_catalog"]

RESOURCES = ("account", "variant", "experience-summary", "pageevent", "customtarget")
"""Catalog keys: the API's resource path names under ``/metadata/``."""


def _preview_token(split_id: int) -> str:
    return hashlib.blake2b(f"preview:{split_id}".encode(), digest_size=10).hexdigest()


def _is_control_value(exp: ExperienceDesign, flag: bool) -> bool | str:
    # The published docs declare is_control a string and show a boolean: serve both.
    return ("true" if flag else "false") if exp.is_control_as_string else flag


def _variant_splits(exp: ExperienceDesign, current: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    treatments = [s for s in exp.splits if not s.is_control]
    for s in exp.splits:
        is_ctrl = s.is_control and exp.control_in_metadata
        label = s.name if current else s.original_name
        item: dict[str, Any] = {
            "id": s.split_id,
            "variant": s.variant,
            "split": s.share,
            "label": label,
            "is_control": _is_control_value(exp, is_ctrl),
        }
        if exp.kind == "effect":  # the published example's holdout fields, on one experience only
            item["is_holdout"] = False
            item["test_group"] = "control" if is_ctrl else "test"
        if is_ctrl:
            variant = f"{treatments[0].variant}-Control" if len(treatments) == 1 else "Control"
            item["allocations"] = [{"variant": variant, "split": s.share, "label": variant, "split_id": s.split_id}]
        out.append(item)
    return out


def _experience_rows(config: GeneratorConfig, current: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The `variant` rows (one per split) and `experience-summary` rows, with current or original names."""
    start = config.start_date
    variants: list[dict[str, Any]] = []
    experiences: list[dict[str, Any]] = []
    for exp in experience_design(config):
        name = exp.name if current else exp.original_name
        status = exp.status if current else exp.original_status
        integration = exp.integration_type
        for s in exp.splits:
            variants.append({
                "id": s.split_id,
                "account_domain": ACCOUNT_DOMAIN,
                "experience_id": exp.experience_id,
                "experience_name": name,
                "experience_type": exp.experience_type,
                "split_name": s.name if current else s.original_name,
                "split_description": s.description if current else s.original_description,
                "preview_token": _preview_token(s.split_id),
                "integration_type": integration,
            })
        experiences.append({
            "id": exp.experience_id,
            "account_domain": ACCOUNT_DOMAIN,
            "experience_name": name,
            "experience_type": exp.experience_type,
            "archived": exp.archived,
            "create_time": iso_days_before(start, exp.created_days_before, 8),
            "start_time": iso_days_before(start, exp.started_days_before, 9),
            "end_time": None if exp.ended_days_before is None else iso_days_before(start, exp.ended_days_before, 23),
            "status": status,
            "splits": list(exp.split_ids),
            "tags": list(exp.tags),
            "goals": [{"key": k, "name": n, "description": d} for k, n, d in exp.goals],
            "variant_splits": _variant_splits(exp, current),
            "integration_type": integration,
        })
    return variants, experiences


def metadata_catalog(config: GeneratorConfig, revision: int = 1) -> dict[str, list[dict[str, Any]]]:
    """Rows per API resource (``RESOURCES``) as the Metadata API would serve them at ``revision``.

    Consistent with the sessions the same config generates, except ids the API does not know:
    ``design.OLD_SPLIT_IDS``, the capped bot sessions' synthetic ids, three page events and
    custom target 1008.
    """
    if revision not in (0, 1):
        raise ValueError("revision must be 0 (original names) or 1 (current names)")
    current = revision == 1
    account = {
        "id": config.account_id,
        "type": "retailer",
        "kind": "production",
        "archived": False,
        "channel": "web",
        "name": "Demo Retailer",
        "preview_url": f"https://www.{ACCOUNT_DOMAIN}/",
    }
    variants, experiences = _experience_rows(config, current)
    events = [
        {"id": e.event_id, "title": e.title if current else e.original_title}
        for e in page_event_design(config)
        if e.in_catalog
    ]
    targets = [
        {"id": tid, "title": t, "description": d, "is_identifier": ident, "collects_person_id": person}
        for tid, (t, d, ident, person) in sorted(CUSTOM_TARGETS.items())
    ]
    return {
        "account": [account],
        "variant": variants,
        "experience-summary": experiences,
        "pageevent": sorted(events, key=lambda e: e["id"]),
        "customtarget": targets,
    }
