"""The retry schedule (session_stream/retry.py, tenacity): how often, how long, and what is never retried.

Real functions that fail, real sleeps (backoff of milliseconds); the SFTP faults themselves are injected
against real servers in tests/e2e/test_transport.py and test_reliability.py.
"""

from __future__ import annotations

import socket
import time

import pytest

from dlt_pipeline.session_stream.retry import RetriesExhausted, dns_is_temporary, with_retries


def _failing(faults: list[BaseException]) -> tuple[list[float], object]:
    calls: list[float] = []

    def attempt() -> str:
        calls.append(time.monotonic())
        if faults:
            raise faults.pop(0)
        return "ok"

    return calls, attempt


def test_transient_faults_are_retried_with_growing_jittered_waits() -> None:
    """Three transient faults then success: three warnings, waits of backoff x 2^n plus at most one backoff."""
    backoff = 0.02
    calls, attempt = _failing([ConnectionResetError(), TimeoutError(), EOFError()])
    waits: list[tuple[float, int]] = []
    got = with_retries(attempt, lambda exc: True, 3, backoff, lambda exc, delay, n: waits.append((delay, n)))
    assert got == "ok" and len(calls) == 4
    assert [n for _, n in waits] == [1, 2, 3]
    for (delay, n), (before, after) in zip(waits, zip(calls, calls[1:], strict=False), strict=True):
        low = backoff * 2 ** (n - 1)
        assert low <= delay <= low + backoff, (n, delay)
        assert after - before >= low * 0.9


def test_retries_run_out_with_the_last_fault() -> None:
    calls, attempt = _failing([ConnectionRefusedError("first"), ConnectionRefusedError("last"), TimeoutError()])
    with pytest.raises(RetriesExhausted) as caught:
        with_retries(attempt, lambda exc: True, 1, 0.0, lambda *a: None)
    assert len(calls) == 2 and str(caught.value.last) == "last"


def test_a_fault_that_is_not_transient_is_raised_at_once() -> None:
    calls, attempt = _failing([PermissionError("no")])
    started = time.monotonic()
    with pytest.raises(PermissionError):
        with_retries(attempt, lambda exc: not isinstance(exc, PermissionError), 5, 1.0, lambda *a: None)
    assert len(calls) == 1 and time.monotonic() - started < 0.5


def test_only_a_busy_resolver_is_a_temporary_dns_failure() -> None:
    """EAI_AGAIN may heal; "no such name" and a resolver's hard failure never do (the real lookup's error)."""
    try:
        socket.getaddrinfo("sftp.monetat.invalid", 22)
    except socket.gaierror as exc:
        assert not dns_is_temporary(exc)
    else:
        pytest.fail(".invalid resolved")
    assert dns_is_temporary(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))
    assert not dns_is_temporary(socket.gaierror(socket.EAI_FAIL, "Non-recoverable failure in name resolution"))
