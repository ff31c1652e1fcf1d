"""No dbt model reads a later layer: staging reads sources, intermediate reads staging/intermediate, marts any.

Read from the models' SQL (every ``ref('name')``), not from a manifest, so it runs in milliseconds without dbt.
A backwards edge (an intermediate model reading a mart) makes the mart a hidden input of the layer below: a
`--select` of the intermediate layer builds it against a stale mart, and a change to the mart moves results
it should not.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYERS = {"staging": 0, "intermediate": 1, "marts": 2}
REF = re.compile(r"""\bref\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)""")


def _models() -> dict[str, tuple[int, Path]]:
    out = {}
    for path in (REPO / "models").rglob("*.sql"):
        layer = path.relative_to(REPO / "models").parts[0]
        out[path.stem] = (LAYERS[layer], path)
    return out


def test_no_model_reads_a_later_layer() -> None:
    models = _models()
    assert "int_monetate__experiment_first_exposures" in models and "dim_splits" in models
    backwards = []
    for name, (layer, path) in models.items():
        for parent in REF.findall(path.read_text()):
            if parent in models and models[parent][0] > layer:
                backwards.append(f"{name} reads {parent}")
    assert not backwards, backwards


def test_the_rule_sees_a_backwards_edge() -> None:
    """The pattern finds refs as the models write them (else the test above could never fail)."""
    assert REF.findall("select * from {{ ref('dim_splits') }} join {{ ref( \"x_y\" ) }}") == ["dim_splits", "x_y"]
