"""An exception's chain and its first line: the two things every one-line error message is made of.

dlt wraps the error that stopped a run (a refused row, a lost connection, SIGTERM) in its own step exceptions,
so the message a user needs sits further down the chain (`__cause__`, else `__context__`, and for dlt's job
failures the `exception` attribute). Every place that turns an exception into one line walks that chain and
cuts the text at its first line the same way, here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator


def causes(exc: BaseException, *, inner: str | None = None) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or during, and so on; each exception once (a chain can loop).

    With `inner` (dlt's `"exception"`), an exception held in that attribute is followed before the chain.
    """
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        yield node
        seen.add(id(node))
        held = getattr(node, inner, None) if inner else None
        node = held if isinstance(held, BaseException) else (node.__cause__ or node.__context__)


def root_cause(exc: BaseException, stop: tuple[type[BaseException], ...] = ()) -> BaseException:
    """The first exception in the chain that is one of `stop` (ours, already worded for the user), else the last."""
    last = exc
    for last in causes(exc):
        if isinstance(last, stop):
            return last
    return last


def chain_has(exc: BaseException, test: Callable[[BaseException], bool]) -> bool:
    """Whether `exc` or any exception it was raised from or during passes `test`."""
    return any(test(node) for node in causes(exc))


def first_line(error: BaseException | str, limit: int = 300, default: str | None = None) -> str:
    """The first line of an error's text, at most `limit` characters: a database error's detail lines and a
    traceback's frames stay out of one-line messages. An empty text gives `default`, else the exception's type."""
    lines = str(error).strip().splitlines()
    if lines:
        return lines[0][:limit]
    if default is not None or isinstance(error, str):
        return default or ""
    return type(error).__name__
