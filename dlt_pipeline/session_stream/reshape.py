"""Turn Session Stream lines into column-oriented Arrow tables, one per raw table.

Why columnar and hand-rolled: dlt's relational normalizer handles a row at a time in Python and turns
id-keyed objects (`offers`, `purchases`, ...) into one column per id, which breaks PostgreSQL/Redshift
at 1,600 columns and slows dlt to ~140 sessions/s on this data. Here pyarrow converts the parsed
dicts to typed struct columns in C++, Python only gathers each session's nested values into flat
lists, and child ids are built with Arrow compute; dlt then loads the tables with no normalize work.

The shapes follow the vendor's field table (`contract`): arrays of objects become child rows with one
column per key, objects keyed by dynamic ids become child rows `(id, value)`, `purchase_lines` is
doubly nested. Anything the code does not know is kept (`columns`): unknown scalars become columns,
unknown objects/arrays become child tables. The fast path accepts a batch only when every value fits
the contract; otherwise it raises `LineCheckNeeded` and the caller judges the lines one by one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dlt_pipeline.session_stream.columns import (
    ARROW_TYPES,
    LineCheckNeeded,
    contract_arrow,
    contract_column,
    json_text,
    open_arrow,
    open_columns,
    scalar_text,
)
from dlt_pipeline.session_stream.contract import (
    ARRAYS,
    FLOAT_FIELDS,
    ID_KEYED,
    INT_FIELDS,
    ITEM_KEYS,
    KNOWN_FIELDS,
    LINE_KEYS,
    PURCHASE_KEYS,
    PURCHASE_LINES,
    REQUIRED,
    SCALARS,
)
from dlt_pipeline.session_stream.pii import PiiPolicy

CAP = 1000
"""The vendor's soft item cap: a variable-size field at or over it may be incomplete (likely a bot)."""

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


@dataclass
class FileContext:
    """Per-file constants stamped on every session row for lineage."""

    file_path: str
    file_name: str
    window_start: Any  # datetime (UTC)
    id_prefix: str = field(init=False)

    def __post_init__(self) -> None:
        self.id_prefix = hashlib.blake2b(self.file_path.encode(), digest_size=6).hexdigest()


SCALAR_STRUCT = pa.struct([pa.field(name, ARROW_TYPES[kind]) for name, kind in SCALARS.items()])


def _flatten(arr: pa.Array, hints: dict[str, str], checked: bool) -> dict[str, pa.Array]:
    """Columns of a struct array: contract keys with their fixed type, every other key as open columns."""
    out: dict[str, pa.Array] = {}
    for i in range(arr.type.num_fields):
        name = arr.type.field(i).name
        col = arr.field(i)
        kind = hints.get(name)
        out.update({name: contract_arrow(col, kind, checked)} if kind else open_arrow(name, col))
    return out


def _objects(elems: list[Any], hints: dict[str, str], checked: bool, scalars_ok: bool) -> dict[str, pa.Array]:
    """Columns for a list of child values: objects give one column per key, scalars a `value` column.

    pyarrow infers the struct of all keys in C++; when elements disagree in shape (a key with two JSON
    types) we fall back to a per-row build that keeps everything. Where the contract wants objects
    (`scalars_ok` False) a scalar or null element sends the batch to the line check.
    """
    try:
        arr = pa.array(elems)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        arr = None
    if (arr is not None and pa.types.is_struct(arr.type) and arr.null_count == 0
            and not any(pa.types.is_nested(f.type) for f in arr.type)):
        return _flatten(arr, hints, checked)
    builder = ColumnBuilder()
    for elem in elems:
        if isinstance(elem, dict):
            builder.add({key: json_text(value) if key not in hints else value for key, value in elem.items()})
        elif scalars_ok:
            builder.add({"value": json_text(elem)})
        else:
            raise LineCheckNeeded
    out: dict[str, pa.Array] = {}
    for name, values in builder.cols.items():
        kind = hints.get(name)
        out.update({name: contract_column(values, kind)} if kind else open_columns(name, values))
    return out


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


def _links(children: _Children, field_name: str, parent_ids: pa.Array, roots: pa.Array,
           sids: pa.Array) -> dict[str, pa.Array]:
    """dlt's parent/root/position columns plus `session_id` for child rows.

    A child's `_dlt_id` is `<parent _dlt_id>.<field>.<position>`: unique across every table, not only
    within one (a one-letter code made `page_event_ids` and `purchases` rows share ids).
    """
    parents = pa.array(children.parents, pa.int64())
    idxs = pa.array(children.idxs, pa.int64())
    parent = pc.take(parent_ids, parents)
    return {
        "_dlt_id": pc.binary_join_element_wise(parent, pc.cast(idxs, pa.string()), f".{field_name}."),
        "_dlt_parent_id": parent,
        "_dlt_root_id": pc.take(roots, parents),
        "_dlt_list_idx": idxs,
        "session_id": pc.take(sids, parents),
    }


class BatchBuilder:
    """Builds all raw tables for one batch of parsed session lines from one file.

    Python touches each session only to find its nested fields and extend a few lists; the scalar
    columns, child ids and struct flattening are done by Arrow in C++ (~5x faster than per-row code).
    `checked` says every line already passed `contract.validate` (the slow path); otherwise any value
    outside the contract raises `LineCheckNeeded` (or a pyarrow error) instead of being coerced.
    """

    def __init__(self, ctx: FileContext, pii: PiiPolicy, checked: bool = False) -> None:
        self.ctx = ctx
        self.pii = pii
        self.checked = checked
        self.docs: list[dict[str, Any]] = []
        self.line_numbers: list[int] = []

    def add(self, line_number: int, doc: dict[str, Any]) -> None:
        """Append one session (already known to be a JSON object)."""
        self.docs.append(doc)
        self.line_numbers.append(line_number)

    def _scalars(self) -> pa.StructArray:
        docs = self.docs
        scalars = pa.array(docs, type=SCALAR_STRUCT)
        if self.checked:
            return scalars  # contract.validate already refused fractions and missing keys
        # fractional numbers in integer fields (which pyarrow would truncate) are refused by `_gather`
        for name in REQUIRED:
            if scalars.field(name).null_count:
                raise LineCheckNeeded
        return scalars

    def tables(self) -> dict[str, pa.Table]:
        """Return the batch as Arrow tables; raises LineCheckNeeded / pyarrow errors on values outside the contract."""
        docs = self.docs
        n = len(docs)
        scalars = self._scalars()
        id_keyed = {name: _Children() for name in ID_KEYED}
        arrays = {name: _Children() for name in ARRAYS}
        purchases = _Children()
        capped, unknown_rows = self._gather(id_keyed, arrays, purchases)

        lines_arr = pa.array(self.line_numbers, pa.int64())
        root_ids = pc.binary_join_element_wise(pa.scalar(self.ctx.id_prefix), pc.cast(lines_arr, pa.string()), ".")
        session_ids = scalars.field("session_id")
        cols = {name: scalars.field(name) for name in SCALARS}
        extra_cols, nested_unknown = self._unknown(unknown_rows)
        cols.update(extra_cols)
        cols.update({
            "_source_file": pa.array([self.ctx.file_name] * n, pa.string()),
            "_source_path": pa.array([self.ctx.file_path] * n, pa.string()),
            "_source_window_start": pa.array([self.ctx.window_start] * n, pa.timestamp("us", tz="UTC")),
            "_source_line": lines_arr,
            "_capped_fields": pa.array(capped, pa.string()),
            "_dlt_id": root_ids,
        })
        out = {SESSIONS: pa.table(cols)}
        for name, children in id_keyed.items():
            if children.parents:
                out[child_table(name)] = pa.table({
                    "id": pa.array(children.keys, pa.string()), "value": self._id_values(name, children.values),
                    **_links(children, name, root_ids, root_ids, session_ids)})
        for name, children in arrays.items():
            if children.parents:
                out[child_table(name)] = pa.table({
                    **_objects(children.values, LINE_KEYS, self.checked, scalars_ok=False),
                    **_links(children, name, root_ids, root_ids, session_ids)})
        if purchases.parents:
            self._purchase_tables(purchases, root_ids, session_ids, out)
        for name, (children, table) in nested_unknown.items():
            cols = {"id": pa.array(children.keys, pa.string())} if children.keys else {}
            cols.update(_objects(children.values, {}, self.checked, scalars_ok=True))
            cols.update(_links(children, name, root_ids, root_ids, session_ids))
            out[table] = pa.table(cols)
        return out

    def _gather(self, id_keyed: dict[str, _Children], arrays: dict[str, _Children],
                purchases: _Children) -> tuple[list[str | None], list[int]]:
        """Collect every session's nested values and check their shapes, in one pass over the batch.

        Returns each session's fields at the item cap (None for most) and the rows with fields this code
        does not know. The per-session work is inlined (no helper calls per field): this loop runs once per
        session and nested field, and was the largest Python cost of the parser after `orjson.loads`.
        """
        capped: list[str | None] = [None] * len(self.docs)
        unknown_rows: list[int] = []
        keyed = [(name, children, name == "custom_targets" and self.pii.active)
                 for name, children in id_keyed.items()]
        listed = list(arrays.items())
        known = KNOWN_FIELDS.issuperset
        for row, doc in enumerate(self.docs):
            get = doc.get
            for name in FLOAT_FIELDS:
                if type(get(name)) is bool:
                    raise LineCheckNeeded  # pyarrow would store true as 1.0
            for name in INT_FIELDS:
                value = get(name)
                if type(value) is float and not value.is_integer():
                    raise LineCheckNeeded  # pyarrow would truncate 1.5 to 1 given an int64 type
            flags: list[str] | None = None
            for name, children, hashed in keyed:
                obj = get(name)
                if obj is None:
                    continue
                if type(obj) is not dict:
                    raise LineCheckNeeded
                if not obj:
                    continue
                k = len(obj)
                if k >= CAP:
                    flags = [*(flags or ()), name]
                if hashed:
                    if any(isinstance(v, (dict, list)) for v in obj.values()):
                        raise LineCheckNeeded  # never hash a value the contract refuses
                    obj = self.pii.apply(obj)
                    k = len(obj)
                children.keys.extend(obj)
                children.values.extend(obj.values())
                children.parents.extend([row] * k)
                children.idxs.extend(range(k))
            for name, children in listed:
                arr = get(name)
                if arr is None:
                    continue
                if type(arr) is not list:
                    raise LineCheckNeeded
                if not arr:
                    continue
                k = len(arr)
                if k >= CAP:
                    flags = [*(flags or ()), name]
                children.values.extend(arr)
                children.parents.extend([row] * k)
                children.idxs.extend(range(k))
            lines = get(PURCHASE_LINES)
            if lines is not None:
                if type(lines) is not dict:
                    raise LineCheckNeeded
                if lines:
                    if len(lines) >= CAP:
                        flags = [*(flags or ()), PURCHASE_LINES]
                    if any(isinstance(p, dict) and len(p.get("items") or ()) >= CAP for p in lines.values()):
                        flags = [*(flags or ()), "purchase_lines.items"]
                    purchases.add_object(row, lines)
            if flags:
                capped[row] = ",".join(flags)
            if not known(doc):
                unknown_rows.append(row)
        return capped, unknown_rows

    def _id_values(self, name: str, values: list[Any]) -> pa.Array:
        """The `value` column of an id-keyed child table, in the contract's type."""
        kind = ID_KEYED[name]
        if kind is not None:
            try:
                return contract_arrow(pa.array(values), kind, self.checked)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                return contract_column(values, kind)  # mixed kinds: the per-value check explains
        try:
            return pa.array(values, pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            if any(isinstance(v, (dict, list)) for v in values):
                raise LineCheckNeeded from None
            return pa.array([scalar_text(v) for v in values], pa.string())

    def _purchase_tables(self, purchases: _Children, root_ids: pa.Array, session_ids: pa.Array,
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
        pl_links = _links(purchases, PURCHASE_LINES, root_ids, root_ids, session_ids)
        out[child_table(PURCHASE_LINES)] = pa.table({
            "id": pa.array(purchases.keys, pa.string()),
            **_objects(rows, PURCHASE_KEYS, self.checked, scalars_ok=False), **pl_links})
        items = _Children()
        for row, lst in enumerate(items_lists):
            if lst is None:
                continue
            if type(lst) is not list:
                raise LineCheckNeeded
            items.add_array(row, lst)
        if items.parents:
            parents = pa.array(items.parents, pa.int64())
            item_links = _links(items, "items", pl_links["_dlt_id"], pl_links["_dlt_root_id"], pl_links["session_id"])
            out[ITEMS_TABLE] = pa.table({
                "purchase_id": pc.take(pa.array(purchases.keys, pa.string()), parents),
                **_objects(items.values, ITEM_KEYS, self.checked, scalars_ok=False), **item_links})

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
        cols: dict[str, pa.Array] = {}
        for name, values in scalars.items():
            cols.update(open_columns(name, values))
        return cols, nested

