"""Shared pytest fixtures: private sshd, PostgreSQL and fault proxies (see ``tests/servers.py``).

Skipping policy: a fixture skips only when the server binary is missing on a developer machine.
With ``CI`` set (``CI=true``), a missing binary fails the test instead, because CI installs
``openssh-server`` and ``postgresql`` precisely so these integration tests run; a silent skip there
would hide a broken pipeline.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

# the path entry above makes this work with --import-mode=importlib and without tests/__init__.py
from servers import (
    FaultProxy,
    PrivatePostgres,
    PrivateSshd,
    find_pg_bindir,
    find_sshd,
    is_ci,
)


def _require(found: str | None, what: str, package: str) -> None:
    """Skip (developer machine) or fail (CI) when a server binary is missing."""
    if found is not None:
        return
    message = f"{what} not found; install the Debian package '{package}' to run this test"
    if is_ci():
        pytest.fail(f"{message} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sshd() -> Iterator[PrivateSshd]:
    """One private sshd for the whole session. Do not stop/restart it: use ``fresh_sshd``."""
    _require(find_sshd(), "/usr/sbin/sshd", "openssh-server")
    with PrivateSshd() as server:
        yield server


@pytest.fixture
def fresh_sshd() -> Iterator[Callable[[], PrivateSshd]]:
    """Factory for private sshd instances owned by one test (free to stop, restart, break)."""
    _require(find_sshd(), "/usr/sbin/sshd", "openssh-server")
    servers: list[PrivateSshd] = []

    def make() -> PrivateSshd:
        server = PrivateSshd()
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    """Factory for :class:`FaultProxy` instances in front of a port; all stopped after the test."""
    proxies: list[FaultProxy] = []

    def make(target_port: int) -> FaultProxy:
        proxy = FaultProxy(target_port)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    """One private PostgreSQL cluster (role ``loader``, database ``warehouse``) per session."""
    _require(find_pg_bindir(), "PostgreSQL server binaries (initdb, pg_ctl)", "postgresql")
    with PrivatePostgres() as server:
        yield server
