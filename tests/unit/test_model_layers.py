"""The dbt project's layering and mart names (docs/dbt.md "Layers" and "Mart names").

* No model reads a later layer: staging reads sources, intermediate reads staging/intermediate, marts any.
* A mart reads staging only where `MART_READS_STAGING` allows it, with the reason.
* Every mart is named by the one scheme (entity-named, plural, no type prefix or suffix); the old names live on only
  as the deprecated views of models/marts/deprecated/, each nothing but `select * from` its renamed mart.

Read from the models' SQL (every ``ref('name')``), not from a manifest, so it runs in milliseconds without dbt.
A backwards edge (an intermediate model reading a mart) makes the mart a hidden input of the layer below: a
`--select` of the intermediate layer builds it against a stale mart, and a change to the mart moves results
it should not.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
LAYERS = {"staging": 0, "intermediate": 1, "marts": 2}
REF = re.compile(r"""\bref\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)""")
DEPRECATED = REPO / "models" / "marts" / "deprecated"

MART_READS_STAGING = {
    ("experiments", "stg_monetate__metadata_experience_goals"):
        "lists the goals of each experience's current version: a group-by in the mart, nothing to deduplicate",
    ("experiments", "stg_monetate__metadata_experience_tags"):
        "lists the tags of each experience's current version: a group-by in the mart, nothing to deduplicate",
    ("experiment_name_history", "stg_monetate__metadata_experiences"):
        "the mart is the experiences' name versions themselves (scd2 rows as loaded, one per version)",
    ("delivery_windows", "stg_monetate__files"):
        "the loader's ledger is one row per file already; the mart is its count per window",
    ("session_volumes_daily", "stg_monetate__files"):
        "the loader's ledger is one row per file already; the mart is its session count per day",
}
"""Marts that read a staging model, and why that is the right shape: the staging model holds no duplicate
versions (the session models do: their marts read the deduplicated intermediate models), and an `int_` model
in between would only rename it (the structure guide's marts are built from staging models; `int_` models here
re-grain or deduplicate)."""

TYPE_PREFIXES = ("dim_", "fct_", "fact_", "monitor_", "mart_", "rpt_", "stg_", "int_", "base_")
TYPE_SUFFIXES = ("_fact", "_facts", "_dim", "_mart")
GRAIN_SUFFIX = re.compile(r"_(daily|weekly|monthly|by_[a-z]+)$")
COLLECTIVE = ("_history", "_map")


def _models() -> dict[str, tuple[int, Path]]:
    out = {}
    for path in (REPO / "models").rglob("*.sql"):
        layer = path.relative_to(REPO / "models").parts[0]
        out[path.stem] = (LAYERS[layer], path)
    return out


def _is_deprecated(path: Path) -> bool:
    return DEPRECATED in path.parents


def name_breaks_scheme(name: str) -> str | None:
    """Why a mart's name breaks the scheme, or None: the entity (plural, or a `_history`/`_map` collection) in
    snake case, an optional grain suffix (`_daily`, `_by_session`), no type prefix or suffix."""
    if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name):
        return "not lower snake case"
    if name.startswith(TYPE_PREFIXES) or name.endswith(TYPE_SUFFIXES):
        return "a type prefix or suffix (the folder says what kind of mart it is)"
    entity = GRAIN_SUFFIX.sub("", name)
    if not (entity.endswith("s") or entity.endswith(COLLECTIVE)):
        return "the entity is not plural (nor a _history/_map collection)"
    return None


def staging_reads(models: dict[str, tuple[int, Path]]) -> set[tuple[str, str]]:
    return {(name, parent) for name, (layer, path) in models.items() if layer == LAYERS["marts"]
            for parent in REF.findall(path.read_text()) if parent in models and models[parent][0] == 0}


def test_no_model_reads_a_later_layer() -> None:
    models = _models()
    assert "int_monetate__experiment_first_exposures" in models and "splits" in models
    backwards = []
    for name, (layer, path) in models.items():
        for parent in REF.findall(path.read_text()):
            if parent in models and models[parent][0] > layer:
                backwards.append(f"{name} reads {parent}")
    assert not backwards, backwards


def test_the_rule_sees_a_backwards_edge() -> None:
    """The pattern finds refs as the models write them (else the test above could never fail)."""
    assert REF.findall("select * from {{ ref('splits') }} join {{ ref( \"x_y\" ) }}") == ["splits", "x_y"]


def test_marts_read_staging_only_where_allowed() -> None:
    """Every mart -> staging edge is in MART_READS_STAGING, and every entry there is still an edge (the list stays
    true); the session marts read none."""
    reads = staging_reads(_models())
    assert not reads - MART_READS_STAGING.keys(), sorted(reads - MART_READS_STAGING.keys())
    assert not MART_READS_STAGING.keys() - reads, sorted(MART_READS_STAGING.keys() - reads)
    assert all(reason.strip() for reason in MART_READS_STAGING.values())


def test_the_staging_rule_sees_a_mart_reading_staging(tmp_path: Path) -> None:
    mart = tmp_path / "marts" / "sessions.sql"
    mart.parent.mkdir()
    mart.write_text("select * from {{ ref('stg_monetate__sessions') }}")
    models = {"sessions": (2, mart), "stg_monetate__sessions": (0, tmp_path / "stg.sql")}
    assert staging_reads(models) == {("sessions", "stg_monetate__sessions")}
    assert ("sessions", "stg_monetate__sessions") not in MART_READS_STAGING


def test_every_mart_is_named_by_the_scheme() -> None:
    models = _models()
    marts = [name for name, (layer, path) in models.items() if layer == LAYERS["marts"] and not _is_deprecated(path)]
    assert len(marts) >= 20
    broken = {name: why for name in marts if (why := name_breaks_scheme(name))}
    assert not broken, broken


def test_the_name_rule_sees_every_old_scheme() -> None:
    for old in ("sessions_fact", "dim_splits", "fct_orders", "monitor_daily_volume", "offer_exposure",
                "Visitors", "mart_sessions"):
        assert name_breaks_scheme(old), old
    for good in ("sessions", "experiment_results_daily", "experiment_results_by_session", "visitor_customer_map",
                 "experiment_name_history", "purchase_items"):
        assert name_breaks_scheme(good) is None, good


def test_deprecated_views_are_only_the_old_names_of_marts() -> None:
    """Each deprecated view is `select * from` one renamed mart, declared deprecated in _deprecated__models.yml
    with a removal date and the row-count test against its mart; its own name is an old one (breaks the scheme)."""
    models = _models()
    files = {p.stem: p for p in DEPRECATED.glob("*.sql")}
    assert len(files) == 9
    declared = {m["name"]: m for m in yaml.safe_load((DEPRECATED / "_deprecated__models.yml").read_text())["models"]}
    assert declared.keys() == files.keys()
    for old, path in files.items():
        sql = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S).strip()
        refs = REF.findall(sql)
        assert len(refs) == 1 and sql == f"select * from {{{{ ref('{refs[0]}') }}}}", (old, sql)
        new = refs[0]
        assert new in models and not _is_deprecated(models[new][1]) and name_breaks_scheme(new) is None, old
        assert name_breaks_scheme(old), f"{old} follows the scheme: it needs no deprecated view"
        model = declared[old]
        assert model.get("deprecation_date") and "Deprecated" in model["description"] and new in model["description"]
        assert {"monetate_same_row_count_as": {"arguments": {"compare_model": f"ref('{new}')"}}} in model["data_tests"]
    project = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    folder = project["models"]["monetate_session_stream"]["marts"]["deprecated"]
    assert folder["+materialized"] == "view" and "deprecated" in folder["+tags"]
