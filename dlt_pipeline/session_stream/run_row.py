"""The source's half of the run history: this run's `session_stream_runs` row, in the package of its data.

Every extraction of the `session_stream` resource (in the command line or in a user's own dlt pipeline)
ends by yielding one row describing itself: run id, host, package version, the options that matter, the
file counts, sessions, bytes and the seconds of the phases it ran. The row travels in the same load
package as the files' rows, so the history of a load exists exactly when its data does. What only the
end of a run knows (the load's seconds, the exit code and message, the finish time) is left NULL here;
the command line fills it in afterwards (`dlt_pipeline/run_history.py` explains how). In a user's own
pipeline those columns stay NULL: dlt's `_dlt_loads` says when the package loaded.
"""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import dlt

from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.session_stream.run_stats import RunStats

RUNS_TABLE = "session_stream_runs"
PACKAGE = "monetate-session-stream"

_TYPES: dict[str, str] = {
    "run_id": "text", "invoked_as": "text", "started_at": "timestamp", "finished_at": "timestamp",
    "host": "text", "version": "text", "source": "text", "destination": "text", "dataset_name": "text",
    "start_date": "date", "end_date": "date", "first_day": "date", "last_day": "date",
    "lookback_days": "bigint", "reload": "bool", "retry_quarantined": "bool", "strict": "bool", "pii_mode": "text",
    "archive": "text",
    "files_listed": "bigint", "files_already_loaded": "bigint", "files_loaded": "bigint",
    "files_quarantined": "bigint", "files_unreadable": "bigint", "files_waiting": "bigint", "files_retried": "bigint",
    "files_quarantined_earlier": "bigint", "files_changed": "bigint",
    "sessions": "bigint", "rejected_lines": "bigint", "bytes_downloaded": "bigint",
    "list_seconds": "double", "download_seconds": "double", "parse_seconds": "double", "load_seconds": "double",
    "seconds": "double", "exit_code": "bigint", "message": "text", "metadata_refresh": "text",
}
"""Every column and its dlt type; nullable but run_id, so dlt creates the completion columns while they are NULL."""

COLUMNS: dict[str, Any] = {name: {"data_type": kind, "nullable": name != "run_id"} for name, kind in _TYPES.items()}
RUN_HINTS = dlt.mark.make_hints(table_name=RUNS_TABLE, write_disposition="append", columns=COLUMNS)

_PASSWORD_IN_URL = re.compile(r"(//[^/@:]*):[^/@]*@")


def without_password(url: str | None) -> str | None:
    """A source URL safe to store: `sftp://user:secret@host` loses its password (keys never appear in URLs)."""
    return _PASSWORD_IN_URL.sub(r"\1@", url) if url else url


@cache
def package_version() -> str:
    """The installed loader's version (pyproject's), or 'unknown' when run from a plain checkout."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def run_row(stats: RunStats, options: LoadOptions, destination: str | None, dataset_name: str | None,
            invoked_as: str = "source") -> dict[str, Any]:
    """This run's row as far as `stats` knows it; the completion columns stay NULL (see the module docstring)."""
    first, last = stats.days or (None, None)
    return {
        "run_id": stats.run_id, "invoked_as": invoked_as, "started_at": stats.started_at, "finished_at": None,
        "host": socket.gethostname(), "version": package_version(), "source": without_password(stats.source),
        "destination": destination, "dataset_name": dataset_name,
        "start_date": options.start_date, "end_date": options.end_date, "first_day": first, "last_day": last,
        "lookback_days": options.lookback_days, "reload": options.reload,
        "retry_quarantined": options.retry_quarantined, "strict": options.strict, "pii_mode": options.pii_mode,
        "archive": without_password(options.archive),
        "files_listed": stats.listed, "files_already_loaded": stats.skipped_known,
        "files_loaded": stats.files_loaded, "files_quarantined": len(stats.files_quarantined),
        "files_unreadable": len(stats.unreadable), "files_waiting": len(stats.waiting), "files_retried": stats.retried,
        "files_quarantined_earlier": stats.skipped_quarantined, "files_changed": len(stats.changed),
        "sessions": stats.sessions, "rejected_lines": stats.rejected_lines, "bytes_downloaded": stats.bytes_read,
        "list_seconds": round(stats.list_seconds, 3), "download_seconds": round(stats.download_seconds, 3),
        "parse_seconds": round(stats.parse_seconds, 3), "load_seconds": None,
        "seconds": round((datetime.now(UTC) - stats.started_at).total_seconds(), 3),
        "exit_code": None, "message": None, "metadata_refresh": None,
    }


def run_item(stats: RunStats, options: LoadOptions, pipeline: dlt.Pipeline) -> Any:  # noqa: ANN401
    """The row as a dlt item for the package being extracted; remembers that package in `stats`.

    Yielded once per run: a run whose first package the warehouse refused (and whose files are then loaded
    in parts) gets `history_load_id` reset with the rest of its statistics, so the next part carries it.
    """
    stats.history_load_id = dlt.current.load_package_state()["load_id"]
    destination = pipeline.destination.destination_name if pipeline.destination else None
    row = run_row(stats, options, destination, pipeline.dataset_name)
    return dlt.mark.with_hints([row], RUN_HINTS, create_table_variant=True)


class TimedTransport:
    """A transport whose `fetch` adds its seconds to `stats.download_seconds`; everything else is the inner one's.

    Counting here keeps the transports themselves free of bookkeeping and works for every kind of source.
    """

    def __init__(self, inner: Any, stats: RunStats) -> None:  # noqa: ANN401
        self._inner = inner
        self._stats = stats

    def fetch(self, rel: str, size: int | None, spool: Path) -> Path:
        started = time.perf_counter()
        try:
            return self._inner.fetch(rel, size, spool)
        finally:
            self._stats.download_seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        return getattr(self._inner, name)
