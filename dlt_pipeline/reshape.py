"""Turn Session Stream lines into column-oriented Arrow tables, one per raw table.

Why columnar and hand-rolled: dlt's relational normalizer handles a row at a time in Python (~3,000
sessions/s here) and would turn id-keyed objects (`offers`, `purchases`, ...) into one column per id,
which breaks PostgreSQL/Redshift at 1,600 columns. Building per-column Python lists and converting
each list once with `pyarrow.array` is an order of magnitude faster, and dlt then loads the Arrow
tables with almost no normalize work.

The shapes follow the vendor's field table: arrays of objects become child rows with one column per
key, objects keyed by dynamic ids become child rows `(id, value)`, `purchase_lines` is doubly nested.
Anything the code does not know is kept: unknown scalars become columns, unknown objects/arrays become
child tables. Lines that are not JSON objects or carry wrong types in known fields are rejected with a
reason so the caller can quarantine them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from dlt_pipeline.pii import PiiPolicy

CAP = 1000
"""The vendor's soft item cap: a variable-size field at or over it may be incomplete (likely a bot)."""

INT_FIELDS = (
    "account_id", "end_time", "page_views", "page_views_ss", "product_view_count", "purchase_count",
    "screen_height", "screen_width", "session_count", "start_time", "time_on_site", "time_on_site_ss",
)
FLOAT_FIELDS = ("purchase_value_ss", "session_value", "session_value_ss")
STR_FIELDS = (
    "browser", "browser_version", "city", "country_code", "customer_id", "customer_link", "device_type",
    "guid", "has_cart", "has_new_customer", "has_product_view", "has_purchase", "has_recommendation_cart",
    "has_recommendation_click", "has_recommendation_impression", "has_recommendation_purchase",
    "has_stealth", "is_bounce", "is_closed", "os", "os_version", "region", "session_id",
)
SCALAR_TYPES: dict[str, pa.DataType] = {
    **{f: pa.int64() for f in INT_FIELDS},
    **{f: pa.float64() for f in FLOAT_FIELDS},
    **{f: pa.string() for f in STR_FIELDS},
}
ID_KEYED: dict[str, pa.DataType] = {
    "offers": pa.int64(),
    "page_event_ids": pa.int64(),
    "custom_targets": pa.string(),
    "purchases": pa.float64(),
}
ARRAYS = ("cart_lines", "view_lines")
NESTED = (*ID_KEYED, *ARRAYS, "purchase_lines")
KNOWN_FIELDS = frozenset(SCALAR_TYPES) | frozenset(NESTED)

# Column types for the keys we expect inside nested values, per child; other keys are inferred.
LINE_HINTS: dict[str, pa.DataType] = {"product_id": pa.string(), "sku": pa.string(), "time": pa.int64()}
PURCHASE_HINTS: dict[str, pa.DataType] = {"id": pa.string(), "value": pa.float64(), "time": pa.int64()}
ITEM_HINTS: dict[str, pa.DataType] = {
    "purchase_id": pa.string(), "product_id": pa.string(), "sku": pa.string(), "unit_price": pa.float64(),
    "quantity": pa.int64(),
}
UNKNOWN_HINTS: dict[str, pa.DataType] = {"id": pa.string()}
LINK_TYPES: dict[str, pa.DataType] = {
    "_dlt_id": pa.string(), "_dlt_parent_id": pa.string(), "_dlt_root_id": pa.string(),
    "_dlt_list_idx": pa.int64(), "session_id": pa.string(),
}

SESSIONS = "sessions"


def child_table(field_name: str) -> str:
    """dlt's naming for a nested table of `sessions`."""
    return f"{SESSIONS}__{field_name}"


ITEMS_TABLE = child_table("purchase_lines__items")


class ColumnBuilder:
    """Accumulates rows of varying keys as per-column lists, padding absent keys with None."""

    __slots__ = ("cols", "n")

    def __init__(self, fixed: Iterable[str] = ()) -> None:
        self.cols: dict[str, list[Any]] = {name: [] for name in fixed}
        self.n = 0

    def add(self, row: dict[str, Any]) -> None:
        cols, n = self.cols, self.n
        for key, value in row.items():
            col = cols.get(key)
            if col is None:
                col = cols[key] = [None] * n
            col.append(value)
        self.n = n + 1
        if len(row) != len(cols):
            for col in cols.values():
                if len(col) == n:
                    col.append(None)


def _json_text(value: Any) -> Any:
    """Scalars stay as they are; nested values are kept whole as JSON text."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def _infer_array(values: list[Any]) -> pa.Array | None:
    """Type a column we have no hint for; mixed kinds fall back to text so nothing is lost.

    Numbers always become float64 so that a field delivered as 1 in one batch and 0.5 in the next keeps
    one column type. Returns None for an all-null column (it carries no information yet).
    """
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return None
    if kinds <= {bool}:
        return pa.array(values, pa.bool_())
    if kinds <= {int, float}:
        try:
            return pa.array(values, pa.float64())
        except (pa.ArrowInvalid, OverflowError):
            pass
    if kinds <= {str}:
        return pa.array(values, pa.string())
    return pa.array([None if v is None else (v if isinstance(v, str) else orjson.dumps(v).decode())
                     for v in values], pa.string())


def to_arrow(builder: ColumnBuilder, hints: dict[str, pa.DataType]) -> pa.Table:
    """Convert a builder to an Arrow table using hints where we have them (raises on a type mismatch)."""
    arrays, names = [], []
    for name, values in builder.cols.items():
        hint = hints.get(name) or LINK_TYPES.get(name)
        if hint is not None:
            arr = pa.array(values, hint)
        else:
            arr = _infer_array(values)
            if arr is None:
                continue
        arrays.append(arr)
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


@dataclass
class Reject:
    """A line that cannot be loaded, with the reason the user sees in the rejects table."""

    line_number: int
    reason: str
    raw_text: str


@dataclass
class FileContext:
    """Per-file constants stamped on every session row for lineage."""

    file_path: str
    file_name: str
    window_start: Any  # datetime (UTC)
    id_prefix: str = field(init=False)

    def __post_init__(self) -> None:
        self.id_prefix = hashlib.blake2b(self.file_path.encode(), digest_size=6).hexdigest()


_CHECKS: dict[pa.DataType, tuple[type, ...]] = {
    pa.int64(): (int,), pa.float64(): (int, float), pa.string(): (str,),
}


def validate(doc: Any) -> str | None:
    """Explain why a parsed line cannot be loaded, or return None when it can.

    Only used on the slow path (when a whole batch fails to convert), so clarity beats speed here.
    """
    if not isinstance(doc, dict):
        return f"line is valid JSON but a {type(doc).__name__}, not an object"
    for name, typ in SCALAR_TYPES.items():
        value = doc.get(name)
        if value is None:
            continue
        ok = _CHECKS[typ]
        if isinstance(value, bool) or not isinstance(value, ok):
            if typ == pa.int64() and isinstance(value, float) and value.is_integer():
                continue
            return f"field '{name}' should be {_type_word(typ)} but is {orjson.dumps(value).decode()[:80]}"
        if typ == pa.int64() and not -(2**63) <= value < 2**63:
            return f"field '{name}' is out of range for a 64-bit integer"
    for name in ID_KEYED:
        value = doc.get(name)
        if value is not None and not isinstance(value, dict):
            return f"field '{name}' should be an object keyed by id but is a {type(value).__name__}"
        if value and ID_KEYED[name] != pa.string():
            for key, val in value.items():
                if isinstance(val, bool) or not isinstance(val, _CHECKS[ID_KEYED[name]]):
                    return f"field '{name}' has a non-numeric value for id '{key}'"
    for name in ARRAYS:
        value = doc.get(name)
        if value is not None and not isinstance(value, list):
            return f"field '{name}' should be an array but is a {type(value).__name__}"
        for elem in value or ():
            reason = _check_child(name, elem, LINE_HINTS)
            if reason:
                return reason
    lines = doc.get("purchase_lines")
    if lines is not None:
        if not isinstance(lines, dict):
            return f"field 'purchase_lines' should be an object keyed by purchase id but is a {type(lines).__name__}"
        for pid, purchase in lines.items():
            if not isinstance(purchase, dict):
                return f"purchase_lines['{pid}'] should be an object"
            reason = _check_child("purchase_lines", purchase, PURCHASE_HINTS)
            if reason:
                return reason
            items = purchase.get("items")
            if items is not None and not isinstance(items, list):
                return f"purchase_lines['{pid}'].items should be an array"
            for item in items or ():
                reason = _check_child("purchase_lines.items", item, ITEM_HINTS)
                if reason:
                    return reason
    return None


def _type_word(typ: pa.DataType) -> str:
    return {pa.int64(): "an integer", pa.float64(): "a number", pa.string(): "a string"}[typ]


def _check_child(where: str, elem: Any, hints: dict[str, pa.DataType]) -> str | None:
    if not isinstance(elem, dict):
        return None  # a scalar entry is kept as a `value` column, as the fast path does
    for key, typ in hints.items():
        value = elem.get(key)
        if value is None or key in ("id", "purchase_id"):
            continue
        if isinstance(value, bool) or not isinstance(value, _CHECKS[typ]):
            if typ == pa.int64() and isinstance(value, float) and value.is_integer():
                continue
            return f"'{where}' entry has '{key}' = {orjson.dumps(value).decode()[:80]}, expected {_type_word(typ)}"
    return None


class BatchBuilder:
    """Builds all raw tables for one batch of parsed session lines from one file."""

    def __init__(self, ctx: FileContext, pii: PiiPolicy) -> None:
        self.ctx = ctx
        self.pii = pii
        self.scalars: dict[str, list[Any]] = {name: [] for name in SCALAR_TYPES}
        self.line_numbers: list[int] = []
        self.ids: list[str] = []
        self.capped: list[str | None] = []
        self.extra = ColumnBuilder()
        self.id_keyed = {name: ([], [], [], [], [], []) for name in ID_KEYED}  # id, parent, idx, sid, key, val
        self.arrays = {name: ColumnBuilder() for name in ARRAYS}
        self.purchase_lines = ColumnBuilder()
        self.items = ColumnBuilder()
        self.unknown_nested: dict[str, ColumnBuilder] = {}
        self.n = 0

    def add(self, line_number: int, doc: dict[str, Any]) -> None:
        """Append one session (already known to be a JSON object)."""
        root = f"{self.ctx.id_prefix}.{line_number}"
        sid = doc.get("session_id")
        for name, col in self.scalars.items():
            col.append(doc.get(name))
        self.line_numbers.append(line_number)
        self.ids.append(root)
        capped: list[str] = []

        for name, (ids, parents, idxs, sids, keys, vals) in self.id_keyed.items():
            obj = doc.get(name)  # noqa: PLW2901
            if not obj:
                continue
            if len(obj) >= CAP:
                capped.append(name)
            if name == "custom_targets" and self.pii.active:
                obj = self.pii.apply(obj)
            code = name[0]
            for i, (key, value) in enumerate(obj.items()):
                ids.append(f"{root}.{code}{i}")
                parents.append(root)
                idxs.append(i)
                sids.append(sid)
                keys.append(key)
                vals.append(value if name != "custom_targets" else _target_text(value))

        for name, builder in self.arrays.items():
            arr = doc.get(name)
            if not arr:
                continue
            if len(arr) >= CAP:
                capped.append(name)
            code = name[0]
            for i, elem in enumerate(arr):
                row = _child_row(elem)
                row["_dlt_id"] = f"{root}.{code}{i}"
                row["_dlt_parent_id"] = root
                row["_dlt_root_id"] = root
                row["_dlt_list_idx"] = i
                row["session_id"] = sid
                builder.add(row)

        lines = doc.get("purchase_lines")
        if lines:
            if len(lines) >= CAP:
                capped.append("purchase_lines")
            items_capped = False
            for i, (pid, purchase) in enumerate(lines.items()):
                pl_id = f"{root}.l{i}"
                items = None
                row: dict[str, Any] = {"id": pid}
                for key, value in purchase.items():
                    if key == "items" and isinstance(value, list):
                        items = value
                    else:
                        row[key] = _json_text(value)
                row.update(_dlt_id=pl_id, _dlt_parent_id=root, _dlt_root_id=root, _dlt_list_idx=i,
                           session_id=sid)
                self.purchase_lines.add(row)
                if items:
                    if len(items) >= CAP:
                        items_capped = True
                    for j, item in enumerate(items):
                        irow = _child_row(item)
                        irow.update(purchase_id=pid, _dlt_id=f"{pl_id}.{j}", _dlt_parent_id=pl_id,
                                    _dlt_root_id=root, _dlt_list_idx=j, session_id=sid)
                        self.items.add(irow)
            if items_capped:
                capped.append("purchase_lines.items")

        self.extra.add(self._unknown(root, sid, doc) if not KNOWN_FIELDS.issuperset(doc) else {})
        self.capped.append(",".join(capped) if capped else None)
        self.n += 1

    def _unknown(self, root: str, sid: Any, doc: dict[str, Any]) -> dict[str, Any]:
        """Keep fields the vendor added after this code was written: scalars as columns, the rest as tables.

        Returns the unknown scalars of the line; nested values go straight to their own child builders.
        """
        extra: dict[str, Any] = {}
        for name in doc.keys() - KNOWN_FIELDS:
            value = doc[name]
            if isinstance(value, dict):
                pairs: Iterable[tuple[Any, Any]] = value.items()
            elif isinstance(value, list):
                pairs = ((None, v) for v in value)
            else:
                extra[name] = value
                continue
            builder = self.unknown_nested.setdefault(name, ColumnBuilder())
            for i, (key, elem) in enumerate(pairs):
                row = _child_row(elem) if key is None else {"id": key, **_child_row(elem)}
                row.update(_dlt_id=f"{root}.x{name}.{i}", _dlt_parent_id=root, _dlt_root_id=root,
                           _dlt_list_idx=i, session_id=sid)
                builder.add(row)
        return extra

    def tables(self) -> dict[str, pa.Table]:
        """Return the batch as Arrow tables; raises pyarrow errors when a value has the wrong type."""
        n = self.n
        arrays = [pa.array(col, SCALAR_TYPES[name]) for name, col in self.scalars.items()]
        names = list(self.scalars)
        for name, values in self.extra.cols.items():
            if name in SCALAR_TYPES:
                continue
            arr = _infer_array(values)
            if arr is not None:
                arrays.append(arr)
                names.append(name)
        ts_type = pa.timestamp("us", tz="UTC")
        arrays += [
            pa.array([self.ctx.file_name] * n, pa.string()),
            pa.array([self.ctx.file_path] * n, pa.string()),
            pa.array([self.ctx.window_start] * n, ts_type),
            pa.array(self.line_numbers, pa.int64()),
            pa.array(self.capped, pa.string()),
            pa.array(self.ids, pa.string()),
        ]
        names += ["_source_file", "_source_path", "_source_window_start", "_source_line", "_capped_fields",
                  "_dlt_id"]
        out = {SESSIONS: pa.Table.from_arrays(arrays, names=names)}
        for name, (ids, parents, idxs, sids, keys, vals) in self.id_keyed.items():
            if ids:
                out[child_table(name)] = pa.Table.from_arrays(
                    [pa.array(keys, pa.string()), pa.array(vals, ID_KEYED[name]), pa.array(ids, pa.string()),
                     pa.array(parents, pa.string()), pa.array(parents, pa.string()), pa.array(idxs, pa.int64()),
                     pa.array(sids, pa.string())],
                    names=["id", "value", "_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_list_idx",
                           "session_id"])
        for name, builder in self.arrays.items():
            if builder.n:
                out[child_table(name)] = to_arrow(builder, LINE_HINTS)
        if self.purchase_lines.n:
            out[child_table("purchase_lines")] = to_arrow(self.purchase_lines, PURCHASE_HINTS)
        if self.items.n:
            out[ITEMS_TABLE] = to_arrow(self.items, ITEM_HINTS)
        for name, builder in self.unknown_nested.items():
            if builder.n:
                out[child_table(name)] = to_arrow(builder, UNKNOWN_HINTS)
        return out


def _child_row(elem: Any) -> dict[str, Any]:
    """One child row from an array element: object keys become columns, scalars a `value` column."""
    if isinstance(elem, dict):
        return {key: _json_text(value) for key, value in elem.items()}
    return {"value": _json_text(elem)}


def _target_text(value: Any) -> str | None:
    """Custom target values are text in the warehouse whatever JSON type they arrive as."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
