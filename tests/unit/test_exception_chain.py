"""The one exception-chain walker and first-line helper every one-line error message uses."""

from __future__ import annotations

from dlt_pipeline.exception_chain import causes, chain_has, first_line, root_cause


class Ours(Exception):
    """Stands for an exception already worded for the user (TransportError, StrictModeFailure, ...)."""


class Wrapper(Exception):
    """Stands for dlt's step exception, which holds the job's error in `exception`."""

    def __init__(self, message: str, exception: BaseException) -> None:
        super().__init__(message)
        self.exception = exception


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as exc:  # noqa: BLE001 - the test builds the chain
        return exc


def test_causes_follow_cause_then_context_and_stop_on_a_loop() -> None:
    bottom = KeyError("k")
    middle = _raised_from(ValueError("v"), bottom)
    top = _raised_from(RuntimeError("r"), middle)
    assert list(causes(top)) == [top, middle, bottom]
    bottom.__context__ = top  # a chain can loop back on itself
    assert list(causes(top)) == [top, middle, bottom]


def test_causes_follow_an_inner_exception_only_when_asked() -> None:
    held = ValueError("refused")
    wrapper = Wrapper("job failed", held)
    assert list(causes(wrapper)) == [wrapper]
    assert list(causes(wrapper, inner="exception")) == [wrapper, held]


def test_root_cause_stops_at_ours_else_takes_the_last() -> None:
    ours = _raised_from(Ours("no such host"), OSError("socket"))
    top = _raised_from(RuntimeError("pipeline step failed"), ours)
    assert root_cause(top, (Ours,)) is ours
    assert isinstance(root_cause(top), OSError)
    assert chain_has(top, lambda exc: isinstance(exc, OSError))
    assert not chain_has(top, lambda exc: isinstance(exc, KeyError))


def test_first_line_cuts_at_the_first_line_and_the_limit() -> None:
    assert first_line(ValueError("  ERROR: value too long\nDETAIL: row 3\n")) == "ERROR: value too long"
    assert first_line(ValueError("x" * 500)) == "x" * 300
    assert first_line(ValueError("x" * 500), 10) == "x" * 10
    assert first_line(ValueError()) == "ValueError"
    assert first_line(ValueError(), default="") == ""
    assert first_line("error: one\ntwo") == "error: one"
    assert first_line("", default="nothing said") == "nothing said"
