"""Retries with exponential backoff and jitter, by tenacity (a dependency of dlt already): one policy, not a loop
of our own in every transport.

The caller decides what is transient; this module only schedules the attempts and reports each wait, so the
log says what failed and when the next try comes. A DNS answer "no such host" is never transient (a mistyped
host in `--source` would otherwise be retried for half a minute); a resolver that is busy (EAI_AGAIN) is.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential_jitter,
)

T = TypeVar("T")


class RetriesExhausted(Exception):
    """Every attempt failed with a transient fault; `last` is the last one, for the final message."""

    def __init__(self, last: BaseException) -> None:
        super().__init__(str(last))
        self.last = last


def dns_is_temporary(exc: socket.gaierror) -> bool:
    """Whether a failed name lookup may succeed on a later try (the resolver was busy or unreachable)."""
    return exc.errno == socket.EAI_AGAIN


def with_retries(attempt: Callable[[], T], transient: Callable[[BaseException], bool], retries: int,
                 backoff: float, warn: Callable[[BaseException, float, int], None],
                 cancel: threading.Event | None = None) -> T:
    """`attempt()`, retried up to `retries` times while it raises what `transient` accepts.

    The n-th wait is `backoff` x 2^n seconds plus a random jitter of up to `backoff`. A fault that is not
    transient is raised as it is, at once; when the retries run out, RetriesExhausted carries the last fault.
    `warn(fault, seconds, n)` is called before the n-th wait. Setting `cancel` (the run is stopping: SIGTERM)
    ends a wait at once and retries no more.
    """
    cancel = cancel or threading.Event()

    def before_sleep(state: RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None
        warn(state.outcome.exception(), state.next_action.sleep, state.attempt_number)

    retrying = Retrying(stop=stop_after_attempt(retries + 1) | stop_when_event_set(cancel),
                        retry=retry_if_exception(transient), sleep=cancel.wait,
                        wait=wait_exponential_jitter(multiplier=backoff, jitter=backoff, max=3600),
                        before_sleep=before_sleep)
    try:
        return retrying(attempt)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        assert last is not None
        raise RetriesExhausted(last) from None
