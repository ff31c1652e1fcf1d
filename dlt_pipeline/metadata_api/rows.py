"""API rows into warehouse rows: one JSON type per column, whatever the API sent.

The published material is loose about types (`is_control` is declared a string and shown as a boolean; a
traffic share of exactly 1 arrives as an integer), and dlt would split a column whose type changes between
rows into variant columns. So ids become integers, flags booleans, shares floats and ISO times datetimes
here; a value that does not convert is kept as it came (dlt then stores it in a variant column: visible,
never dropped). Fields this module does not know pass through unchanged as new columns.

`version_hash` covers the whole row including its nested lists: dlt's scd2 compares root-table columns
only, so without it a renamed split inside `variant_splits` would not make a new version of the experience.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

TRUE_TEXT = ("true", "t", "1", "yes", "y")
FALSE_TEXT = ("false", "f", "0", "no", "n", "")
TIME_FIELDS = ("create_time", "start_time", "end_time", "update_time", "last_update_time")


def to_bool(value: Any) -> Any:  # noqa: ANN401
    """`True`, `"true"`, `"True"`, `"t"`, `1` → True; their opposites → False; None stays None (unknown)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_TEXT:
        return True
    if text in FALSE_TEXT:
        return False
    return value


def to_int(value: Any) -> Any:  # noqa: ANN401
    if value is None or isinstance(value, bool):
        return value
    try:
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        return value


def to_float(value: Any) -> Any:  # noqa: ANN401
    if value is None or isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def to_time(value: Any) -> Any:  # noqa: ANN401
    """ISO-8601 text → datetime; empty text → None (no end time yet)."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return value


def _with_hash(row: dict[str, Any]) -> dict[str, Any]:
    blob = json.dumps(row, sort_keys=True, default=str).encode()
    row["version_hash"] = hashlib.sha256(blob).hexdigest()[:32]
    return row


def _base(row: dict[str, Any], ints: tuple[str, ...] = ("id",), bools: tuple[str, ...] = ()) -> dict[str, Any]:
    out = dict(row)
    for name in ints:
        if name in out:
            out[name] = to_int(out[name])
    for name in bools:
        if name in out:
            out[name] = to_bool(out[name])
    for name in TIME_FIELDS:
        if name in out:
            out[name] = to_time(out[name])
    return out


def account_row(row: dict[str, Any]) -> dict[str, Any]:
    return _with_hash(_base(row, bools=("archived",)))


def variant_row(row: dict[str, Any]) -> dict[str, Any]:
    return _with_hash(_base(row, ints=("id", "experience_id")))


def page_event_row(row: dict[str, Any]) -> dict[str, Any]:
    return _with_hash(_base(row))


def custom_target_row(row: dict[str, Any]) -> dict[str, Any]:
    return _with_hash(_base(row, bools=("is_identifier", "collects_person_id")))


def experience_row(row: dict[str, Any]) -> dict[str, Any]:
    """An experience summary with typed children: splits (ids), variant_splits (flags, shares) and allocations."""
    out = _base(row, bools=("archived",))
    if isinstance(out.get("splits"), list):
        out["splits"] = [to_int(s) for s in out["splits"]]
    if isinstance(out.get("variant_splits"), list):
        out["variant_splits"] = [_variant_split(v) if isinstance(v, dict) else v for v in out["variant_splits"]]
    return _with_hash(out)


def _variant_split(item: dict[str, Any]) -> dict[str, Any]:
    out = _base(item, bools=("is_control", "is_holdout"))
    if "split" in out:
        out["split"] = to_float(out["split"])
    if isinstance(out.get("allocations"), list):
        out["allocations"] = [_allocation(a) if isinstance(a, dict) else a for a in out["allocations"]]
    return out


def _allocation(item: dict[str, Any]) -> dict[str, Any]:
    out = _base(item, ints=("split_id",))
    if "split" in out:
        out["split"] = to_float(out["split"])
    return out
