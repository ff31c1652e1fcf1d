"""The data contract: the vendor's field table, and the per-line check that decides whether a line loads.

`validate` is the single source of truth for accepting a line. It looks at one line only, so whether a
line loads never depends on what else is in its file or batch. The fast columnar path in `reshape`
only takes shortcuts that are at least as strict (it falls back to `validate` line by line whenever
anything looks unusual), and `tests/unit/test_contract.py` checks the two agree on random lines.

What the contract says, from the field table:
- scalars have fixed types (numbers, strings, `t`/`f` strings); integers may arrive as `5.0`;
- `session_id`, `guid`, `start_time` and `end_time` are required: every model downstream keys on them;
- `offers`, `page_event_ids`, `purchases`, `custom_targets` are objects keyed by id;
- `cart_lines`, `view_lines` are arrays of objects; `purchase_lines` is an object of purchase objects,
  each with an `items` array of objects;
- key names inside nested values are not published: the keys we expect are type-checked, any other key
  is kept whatever its type; fields the vendor adds later are kept whatever their shape.
"""

from __future__ import annotations

from typing import Any

import orjson

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
REQUIRED = ("session_id", "guid", "start_time", "end_time")
"""Keys every downstream model depends on: a line without them is quarantined, never loaded half-keyed."""

INT, FLOAT, STR, ID = "int", "float", "str", "id"
"""Value kinds of the contract. ID: a string, or an integer kept as its decimal text (product ids, SKUs)."""

SCALARS: dict[str, str] = {**{f: INT for f in INT_FIELDS}, **{f: FLOAT for f in FLOAT_FIELDS},
                           **{f: STR for f in STR_FIELDS}}
ID_KEYED: dict[str, str | None] = {"offers": INT, "page_event_ids": INT, "purchases": FLOAT, "custom_targets": None}
"""Objects keyed by id and the kind of their values (custom target values: any single value, kept as text)."""
ARRAYS = ("cart_lines", "view_lines")
PURCHASE_LINES = "purchase_lines"
NESTED = (*ID_KEYED, *ARRAYS, PURCHASE_LINES)
KNOWN_FIELDS = frozenset(SCALARS) | frozenset(NESTED)

LINE_KEYS: dict[str, str] = {"product_id": ID, "sku": ID, "time": INT}
PURCHASE_KEYS: dict[str, str] = {"id": ID, "value": FLOAT, "time": INT}
ITEM_KEYS: dict[str, str] = {"purchase_id": ID, "product_id": ID, "sku": ID, "unit_price": FLOAT, "quantity": INT}

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_WORDS = {INT: "an integer", FLOAT: "a number", STR: "a string", ID: "a string or an integer id"}


def fits(value: Any, kind: str) -> bool:
    """Whether one JSON value may be stored as `kind` without changing it (null always fits)."""
    if value is None:
        return True
    t = type(value)
    if kind == STR:
        return t is str
    if kind == ID:
        return t is str or (t is int and INT64_MIN <= value <= INT64_MAX)
    if kind == FLOAT:
        return t is float or (t is int and INT64_MIN <= value <= INT64_MAX)
    if kind == INT:
        if t is float:
            return value.is_integer() and INT64_MIN <= value <= INT64_MAX
        return t is int and INT64_MIN <= value <= INT64_MAX
    raise ValueError(kind)


def _show(value: Any) -> str:
    return orjson.dumps(value).decode()[:80]


def _wrong(where: str, value: Any, kind: str) -> str:
    return f"{where} should be {_WORDS[kind]} but is {_show(value)}"


def validate(doc: Any) -> str | None:
    """Why this parsed line cannot be loaded (naming the field), or None when it can."""
    if not isinstance(doc, dict):
        return f"line is valid JSON but a {type(doc).__name__}, not an object"
    for name in REQUIRED:
        if doc.get(name) is None:
            return f"required field '{name}' is missing or null: every session needs {', '.join(REQUIRED)}"
    for name, kind in SCALARS.items():
        value = doc.get(name)
        if not fits(value, kind):
            return _wrong(f"field '{name}'", value, kind)
    for name, kind in ID_KEYED.items():
        reason = _check_id_keyed(name, doc.get(name), kind)
        if reason:
            return reason
    for name in ARRAYS:
        reason = _check_objects(name, doc.get(name), LINE_KEYS)
        if reason:
            return reason
    reason = _check_purchase_lines(doc.get(PURCHASE_LINES))
    if reason:
        return reason
    where = find_nul(doc)
    return nul_reason(where) if where else None


def nul_reason(where: str) -> str:
    return f"{where} contains the character U+0000, which PostgreSQL and Redshift cannot store"


def _check_id_keyed(name: str, obj: Any, kind: str | None) -> str | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        shown = "" if kind is None else f": {_show(obj)}"  # custom target values may be personal data
        return f"field '{name}' should be an object keyed by id but is {_a_json_type(obj)}{shown}"
    for key, value in obj.items():
        if kind is None:
            if isinstance(value, (dict, list)):
                return (f"field '{name}' should map each id to a single value, but id '{key}' holds "
                        f"{_a_json_type(value)}")
        elif not fits(value, kind):
            return _wrong(f"field '{name}' value for id '{key}'", value, kind)
    return None


def _check_objects(where: str, arr: Any, keys: dict[str, str]) -> str | None:
    """An array of objects whose expected keys have the expected kinds."""
    if arr is None:
        return None
    if not isinstance(arr, list):
        return f"field '{where}' should be an array of objects but is {_a_json_type(arr)}: {_show(arr)}"
    for i, elem in enumerate(arr):
        reason = _check_object(f"{where}[{i}]", elem, keys)
        if reason:
            return reason
    return None


def _check_object(where: str, elem: Any, keys: dict[str, str]) -> str | None:
    if not isinstance(elem, dict):
        return f"{where} should be an object but is {_show(elem)}"
    for key, kind in keys.items():
        if not fits(elem.get(key), kind):
            return _wrong(f"{where}.{key}", elem[key], kind)
    return None


def _check_purchase_lines(lines: Any) -> str | None:
    if lines is None:
        return None
    if not isinstance(lines, dict):
        return (f"field '{PURCHASE_LINES}' should be an object keyed by purchase id but is "
                f"{_a_json_type(lines)}: {_show(lines)}")
    for pid, purchase in lines.items():
        where = f"{PURCHASE_LINES}['{pid}']"
        reason = _check_object(where, purchase, PURCHASE_KEYS)
        if reason:
            return reason
        reason = _check_objects(f"{where}.items", purchase.get("items"), ITEM_KEYS)
        if reason:
            return reason
    return None


def _a_json_type(value: Any) -> str:
    """'an object', 'a string', ... as a reason names the JSON type it found."""
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def find_nul(value: Any, where: str = "") -> str | None:
    """Where a U+0000 character hides in a parsed line (PostgreSQL and Redshift cannot store it), or None.

    Such a line is quarantined on every destination, so DuckDB and PostgreSQL hold the same sessions.
    """
    if isinstance(value, str):
        return (where or "a value") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if "\x00" in key:
                return f"a key in {where or 'the line'}"
            found = find_nul(item, path)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = find_nul(item, f"{where}[{i}]")
            if found:
                return found
    return None
