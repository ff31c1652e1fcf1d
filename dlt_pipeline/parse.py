"""Read one downloaded Session Stream file into batches of Arrow tables, quarantining what cannot load.

A file is checked whole before any of its rows are handed on: a corrupt or truncated gzip must not
leave half a file in the warehouse. Then lines are parsed in bounded batches, so memory follows the
batch size, not the file size.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from dlt_pipeline.pii import PiiPolicy
from dlt_pipeline.reshape import BatchBuilder, FileContext, Reject, validate

CHUNK = 4 << 20
RAW_TEXT_LIMIT = 2000
"""How much of a rejected line is kept for inspection."""


class FileProblem(Exception):
    """The whole file cannot be loaded (not gzip, corrupt, empty); the message is the quarantine reason."""


@dataclass
class ParsedBatch:
    """Arrow tables for a run of accepted lines, plus the lines rejected among them."""

    tables: dict[str, pa.Table]
    sessions: int
    rejects: list[Reject] = field(default_factory=list)


GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)
"""What Python's gzip module raises for a corrupt or truncated stream."""


def gzip_problem(exc: BaseException) -> FileProblem:
    return FileProblem(f"corrupt or truncated gzip ({exc}); ask the vendor to re-deliver it")


def check_gzip_header(path: Path) -> None:
    """Reject empty and non-gzip files before any parsing."""
    size = path.stat().st_size
    if size == 0:
        raise FileProblem("empty file (0 bytes); ask the vendor to re-deliver it, then run with --retry-quarantined")
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        raise FileProblem(f"not a gzip file (starts with {magic!r}); ask the vendor to re-deliver it")


def check_gzip(path: Path) -> None:
    """Decompress the whole file once, discarding output, to prove it is complete and uncorrupted.

    Needed only when batches are handed on while the file is still being read (in-process parsing):
    it is what makes "a corrupt file never loads half" hold without buffering the file's rows.
    """
    check_gzip_header(path)
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(CHUNK):
                pass
    except GZIP_ERRORS as exc:
        raise gzip_problem(exc) from None


def iter_lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, bytes | None, int]]:
    """Yield (line number, line bytes, length) from the gzip file; bytes is None for an over-long line.

    Over-long lines are skipped while streaming so one runaway line cannot exhaust memory.
    """
    number = 0
    carry = b""
    skipping = 0  # bytes of an over-long line seen so far
    with gzip.open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            if skipping:
                cut = chunk.find(b"\n")
                if cut < 0:
                    skipping += len(chunk)
                    continue
                number += 1
                yield number, None, skipping + cut
                skipping = 0
                chunk = chunk[cut + 1:]
            data = carry + chunk if carry else chunk
            parts = data.split(b"\n")
            carry = parts.pop()
            for part in parts:
                number += 1
                if len(part) > max_line_bytes:
                    yield number, None, len(part)
                else:
                    yield number, part, len(part)
            if len(carry) > max_line_bytes:
                skipping, carry = len(carry), b""
    if skipping:
        yield number + 1, None, skipping
    elif carry:
        yield number + 1, carry if len(carry) <= max_line_bytes else None, len(carry)


def _raw(line: bytes) -> str:
    return line[:RAW_TEXT_LIMIT].decode("utf-8", errors="replace")


def parse_file(
    path: Path, ctx: FileContext, pii: PiiPolicy, batch_size: int, max_line_bytes: int
) -> Iterator[ParsedBatch]:
    """Yield batches of Arrow tables for a checked file (call `check_gzip` first)."""
    docs: list[tuple[int, Any, bytes]] = []
    rejects: list[Reject] = []
    for number, line, length in iter_lines(path, max_line_bytes):
        if line is None:
            rejects.append(Reject(number, f"line is {length:,} bytes, over the {max_line_bytes:,}-byte limit "
                                          "(raise max_line_bytes if it is genuine)", ""))
            continue
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rejects.append(Reject(number, f"invalid JSON: {exc}", _raw(line)))
            continue
        if not isinstance(doc, dict):
            rejects.append(Reject(number, f"line is valid JSON but a {type(doc).__name__}, not an object", _raw(line)))
            continue
        docs.append((number, doc, line))
        if len(docs) >= batch_size:
            yield _build(docs, rejects, ctx, pii)
            docs, rejects = [], []
    if docs or rejects:
        yield _build(docs, rejects, ctx, pii)


_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)


def _build(docs: list[tuple[int, Any, bytes]], rejects: list[Reject], ctx: FileContext, pii: PiiPolicy) -> ParsedBatch:
    """Build the batch; if any value has the wrong type, find and reject exactly the offending lines."""
    try:
        return ParsedBatch(_tables(docs, ctx, pii), len(docs), rejects)
    except _ARROW_ERRORS:
        pass
    good = []
    for number, doc, line in docs:
        reason = validate(doc)
        if reason is None:
            try:
                _tables([(number, doc, line)], ctx, pii)
            except _ARROW_ERRORS as exc:
                reason = f"a value has the wrong type: {exc}"
        if reason is None:
            good.append((number, doc, line))
        else:
            rejects.append(Reject(number, reason, _raw(line)))
    rejects.sort(key=lambda r: r.line_number)
    return ParsedBatch(_tables(good, ctx, pii) if good else {}, len(good), rejects)


def _tables(docs: list[tuple[int, Any, bytes]], ctx: FileContext, pii: PiiPolicy) -> dict[str, pa.Table]:
    builder = BatchBuilder(ctx, pii)
    for number, doc, _ in docs:
        builder.add(number, doc)
    return builder.tables()
