"""The data contract in process: a line's fate never depends on its neighbours, reasons name the field,
and fields the code does not know keep every value whatever its JSON type (no servers needed)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from support.data import gzip_lines, numbered_session

from dlt_pipeline.session_stream.columns import OpenColumns
from dlt_pipeline.session_stream.contract import validate
from dlt_pipeline.session_stream.parse import parse_file
from dlt_pipeline.session_stream.pii import PiiPolicy
from dlt_pipeline.session_stream.reshape import FileContext

# (field, value, word the quarantine reason must contain; None = the line must load)
CASES: list[tuple[str, Any, str | None]] = [
    ("cart_lines", "abc", "cart_lines"), ("view_lines", {"P1": 5}, "view_lines"), ("offers", [1, 2], "offers"),
    ("offers", {"1": "x"}, "offers"), ("offers", {"1": True}, "offers"), ("offers", {"1": 1.5}, "offers"),
    ("offers", {"1": 2.0}, None), ("offers", {"1": None}, None), ("purchases", {"p": "9"}, "purchases"),
    ("session_value", True, "session_value"), ("page_views", 2.0, None), ("page_views", 1.5, "page_views"),
    ("page_views", True, "page_views"), ("session_id", None, "session_id"), ("guid", 5, "guid"),
    ("start_time", None, "start_time"), ("cart_lines", [1], "cart_lines[0]"), ("cart_lines", [None], "cart_lines[0]"),
    ("cart_lines", [{"product_id": 5, "sku": "a", "time": 1}], None),
    ("cart_lines", [{"product_id": 5.5}], "product_id"), ("cart_lines", [{"time": "x"}], "time"),
    ("cart_lines", [{"time": 3.0}], None), ("cart_lines", [{"extra": {"a": 1}}], None),
    ("custom_targets", {"9": {"a": 1}}, "custom_targets"), ("custom_targets", {"9": 5}, None),
    ("custom_targets", "bob@example.com", "custom_targets"), ("purchase_lines", {"x": 5}, "purchase_lines"),
    ("purchase_lines", {"x": {"items": "a"}}, "items"), ("purchase_lines", {"x": {"items": [{"quantity": 1.5}]}},
                                                        "quantity"),
    ("purchase_lines", {"x": {"value": "1"}}, "value"), ("city", "a\x00b", "U+0000"), ("newfield", 1, None),
    ("newfield", "s", None), ("newfield", True, None), ("newobj", {"a": 1, "b": "x"}, None),
    ("newarr", [1, "a", None, {"k": 2}], None), ("end_time", 2**63 - 1, None), ("end_time", -5.5, "end_time"),
    ("browser", ["x"], "browser"),
]
CTX = FileContext("2026/11/24/f.json.gz", "f.json.gz", datetime(2026, 11, 24, tzinfo=UTC))


def _session(i: int, **overrides: Any) -> dict[str, Any]:
    doc = numbered_session(i, seed_base=0, session_id=f"s{i}")
    for key, value in overrides.items():
        if value is None and key in ("session_id", "start_time"):
            doc.pop(key)
        else:
            doc[key] = value
    return doc


def _load(tmp_path: Path, docs: list[dict[str, Any]], batch_size: int,
          pii: PiiPolicy | None = None) -> tuple[set[int], dict[int, Any], dict[str, list[pa.Table]]]:
    path = tmp_path / "f.json.gz"
    path.write_bytes(gzip_lines(docs, newline_at_end=False))
    loaded: set[int] = set()
    rejects: dict[int, Any] = {}
    tables: dict[str, list[pa.Table]] = {}
    for batch in parse_file(path, CTX, pii or PiiPolicy(), batch_size, 1 << 20):
        if "sessions" in batch.tables:
            loaded |= set(batch.tables["sessions"].column("_source_line").to_pylist())
        rejects.update({r.line_number: r for r in batch.rejects})
        for name, table in batch.tables.items():
            tables.setdefault(name, []).append(table)
    return loaded, rejects, tables


@pytest.mark.parametrize(("field", "value", "word"), CASES)
def test_each_shape_alone_loads_or_is_quarantined_naming_the_field(tmp_path: Path, field: str, value: Any,
                                                                   word: str | None) -> None:
    loaded, rejects, _ = _load(tmp_path, [_session(1, **{field: value})], 100)
    if word is None:
        assert loaded == {1} and not rejects, rejects
    else:
        assert not loaded and word in rejects[1].reason, rejects


def test_acceptance_never_depends_on_the_batch(tmp_path: Path) -> None:
    """Random lines with 0-2 contract breaks each: the same lines load alone, in batches of 7, 50 and all."""
    rng = random.Random(5)
    docs = []
    for i in range(240):
        overrides = dict(rng.choice(CASES)[:2] for _ in range(rng.choice([0, 0, 1, 2])))
        docs.append(_session(i, **overrides))
    expected = {n for n, doc in enumerate(docs, 1) if validate(doc) is None}
    assert 60 < len(expected) < 200
    for batch_size in (1, 7, 50, 1000):
        loaded, rejects, _ = _load(tmp_path, docs, batch_size)
        assert loaded == expected, batch_size
        assert set(rejects) == set(range(1, len(docs) + 1)) - expected


def test_no_string_is_split_into_child_rows_and_no_value_is_lost(tmp_path: Path) -> None:
    """The two coercions the issue found: `cart_lines: "abc"` gave rows a, b, c; `view_lines: {"P1": 5}` lost 5."""
    good = next(s for s in map(_session, range(3, 100)) if s["cart_lines"])
    docs = [_session(1, cart_lines="abc"), _session(2, view_lines={"P1": 5}), good]
    _, rejects, tables = _load(tmp_path, docs, 100)
    assert set(rejects) == {1, 2}
    carts = pa.concat_tables(tables["sessions__cart_lines"])
    assert set(carts.column("session_id").to_pylist()) == {good["session_id"]}
    assert carts.num_rows == len(good["cart_lines"])


def test_open_fields_keep_every_value_in_one_column_per_kind(tmp_path: Path) -> None:
    """A new field that is a number, a string and a boolean on different lines keeps all three values."""
    docs = [_session(1, loyalty=5), _session(2, loyalty="gold"), _session(3, loyalty=True), _session(4)]
    _, rejects, tables = _load(tmp_path, docs, 2)
    assert not rejects
    registry = OpenColumns.from_schema(None)
    sessions = pa.concat_tables([registry.conform("sessions", t) for t in tables["sessions"]],
                                promote_options="permissive")
    rows = {r["session_id"]: r for r in sessions.to_pylist()}
    assert (rows["s1"]["loyalty"], rows["s2"]["loyalty__v_text"], rows["s3"]["loyalty__v_bool"]) == (5.0, "gold", True)
    assert rows["s4"]["loyalty"] is None
    assert sessions.schema.field("loyalty").type == pa.float64()


def test_open_columns_keep_the_type_an_earlier_load_recorded() -> None:
    """dlt's schema says `loyalty` is text: later numbers go to `loyalty__v_double`, never fail the load."""

    class Naming:
        def normalize_table_identifier(self, name: str) -> str:
            return name

        def normalize_identifier(self, name: str) -> str:
            return name

    registry = OpenColumns({("sessions", "loyalty"): "text"}, Naming())
    table = pa.table({"loyalty__v_double": [1.0], "loyalty__v_text": ["x"], "page_views": [1]})
    assert registry.conform("sessions", table).column_names == ["loyalty__v_double", "loyalty", "page_views"]


def test_rejected_lines_keep_no_personal_data_under_pii_hash(tmp_path: Path) -> None:
    email = "mary.secret@example.com"
    docs = [_session(1, custom_targets={"9001": email}, page_views="x"),
            _session(2, custom_targets=email)]
    pii = PiiPolicy("hash", None, b"salt")
    _, rejects, _ = _load(tmp_path, docs, 100, pii)
    assert set(rejects) == {1, 2}
    for reject in rejects.values():
        assert email not in (reject.raw_text or "") and email not in reject.reason
    assert "custom_targets" in rejects[1].raw_text and "page_views" in rejects[1].reason


def test_byte_order_mark_does_not_cost_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "bom.json.gz"
    lines = [orjson.dumps(_session(i)) for i in range(3)]
    path.write_bytes(gzip_lines([b"\xef\xbb\xbf" + lines[0], *lines[1:]], newline_at_end=False))
    batches = list(parse_file(path, CTX, PiiPolicy(), 100, 1 << 20))
    assert sum(b.sessions for b in batches) == 3 and not any(b.rejects for b in batches)


def test_child_row_ids_are_unique_across_every_table(tmp_path: Path) -> None:
    """`page_event_ids` and `purchases` (and `custom_targets` and `cart_lines`) once shared id prefixes."""
    docs = [_session(i) for i in range(40)]
    _, _, tables = _load(tmp_path, docs, 1000)
    ids = [i for name, parts in tables.items() for part in parts for i in part.column("_dlt_id").to_pylist()]
    assert len(tables) >= 8 and len(ids) == len(set(ids))
