"""What one run did, for the summary and the exit code; and the one failure `--strict` raises on purpose."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


class StrictModeFailure(Exception):
    """--strict is on and something had to be quarantined: this run loads nothing."""


@dataclass
class RunStats:
    """What happened, for the summary and the exit code."""

    listed: int = 0
    skipped_known: int = 0
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
