"""What one run did, for the summary and the exit code; and the one failure `--strict` raises on purpose."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from dlt_pipeline.session_stream.coverage import CompletenessScan, RetentionRisk


class StrictModeFailure(Exception):
    """--strict is on and something had to be quarantined: this run loads nothing."""


@dataclass
class RunStats:
    """What happened, for the summary and the exit code."""

    listed: int = 0
    skipped_known: int = 0  # loaded before and unchanged on the server
    skipped_quarantined: int = 0  # quarantined before and not retried this run (unchanged, no --retry-quarantined)
    changed: list[str] = field(default_factory=list)  # loaded before, changed on the server since: reloaded now
    waiting: list[str] = field(default_factory=list)
    files_loaded: int = 0
    files_quarantined: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    odd_names: list[str] = field(default_factory=list)
    retried: int = 0
    sessions: int = 0
    rejected_lines: int = 0
    reject_examples: list[tuple[str, int, str]] = field(default_factory=list)
    bytes_read: int = 0
    fatal: str | None = None
    days: tuple[date, date] | None = None
    seconds: float = 0.0
    completeness_scan: CompletenessScan | None = None  # set when this run listed beyond the look-back
    retention_risk: RetentionRisk | None = None  # unloaded files close to the vendor's deletion
    files_archived: int = 0
    # run history (session_stream/run_row.py, run_history.py): who this run is and its seconds per phase
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    source: str | None = None  # the transport's description (never a password)
    list_seconds: float = 0.0  # listing the day folders and reading the ledger (wall time)
    download_seconds: float = 0.0  # fetching files, summed (overlaps parsing)
    parse_seconds: float = 0.0  # parsing files, summed over the worker processes
    load_seconds: float = 0.0  # dlt's load step (LoadInfo started_at..finished_at), summed over packages
    history_load_id: str | None = None  # the load package that carries this run's session_stream_runs row
