"""The fixtures' skipping policy (tests/conftest.py, `support.servers.require`): a missing server binary skips
the test on a developer machine and fails it in CI, where a silent skip would hide a broken pipeline."""

from __future__ import annotations

import pytest
from support.servers import require


def test_missing_binary_skips_locally_but_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require(None, "thing", "pkg")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require(None, "thing", "pkg")
    require("/bin/true", "thing", "pkg")
