"""How a JSON value becomes a warehouse column: fixed types for the contract, one column per kind otherwise.

Contract columns (`page_views`, `cart_lines.sku`, ...) have one fixed type; a value that does not fit
makes the columnar fast path give up (`LineCheckNeeded`) so the line is judged on its own by
`contract.validate`.

Fields the code does not know ("open" columns: new vendor fields, unknown keys inside nested values)
are kept whatever their JSON type, without loss and without depending on their neighbours:
- every value has a kind: `double` (numbers; integers beyond 2**53 would lose digits, so they are text),
  `bool`, or `text` (strings, and nested objects/arrays inside a child row as JSON text);
- parser workers emit one column per kind present, named `<field>__v_<kind>`;
- in the loader process `OpenColumns` renames the column of the field's first kind to `<field>` and
  leaves the others as `<field>__v_<kind>`, the names dlt itself gives variant columns. The first kind
  is remembered in dlt's schema, so a field that was a number keeps its numeric column in later loads
  and a string in a later file lands in `<field>__v_text` instead of failing the load.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from dlt_pipeline.session_stream.contract import FLOAT, ID, INT, STR, fits

VARIANT_SEP = "__v_"
KINDS = ("double", "bool", "text")
"""Kinds in the order that decides a new field's main column when one batch brings several at once."""
_VARIANT_RE = re.compile(r"^(.+)__v_(double|bool|text)$")
_EXACT = 2**53
ARROW_TYPES = {INT: pa.int64(), FLOAT: pa.float64(), STR: pa.string(), ID: pa.string()}


class LineCheckNeeded(Exception):
    """A value does not fit the fast columnar path: judge the batch's lines one by one."""


def json_text(value: Any) -> Any:
    """Scalars stay as they are; nested values are kept whole as JSON text."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def scalar_text(value: Any) -> str | None:
    """A single value as text: strings as they are, numbers and booleans as the JSON text they arrived as."""
    return value if value is None or isinstance(value, str) else orjson.dumps(value).decode()


def value_kind(value: Any) -> str | None:
    """The open-column kind of one JSON value (None for null)."""
    t = type(value)
    if value is None:
        return None
    if t is bool:
        return "bool"
    if t is float or (t is int and -_EXACT <= value <= _EXACT):
        return "double"
    return "text"


def _as_kind(value: Any, kind: str) -> Any:
    if kind == "double":
        return float(value)
    if kind == "text":
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    return value


def open_columns(name: str, values: list[Any]) -> dict[str, pa.Array]:
    """Columns `<name>__v_<kind>` for one open field, a kind each; an all-null field gives none."""
    per_kind: dict[str, list[Any]] = {}
    n = len(values)
    for i, value in enumerate(values):
        kind = value_kind(value)
        if kind is not None:
            per_kind.setdefault(kind, [None] * n)[i] = _as_kind(value, kind)
    return {f"{name}{VARIANT_SEP}{kind}": pa.array(col, _KIND_TYPES[kind]) for kind, col in per_kind.items()}


_KIND_TYPES = {"double": pa.float64(), "bool": pa.bool_(), "text": pa.string()}


def open_arrow(name: str, col: pa.Array) -> dict[str, pa.Array]:
    """`open_columns` for a column Arrow already typed (one kind) in C++; other types go the Python way."""
    typ = col.type
    if pa.types.is_null(typ) or col.null_count == len(col):
        return {}
    if pa.types.is_string(typ):
        return {f"{name}{VARIANT_SEP}text": col}
    if pa.types.is_boolean(typ):
        return {f"{name}{VARIANT_SEP}bool": col}
    if pa.types.is_floating(typ):
        return {f"{name}{VARIANT_SEP}double": pc.cast(col, pa.float64())}
    if pa.types.is_integer(typ):
        bounds = pc.min_max(col).as_py()
        if -_EXACT <= bounds["min"] and bounds["max"] <= _EXACT:
            return {f"{name}{VARIANT_SEP}double": pc.cast(col, pa.float64())}
    return open_columns(name, [json_text(v) if isinstance(v, (dict, list)) else v for v in col.to_pylist()])


def contract_column(values: list[Any], kind: str) -> pa.Array:
    """A contract column from Python values; any value that does not fit sends the batch to the line check."""
    for value in values:
        if not fits(value, kind):
            raise LineCheckNeeded
    if kind == ID:
        values = [v if v is None or type(v) is str else str(v) for v in values]
    elif kind == INT:
        values = [v if v is None or type(v) is int else int(v) for v in values]
    return pa.array(values, ARROW_TYPES[kind])


_ALLOWED = {
    INT: (pa.types.is_integer,),
    FLOAT: (pa.types.is_integer, pa.types.is_floating),
    STR: (pa.types.is_string,),
    ID: (pa.types.is_string, pa.types.is_integer),
}


def contract_arrow(col: pa.Array, kind: str, checked: bool) -> pa.Array:
    """A contract column from a column Arrow typed itself; `checked` lines were validated one by one.

    Arrow's inferred type must already be the contract's (an integer for an id, a number for a price):
    anything else (a bool where a number belongs, a float id) needs the line check. Integers written as
    `5.0` only pass once `contract.validate` has accepted their lines.
    """
    target = ARROW_TYPES[kind]
    if pa.types.is_null(col.type):
        return col.cast(target)
    if any(test(col.type) for test in _ALLOWED[kind]):
        return col if col.type == target else pc.cast(col, target, safe=True)
    if checked and kind == INT and pa.types.is_floating(col.type):
        return pc.cast(col, target, safe=True)
    raise LineCheckNeeded


class OpenColumns:
    """Keeps each open field on one column type across batches and loads (see the module docstring)."""

    def __init__(self, known: dict[tuple[str, str], str], naming: Any) -> None:
        self.types = dict(known)
        self.naming = naming

    @classmethod
    def from_schema(cls, schema: Any | None) -> OpenColumns:
        """Seed with the column types dlt already recorded for this dataset (None before the first load)."""
        from dlt.common.normalizers.naming.snake_case import NamingConvention

        if schema is None:
            return cls({}, NamingConvention())
        known = {(table, column): col.get("data_type")
                 for table, spec in schema.tables.items() for column, col in spec.get("columns", {}).items()}
        return cls(known, schema.naming)

    def conform(self, table_name: str, table: pa.Table) -> pa.Table:
        """Rename `<field>__v_<kind>` columns: the field's main kind to `<field>`, the rest stay variants."""
        bases: dict[str, list[str]] = {}
        for name in table.column_names:
            match = _VARIANT_RE.match(name)
            if match:
                bases.setdefault(match.group(1), []).append(match.group(2))
        if not bases:
            return table
        norm_table = self.naming.normalize_table_identifier(table_name)
        renames: dict[str, str] = {}
        for base, kinds in bases.items():
            key = (norm_table, self.naming.normalize_identifier(base))
            main = self.types.get(key)
            if main is None:
                main = self.types[key] = next(k for k in KINDS if k in kinds)
            for kind in kinds:
                renames[f"{base}{VARIANT_SEP}{kind}"] = base if kind == main else f"{base}{VARIANT_SEP}{kind}"
        return table.rename_columns([renames.get(name, name) for name in table.column_names])
