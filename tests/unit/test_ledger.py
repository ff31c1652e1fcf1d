"""`ledger.shared_client`: one connection for the plan, opened again once when the caller settled a refusal."""

from __future__ import annotations

from typing import Any

import pytest

from dlt_pipeline.session_stream.ledger import dataset_client, shared_client


class _Client:
    def __init__(self, pipeline: _Pipeline) -> None:
        self.pipeline = pipeline

    def __enter__(self) -> _Client:
        self.pipeline.opened += 1
        if self.pipeline.refusals:
            self.pipeline.refusals -= 1
            raise RuntimeError("Can't open a connection ... different configuration than existing connections")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.pipeline.closed += 1


class _Pipeline:
    """What `shared_client` uses of a dlt pipeline: `sql_client()`."""

    def __init__(self, refusals: int) -> None:
        self.refusals, self.opened, self.closed = refusals, 0, 0

    def sql_client(self) -> _Client:
        return _Client(self)


def test_a_refusal_the_caller_settled_opens_again() -> None:
    pipeline, settled = _Pipeline(refusals=1), []
    with shared_client(pipeline, retry_if=lambda exc: settled.append(exc) or True):  # type: ignore[arg-type]
        with dataset_client(pipeline) as client:  # type: ignore[arg-type]
            assert isinstance(client, _Client)
    assert (len(settled), pipeline.opened, pipeline.closed) == (1, 2, 1)


@pytest.mark.parametrize("retry_if", [None, lambda exc: False, lambda exc: True])
def test_other_refusals_raise(retry_if: Any) -> None:
    """Without `retry_if`, when it declines, or when the second attempt fails too."""
    pipeline = _Pipeline(refusals=2)
    with pytest.raises(RuntimeError), shared_client(pipeline, retry_if=retry_if):  # type: ignore[arg-type]
        pass
    assert pipeline.opened == (2 if retry_if is not None and retry_if(None) else 1)
