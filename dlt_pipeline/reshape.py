"""Turn Session Stream lines into column-oriented Arrow tables, one per raw table.

Why columnar and hand-rolled: dlt's relational normalizer handles a row at a time in Python and turns
id-keyed objects (`offers`, `purchases`, ...) into one column per id, which breaks PostgreSQL/Redshift
at 1,600 columns and slows dlt to ~140 sessions/s on this data. Here pyarrow converts the parsed
dicts to typed struct columns in C++, Python only gathers each session's nested values into flat
lists, and child ids are built with Arrow compute; dlt then loads the tables with no normalize work.

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
import pyarrow.compute as pc

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


SCALAR_STRUCT = pa.struct([pa.field(name, typ) for name, typ in SCALAR_TYPES.items()])
INT_AS_FLOAT = pa.struct([pa.field(name, pa.float64()) for name in INT_FIELDS])


def _int_column(values: list[Any] | pa.Array) -> pa.Array:
    """Integers, refusing fractions: pyarrow would silently truncate 1.5 to 1 given an int64 type."""
    arr = values if isinstance(values, pa.Array) else pa.array(values)
    if pa.types.is_null(arr.type):
        return arr.cast(pa.int64())
    return pc.cast(arr, pa.int64(), safe=True)


def _typed(values: list[Any] | pa.Array, typ: pa.DataType | None) -> pa.Array | None:
    """Column with a hinted type (ints checked for fractions) or an inferred one (None when all null)."""
    if typ is None:
        return _infer_array(values if isinstance(values, list) else values.to_pylist())
    if typ == pa.int64():
        return _int_column(values)
    if isinstance(values, pa.Array):
        if pa.types.is_null(values.type):
            return values.cast(typ)
        if values.type != typ and (pa.types.is_nested(values.type) or typ == pa.string()):
            return pa.array([_json_text(v) for v in values.to_pylist()], typ)
        return pc.cast(values, typ, safe=True)
    return pa.array(values, typ)


def _flatten(arr: pa.Array, hints: dict[str, pa.DataType]) -> dict[str, pa.Array]:
    """Columns of a struct array; nested values that are not expected become JSON text."""
    out: dict[str, pa.Array] = {}
    for i in range(arr.type.num_fields):
        name = arr.type.field(i).name
        col = arr.field(i)
        if arr.null_count:
            col = pc.if_else(arr.is_valid(), col, pa.nulls(len(col), col.type))
        if pa.types.is_nested(col.type) and name not in hints:
            col = pa.array([_json_text(v) for v in col.to_pylist()], pa.string())
        typed = _typed(col, hints.get(name))
        if typed is not None:
            out[name] = typed
    return out


def _objects(elems: list[Any], hints: dict[str, pa.DataType]) -> dict[str, pa.Array]:
    """Columns for a list of child values: objects give one column per key, scalars a `value` column.

    pyarrow infers the struct of all keys in C++; when elements disagree in shape (objects mixed with
    scalars, a key with two JSON types) we fall back to a per-row build that keeps everything.
    """
    try:
        arr = pa.array(elems)
        if pa.types.is_struct(arr.type):
            return _flatten(arr, hints)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    builder = ColumnBuilder()
    for elem in elems:
        builder.add(_child_row(elem))
    return {name: col for name, col in ((n, _typed(v, hints.get(n))) for n, v in builder.cols.items())
            if col is not None}


class _Children:
    """Child rows of one nested field gathered across a batch: value, parent session row, position."""

    __slots__ = ("values", "keys", "parents", "idxs")

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.keys: list[Any] = []
        self.parents: list[int] = []
        self.idxs: list[int] = []

    def add_object(self, row: int, obj: dict[str, Any]) -> None:
        k = len(obj)
        self.keys.extend(obj)
        self.values.extend(obj.values())
        self.parents.extend([row] * k)
        self.idxs.extend(range(k))

    def add_array(self, row: int, arr: list[Any]) -> None:
        k = len(arr)
        self.values.extend(arr)
        self.parents.extend([row] * k)
        self.idxs.extend(range(k))


class BatchBuilder:
    """Builds all raw tables for one batch of parsed session lines from one file.

    Python touches each session only to find its nested fields and extend a few lists; the scalar
    columns, child ids and struct flattening are done by Arrow in C++ (~5x faster than per-row code).
    """

    def __init__(self, ctx: FileContext, pii: PiiPolicy) -> None:
        self.ctx = ctx
        self.pii = pii
        self.docs: list[dict[str, Any]] = []
        self.line_numbers: list[int] = []

    def add(self, line_number: int, doc: dict[str, Any]) -> None:
        """Append one session (already known to be a JSON object)."""
        self.docs.append(doc)
        self.line_numbers.append(line_number)

    def tables(self) -> dict[str, pa.Table]:
        """Return the batch as Arrow tables; raises pyarrow errors when a value has the wrong type."""
        docs = self.docs
        n = len(docs)
        scalars = pa.array(docs, type=SCALAR_STRUCT)
        as_float = pa.array(docs, type=INT_AS_FLOAT)
        for i in range(as_float.type.num_fields):
            col = as_float.field(i)
            if col.null_count < len(col) and not pc.all(pc.equal(pc.floor(col), col)).as_py():
                raise pa.ArrowInvalid(f"field '{as_float.type.field(i).name}' has a fractional value")

        id_keyed = {name: _Children() for name in ID_KEYED}
        arrays = {name: _Children() for name in ARRAYS}
        purchases = _Children()
        capped: list[str | None] = [None] * n
        unknown_rows: list[int] = []
        pii = self.pii if self.pii.active else None
        for row, doc in enumerate(docs):
            flags: list[str] | None = None
            for name, children in id_keyed.items():
                obj = doc.get(name)
                if obj:
                    if len(obj) >= CAP:
                        flags = (flags or []) + [name]
                    if pii is not None and name == "custom_targets":
                        obj = pii.apply(obj)
                    children.add_object(row, obj)
            for name, children in arrays.items():
                arr = doc.get(name)
                if arr:
                    if len(arr) >= CAP:
                        flags = (flags or []) + [name]
                    children.add_array(row, arr)
            lines = doc.get("purchase_lines")
            if lines:
                if len(lines) >= CAP:
                    flags = (flags or []) + ["purchase_lines"]
                if any(isinstance(p, dict) and len(p.get("items") or ()) >= CAP for p in lines.values()):
                    flags = (flags or []) + ["purchase_lines.items"]
                purchases.add_object(row, lines)
            if flags:
                capped[row] = ",".join(flags)
            if not KNOWN_FIELDS.issuperset(doc):
                unknown_rows.append(row)

        prefix = pa.scalar(self.ctx.id_prefix)
        lines_arr = pa.array(self.line_numbers, pa.int64())
        root_ids = pc.binary_join_element_wise(prefix, pc.cast(lines_arr, pa.string()), ".")
        session_ids = scalars.field("session_id")
        cols = {name: scalars.field(name) for name in SCALAR_TYPES}
        extra_cols, nested_unknown = self._unknown(unknown_rows)
        cols.update({k: v for k, v in extra_cols.items() if k not in cols})
        cols.update({
            "_source_file": pa.array([self.ctx.file_name] * n, pa.string()),
            "_source_path": pa.array([self.ctx.file_path] * n, pa.string()),
            "_source_window_start": pa.array([self.ctx.window_start] * n, pa.timestamp("us", tz="UTC")),
            "_source_line": lines_arr,
            "_capped_fields": pa.array(capped, pa.string()),
            "_dlt_id": root_ids,
        })
        out = {SESSIONS: pa.table(cols)}

        def links(children: _Children, code: str, parent_ids: pa.Array, roots: pa.Array,
                  sids: pa.Array) -> dict[str, pa.Array]:
            parents = pa.array(children.parents, pa.int64())
            idxs = pa.array(children.idxs, pa.int64())
            parent = pc.take(parent_ids, parents)
            return {
                "_dlt_id": pc.binary_join_element_wise(parent, pc.cast(idxs, pa.string()), f".{code}"),
                "_dlt_parent_id": parent,
                "_dlt_root_id": pc.take(roots, parents),
                "_dlt_list_idx": idxs,
                "session_id": pc.take(sids, parents),
            }

        for name, children in id_keyed.items():
            if children.parents:
                values = children.values
                if name == "custom_targets":
                    try:
                        value_col = pa.array(values, pa.string())
                    except (pa.ArrowInvalid, pa.ArrowTypeError):
                        value_col = pa.array([_target_text(v) for v in values], pa.string())
                else:
                    value_col = _typed(values, ID_KEYED[name])
                out[child_table(name)] = pa.table({
                    "id": pa.array(children.keys, pa.string()), "value": value_col,
                    **links(children, name[0], root_ids, root_ids, session_ids)})
        for name, children in arrays.items():
            if children.parents:
                out[child_table(name)] = pa.table({
                    **_objects(children.values, LINE_HINTS),
                    **links(children, name[0], root_ids, root_ids, session_ids)})
        if purchases.parents:
            self._purchase_tables(purchases, links, root_ids, session_ids, out)
        for name, (children, table) in nested_unknown.items():
            cols = {"id": pa.array(children.keys, pa.string())} if children.keys else {}
            cols.update(_objects(children.values, {}))
            cols.update(links(children, f"x{name}.", root_ids, root_ids, session_ids))
            out[table] = pa.table(cols)
        return out

    def _purchase_tables(self, purchases: _Children, links: Any, root_ids: pa.Array, session_ids: pa.Array,
                         out: dict[str, pa.Table]) -> None:
        """`purchase_lines` rows (one per purchase) and their `items` rows (one per line item)."""
        items_lists: list[Any] = []
        rows: list[Any] = []
        for value in purchases.values:
            if isinstance(value, dict) and "items" in value:
                value = dict(value)
                items_lists.append(value.pop("items"))
            else:
                items_lists.append(None)
            rows.append(value)
        pl_links = links(purchases, "l", root_ids, root_ids, session_ids)
        out[child_table("purchase_lines")] = pa.table({
            "id": pa.array(purchases.keys, pa.string()), **_objects(rows, PURCHASE_HINTS), **pl_links})
        items = _Children()
        for row, lst in enumerate(items_lists):
            if lst:
                if not isinstance(lst, list):
                    raise pa.ArrowInvalid("purchase_lines items is not an array")
                items.add_array(row, lst)
        if items.parents:
            parents = pa.array(items.parents, pa.int64())
            item_links = links(items, "", pl_links["_dlt_id"], pl_links["_dlt_root_id"], pl_links["session_id"])
            out[ITEMS_TABLE] = pa.table({
                "purchase_id": pc.take(pa.array(purchases.keys, pa.string()), parents),
                **_objects(items.values, ITEM_HINTS), **item_links})

    def _unknown(self, rows: list[int]) -> tuple[dict[str, pa.Array], dict[str, tuple[_Children, str]]]:
        """Keep fields the vendor added after this code was written: scalars as columns, the rest as tables."""
        n = len(self.docs)
        scalars: dict[str, list[Any]] = {}
        nested: dict[str, tuple[_Children, str]] = {}
        for row in rows:
            doc = self.docs[row]
            for name in doc.keys() - KNOWN_FIELDS:
                value = doc[name]
                if isinstance(value, dict):
                    nested.setdefault(name, (_Children(), child_table(name)))[0].add_object(row, value)
                elif isinstance(value, list):
                    nested.setdefault(name, (_Children(), child_table(name)))[0].add_array(row, value)
                else:
                    scalars.setdefault(name, [None] * n)[row] = value
        cols = {name: arr for name, arr in ((k, _infer_array(v)) for k, v in scalars.items()) if arr is not None}
        return cols, nested


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
