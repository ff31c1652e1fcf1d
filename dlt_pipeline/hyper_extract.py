"""Write an Arrow table as a Tableau Hyper extract with pantab, exactly, including small negative decimals.

pantab 5.3.0 cannot write a negative decimal whose integer part is 0 and whose digits need padding (-0.01 in a
DECIMAL(18,2), -0.005 in a DECIMAL(18,3)): Hyper rejects the text pantab builds with "invalid number format".
Refunds and clock-skewed offsets are such values. They are written as NULL first and then set, from their exact
text, by SQL that Hyper itself runs (through `frame_from_hyper_query`); a helper row number, added only when a
table has such values, is dropped again. Hyper stores the updated rows last: a Hyper table has no row order.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

HYPER_TABLE = ("Extract", "Extract")
"""Schema and table inside each .hyper file: the names Tableau gives its own single-table extracts."""
_ROW = "__publish_row"
_FIX = ("Extract", "__publish_fix")


def _affected(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Mask of the values pantab cannot write (negative, above -1), or None when there are none."""
    if not pa.types.is_decimal(column.type) or column.type.scale == 0:
        return None
    zero = pa.scalar(0, column.type)
    minus_one = pa.scalar(-1, column.type)
    mask = pc.fill_null(pc.and_(pc.less(column, zero), pc.greater(column, minus_one)), False)
    return mask if pc.any(mask).as_py() else None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_hyper(table: pa.Table, path: Path) -> None:
    """`table` into `path` as the table Extract.Extract, every value exact."""
    import pantab  # the Hyper engine is a large import; only when extracts are asked for

    fixes: list[tuple[int, str, str]] = []
    for i, name in enumerate(table.column_names):
        mask = _affected(table.column(name))
        if mask is None:
            continue
        column = table.column(name)
        rows = pc.indices_nonzero(mask).to_pylist()
        values = column.take(rows).to_pylist()
        fixes += [(row, name, str(value)) for row, value in zip(rows, values, strict=True)]
        table = table.set_column(i, name, pc.if_else(mask, pa.scalar(None, column.type), column))
    if not fixes:
        pantab.frame_to_hyper(table, path, table=HYPER_TABLE, atomic=False)
        return
    table = table.append_column(_ROW, pa.array(range(table.num_rows), pa.int64()))
    fix = pa.table({"r": [f[0] for f in fixes], "c": [f[1] for f in fixes], "v": [f[2] for f in fixes]},
                   schema=pa.schema([("r", pa.int64()), ("c", pa.string()), ("v", pa.string())]))
    pantab.frames_to_hyper({HYPER_TABLE: table, _FIX: fix}, path, atomic=False)
    target, fixes_table = ".".join(map(_q, HYPER_TABLE)), ".".join(map(_q, _FIX))
    for name in sorted({f[1] for f in fixes}):
        dtype = table.schema.field(name).type
        pantab.frame_from_hyper_query(
            path, f"update {target} as t set {_q(name)} = cast(f.v as numeric({dtype.precision}, {dtype.scale})) "
                  f"from {fixes_table} as f where f.r = t.{_q(_ROW)} and f.c = '{name}' returning 1",
            return_type="pyarrow")
    pantab.frame_from_hyper_query(path, f"alter table {target} drop column {_q(_ROW)}", return_type="pyarrow")
    pantab.frame_from_hyper_query(path, f"drop table {fixes_table}", return_type="pyarrow")
