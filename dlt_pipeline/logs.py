"""How the loader's log lines look: every line starts with its UTC date and time, `2026-12-04T14:03:11Z`.

A scheduled run appends to one log file day after day (`>> logs/load.log 2>&1`): a time without a date or
a zone cannot be matched with the warehouse's UTC timestamps or another machine's logs. The format is set
on `logging.Formatter` itself (the documented way to change every formatter), so dlt's own log lines, whose
formatter dlt creates later, carry the same timestamp.
"""

from __future__ import annotations

import logging
import time

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
LINE_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def configure(quiet: bool) -> None:
    """Log INFO and up (WARNING and up with `quiet`) to stderr, each line stamped in UTC; quieten chatty libraries."""
    logging.Formatter.converter = time.gmtime
    logging.Formatter.default_time_format = TIME_FORMAT
    logging.Formatter.default_msec_format = None  # type: ignore[assignment] # seconds are enough; no ",123"
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format=LINE_FORMAT)
    for noisy in ("paramiko", "dlt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
