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

from dlt_pipeline.session_stream.columns import LineCheckNeeded
from dlt_pipeline.session_stream.contract import find_nul, nul_reason, validate
from dlt_pipeline.session_stream.pii import PiiPolicy
from dlt_pipeline.session_stream.reshape import BatchBuilder, FileContext

CHUNK = 4 << 20
BOM = b"\xef\xbb\xbf"
RAW_TEXT_LIMIT = 2000
"""How much of a rejected line is kept for inspection."""


class FileProblem(Exception):
    """The whole file cannot be loaded (not gzip, corrupt, empty); the message is the quarantine reason."""


@dataclass
class Reject:
    """A line that cannot be loaded, with the reason the user sees in the rejects table."""

    line_number: int
    reason: str
    raw_text: str | None


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


def _chunks(fh: Any) -> Iterator[bytes]:
    """The decompressed stream in large pieces, without a leading UTF-8 byte-order mark."""
    chunk = fh.read(CHUNK)
    if chunk.startswith(BOM):
        chunk = chunk[len(BOM):]
    while chunk:
        yield chunk
        chunk = fh.read(CHUNK)


def iter_lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, bytes | None, int]]:
    """Yield (line number, line bytes, length) from the gzip file; bytes is None for an over-long line.

    Over-long lines are skipped while streaming so one runaway line cannot exhaust memory. A UTF-8
    byte-order mark at the start of the file (some tools write one) is not part of the first line.
    """
    number = 0
    carry = b""
    skipping = 0  # bytes of an over-long line seen so far
    with gzip.open(path, "rb") as fh:
        for chunk in _chunks(fh):
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


class LineReader:
    """Turns raw lines into parsed session objects or rejects, applying the PII policy to what is kept.

    Under `--pii-mode hash|drop` a rejected line's text is stored only with its `custom_targets`
    hashed or dropped; a line that is not even JSON is not stored at all (its reason says so).
    """

    def __init__(self, pii: PiiPolicy, max_line_bytes: int) -> None:
        self.pii = pii
        self.max_line_bytes = max_line_bytes

    def read(self, number: int, line: bytes | None, length: int) -> tuple[Any, Reject | None]:
        """(parsed object, None) for a line to load, (None, Reject) for one to quarantine, (None, None) if blank."""
        if line is None:
            return None, Reject(number, f"line is {length:,} bytes, over the {self.max_line_bytes:,}-byte limit "
                                        "(raise max_line_bytes if it is genuine)", "")
        if not line.strip():
            return None, None
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            return None, self.reject(number, f"invalid JSON: {exc}", line, None)
        if not isinstance(doc, dict):
            return None, self.reject(number, f"line is valid JSON but a {type(doc).__name__}, not an object",
                                     line, None)
        if b"\\u0000" in line:
            where = find_nul(doc)
            if where:
                return None, self.reject(number, nul_reason(where), line, doc)
        return doc, None

    def reject(self, number: int, reason: str, line: bytes, doc: Any) -> Reject:
        """A reject whose stored text carries no personal data the PII policy would keep out."""
        if not self.pii.active:
            return Reject(number, reason, _raw(line))
        if not isinstance(doc, dict):
            return Reject(number, f"{reason} (line text withheld under the PII policy)", None)
        targets = doc.get("custom_targets")
        if isinstance(targets, dict):
            doc = {**doc, "custom_targets": self.pii.apply(targets)}
        elif targets is not None:
            doc = {**doc, "custom_targets": None if self.pii.mode == "drop" else self.pii.hash(targets)}
        return Reject(number, reason, _raw(orjson.dumps(doc)))


def parse_file(
    path: Path, ctx: FileContext, pii: PiiPolicy, batch_size: int, max_line_bytes: int
) -> Iterator[ParsedBatch]:
    """Yield batches of Arrow tables for a checked file (call `check_gzip` first)."""
    reader = LineReader(pii, max_line_bytes)
    docs: list[tuple[int, Any, bytes]] = []
    rejects: list[Reject] = []
    for number, line, length in iter_lines(path, max_line_bytes):
        doc, reject = reader.read(number, line, length)
        if reject is not None:
            rejects.append(reject)
        elif doc is not None:
            assert line is not None
            docs.append((number, doc, line))
            if len(docs) >= batch_size:
                yield _build(docs, rejects, ctx, reader)
                docs, rejects = [], []
    if docs or rejects:
        yield _build(docs, rejects, ctx, reader)


_BUILD_ERRORS = (LineCheckNeeded, pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)


def _build(docs: list[tuple[int, Any, bytes]], rejects: list[Reject], ctx: FileContext,
           reader: LineReader) -> ParsedBatch:
    """Build the batch on the fast path; if any value is outside the contract, judge each line on its own.

    The slow path keeps exactly the lines `contract.validate` accepts, so whether a line loads never
    depends on its neighbours in the batch.
    """
    try:
        return ParsedBatch(_tables(docs, ctx, reader.pii, checked=False), len(docs), rejects)
    except _BUILD_ERRORS:
        pass
    good = []
    for number, doc, line in docs:
        reason = validate(doc)
        if reason is None:
            good.append((number, doc, line))
        else:
            rejects.append(reader.reject(number, reason, line, doc))
    try:
        tables = _tables(good, ctx, reader.pii, checked=True) if good else {}
    except _BUILD_ERRORS:  # a line the contract accepts but Arrow refuses: find it, never lose the others
        tables, good = _tables_line_by_line(good, ctx, reader, rejects)
    rejects.sort(key=lambda r: r.line_number)
    return ParsedBatch(tables, len(good), rejects)


def _tables_line_by_line(docs: list[tuple[int, Any, bytes]], ctx: FileContext, reader: LineReader,
                         rejects: list[Reject]) -> tuple[dict[str, pa.Table], list[tuple[int, Any, bytes]]]:
    good = []
    for number, doc, line in docs:
        try:
            _tables([(number, doc, line)], ctx, reader.pii, checked=True)
        except _BUILD_ERRORS as exc:
            rejects.append(reader.reject(number, f"a value cannot be stored: {type(exc).__name__}: {exc}"[:500],
                                         line, doc))
            continue
        good.append((number, doc, line))
    return (_tables(good, ctx, reader.pii, checked=True) if good else {}), good


def _tables(docs: list[tuple[int, Any, bytes]], ctx: FileContext, pii: PiiPolicy,
            checked: bool) -> dict[str, pa.Table]:
    builder = BatchBuilder(ctx, pii, checked)
    for number, doc, _ in docs:
        builder.add(number, doc)
    return builder.tables()
