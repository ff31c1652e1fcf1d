"""SIGTERM (a scheduler's timeout, `systemctl stop`, Airflow killing a task): stop with one line and exit 143.

Python's default for SIGTERM ends the process at once, silently: no message, no `finally`, the lock file and
downloads left for the next run to clean. The command line installs a handler that raises `Terminated` in
the main thread instead, so the run unwinds like any failure (the lock is released, the spool folder and an
unfinished load package are removed, a package that reached the warehouse is finished by the next run),
prints `stopped by SIGTERM; nothing half-loaded: the next run resumes`, and exits EXIT_TERMINATED (143, the
shell's 128 + 15). A second SIGTERM while it unwinds stops the process at once, as without the handler.

dlt intercepts SIGTERM itself while it normalizes and loads, and raises its SignalReceivedException at the
next safe point; `is_termination` recognises both.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

MESSAGE = "stopped by SIGTERM; nothing half-loaded: the next run resumes"


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, so `except Exception` handlers do not mistake it for a failed file."""


def install() -> None:
    """Turn SIGTERM into `Terminated` in this process (only possible from the main thread)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM during the unwinding stops at once
    raise Terminated()


def is_termination(exc: BaseException) -> bool:
    """Whether `exc` (a root cause) is SIGTERM: ours, or dlt's while it normalized or loaded."""
    if isinstance(exc, Terminated):
        return True
    from dlt.common.exceptions import SignalReceivedException

    return isinstance(exc, SignalReceivedException) and exc.signal_code == signal.SIGTERM
