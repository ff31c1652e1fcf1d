"""When the warehouse itself refuses rows: recognise it, and take the refused package back out.

Some problems surface only at the destination: a constraint a DBA added, a value longer than Redshift's
`varchar(65535)`, a column limit. dlt retries such a job like a network fault and then leaves the package
pending, so every later run would fail on the same rows and nothing newer would ever load. The loader
instead recognises a data refusal (as opposed to a lost connection), removes whatever part of the package
had already committed, drops the package, and loads the files again in smaller groups until the file the
warehouse refuses is found; that file is quarantined with the database's own message.
"""

from __future__ import annotations

import logging
import re

import dlt

from dlt_pipeline.exception_chain import causes, first_line
from dlt_pipeline.session_stream.ledger import LEDGER_TABLE, dataset_client, table_exists

log = logging.getLogger("session_stream")

_DATA_ERRORS = re.compile(
    r"IntegrityError|DataError|ConstraintException|ConversionException|OutOfRangeException|CheckViolation"
    r"|NotNullViolation|UniqueViolation|StringDataRightTruncation|NumericValueOutOfRange|ProgramLimitExceeded"
    r"|UntranslatableCharacter|CharacterNotInRepertoire|InvalidTextRepresentation|value too long"
    r"|SQLSTATE[:=]? ?(22|23|54)\d{3}")
"""DB-API data/integrity errors (psycopg2, ADBC, DuckDB) and the SQLSTATE classes 22, 23 and 54 (data exception,
integrity constraint violation, program limit exceeded). Connection errors are none of these: they stay transient."""

_MESSAGE = re.compile(r"(ERROR:\s+.*|\w+(Error|Exception|Violation): .*)")


def _texts(exc: BaseException) -> list[str]:
    """The messages of an exception chain, including dlt's job failure and retry messages."""
    out: list[str] = []
    for seen in causes(exc, inner="exception"):
        if len(out) >= 20:
            break
        out.append(str(seen))
        for attr in ("failed_message", "retry_message"):
            value = getattr(seen, attr, None)
            if isinstance(value, str):
                out.append(value)
    return out


def refusal_reason(exc: BaseException) -> str | None:
    """The database's one-line message when a load failed because the warehouse refused data, else None."""
    texts = _texts(exc)
    if not any(_DATA_ERRORS.search(text) for text in texts):
        return None
    for text in texts:
        for line in text.splitlines():
            if _DATA_ERRORS.search(line) or "ERROR:" in line:
                match = _MESSAGE.search(line)
                return (match.group(1) if match else line).strip()[:300]
    return first_line(texts[0] if texts else "", default="the warehouse refused the rows")


def discard_package(pipeline: dlt.Pipeline, load_id: str) -> None:
    """Delete whatever part of a refused package already committed, then drop the package.

    Rows of a load that never completed are invisible to the models already (they read only completed
    loads); deleting them keeps the raw tables exact as well.
    """
    with dataset_client(pipeline) as client:
        if client is not None:
            for table in sorted({*pipeline.default_schema.data_table_names(), LEDGER_TABLE}):
                if table_exists(client, table):
                    name = client.make_qualified_table_name(table)
                    client.execute_sql(f"delete from {name} where _dlt_load_id = '{load_id}'")
    pipeline.drop_pending_packages()
    log.warning("removed the rows of load %s, which the warehouse refused in part", load_id)
