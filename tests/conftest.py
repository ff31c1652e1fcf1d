"""Shared pytest fixtures: private sshd, PostgreSQL, fault proxies, the quirk SFTP server, generated trees.

The servers and data builders themselves live in ``tests/support/`` (importable as ``support.*``, see the
``pythonpath`` option in pyproject.toml).

Skipping policy: a fixture skips only when the server binary is missing on a developer machine.
With ``CI`` set (``CI=true``), a missing binary fails the test instead, because CI installs
``openssh-server`` and ``postgresql`` precisely so these integration tests run; a silent skip there
would hide a broken pipeline (``support.servers.require``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.data import ACCOUNT, Tree, build_tree, generate_cli
from support.dbt import GEN_ARGS
from support.servers import FaultProxy, PrivatePostgres, PrivateSshd, find_pg_bindir, find_sshd, require
from support.sftp_quirk_server import Quirks, QuirkSftpServer

from dlt_pipeline.synthetic.generator import session_stream_root

T = TypeVar("T")


def _factory(new: Callable[..., T], stop: Callable[[T], object],
             start: Callable[[T], T] = lambda made: made) -> Iterator[Callable[..., T]]:
    """Body of a factory fixture: the test calls it to `new` (then `start`) things; all are stopped afterwards,
    also those whose start failed."""
    made: list[T] = []

    def make(*args: Any, **kwargs: Any) -> T:  # noqa: ANN401
        thing = new(*args, **kwargs)
        made.append(thing)
        return start(thing)

    yield make
    for thing in made:
        stop(thing)


SSHD_BINARY = (find_sshd, "/usr/sbin/sshd", "openssh-server")
POSTGRES_BINARIES = (find_pg_bindir, "PostgreSQL server binaries (initdb, pg_ctl)", "postgresql")


def _require(binary: tuple[Callable[[], str | None], str, str]) -> None:
    find, what, package = binary
    require(find(), what, package)


def _running(server: Callable[[], T], binary: tuple[Callable[[], str | None], str, str]) -> Iterator[T]:
    """Body of a fixture that serves one private server (a context manager) while it is in scope."""
    _require(binary)
    with server() as running:  # type: ignore[attr-defined]
        yield running


@pytest.fixture(scope="session")
def sshd() -> Iterator[PrivateSshd]:
    """One private sshd for the whole session. Do not stop/restart it: use ``fresh_sshd``."""
    yield from _running(PrivateSshd, SSHD_BINARY)


@pytest.fixture
def fresh_sshd() -> Iterator[Callable[[], PrivateSshd]]:
    """Factory for private sshd instances owned by one test (free to stop, restart, break)."""
    _require(SSHD_BINARY)
    yield from _factory(PrivateSshd, PrivateSshd.close, PrivateSshd.start)


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    """Factory for :class:`FaultProxy` instances in front of a port; all stopped after the test."""
    yield from _factory(FaultProxy, FaultProxy.stop)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    """One private PostgreSQL cluster (role ``loader``, database ``warehouse``) per session."""
    yield from _running(PrivatePostgres, POSTGRES_BINARIES)


@pytest.fixture
def quirky() -> Iterator[Callable[..., QuirkSftpServer]]:
    """Factory: a started QuirkSftpServer with the given quirks; all stopped after the test."""
    yield from _factory(lambda **quirks: QuirkSftpServer(Quirks(**quirks)), QuirkSftpServer.__exit__,
                        QuirkSftpServer.start)


@pytest.fixture(scope="session")
def template_tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """A generated tree with exact ground truth (see ``support.data.build_tree``), built once per session."""
    return build_tree(tmp_path_factory.mktemp("template"))


@pytest.fixture
def tree(template_tree: Tree, tmp_path: Path) -> Tree:
    """A private copy of the template tree for one test (tests add, break or fix files in it)."""
    return template_tree.copy_to(tmp_path / "src")


@pytest.fixture(scope="session")
def mart_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """The mart tests' data: the generator's command line with ``support.dbt.GEN_ARGS``, run once per session.

    Returns (ground truth, the account's session_stream folder). Read-only: tests load it or copy from it.
    """
    out = tmp_path_factory.mktemp("mart_data")
    return generate_cli(out, *GEN_ARGS), session_stream_root(out, ACCOUNT)


SLOWEST_FIRST = ("test_soak.py", "test_experiment_readout.py", "test_dbt_e2e.py", "test_dbt_metadata.py",
                 "test_dbt_after_crash.py", "test_archive.py", "test_first_load.py", "test_dbt_monitoring.py",
                 "test_dbt_benchmark.py", "test_dbt_run.py")
"""Test files whose tests each take tens of seconds (a full loader load and a `dbt build`), costliest first."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slowest files first: xdist hands tests out in this order, so a 2-minute soak that started last
    would leave one worker running it alone at the end; started first, it overlaps the many short tests.
    The sort is stable, so each file keeps its own order (and its module-scoped builds stay together)."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
