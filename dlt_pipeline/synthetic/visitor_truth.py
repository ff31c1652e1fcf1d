"""Ground truth for visitors (Monetate IDs), accumulated while the generator writes.

Why a module of its own: the visitor marts (``visitors``, ``visitor_customer_map``, the visitor columns of
``sessions``) must be proved against numbers the dbt code did not compute. The generator knows every
session's final (surviving) version as it makes it, so this accumulator is fed with exactly what the dedup
rule keeps, one call per session, in start order per visitor (a visitor returns only after its last session
ended). Memory stays bounded: the generator keeps at most a few thousand visitors able to return, and a
visitor that drops out of that pool is folded into plain counters and order-independent digests here.

Digests: ``visitor_digest`` sums a 64-bit hash of each line ("monetate_id|value") modulo 2**64, so a test
can recompute it from a mart in any row order and compare every stitched id / first session exactly.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

_MOD = 2**64


def _line_hash(line: str) -> int:
    return int.from_bytes(hashlib.blake2b(line.encode(), digest_size=8).digest(), "big")


def visitor_digest(lines: Iterable[str]) -> str:
    """Order-independent digest of ``lines`` (16 hex digits); what the truth stores for stitched ids etc."""
    return f"{sum(_line_hash(line) for line in lines) % _MOD:016x}"


def new_visitor_record() -> list[Any]:
    """Per-visitor accumulator: [sessions, first start ms, latest customer_id, latest customer_link,
    distinct ids (set), bought in a session after its first]."""
    return [0, None, None, None, set(), False]


class VisitorTruth:
    """Counters and digests over retired visitors, plus page event session counts."""

    def __init__(self) -> None:
        self.visitors = 0
        self.identified = 0
        self.conflicting = 0
        self.returning = 0
        self.returning_buyers = 0
        self.stitched = 0
        self.sessions_per_visitor: Counter[int] = Counter()
        self.page_event_sessions: Counter[str] = Counter()
        self.bought_after_event: dict[str, list[float]] = {}
        """Per page event id: [final sessions with a purchase at or after its first firing, their value after]."""
        self._stitched_sum = 0
        self._first_sum = 0

    def record(self, rec: list[Any], start_ms: int, customer_id: str | None, customer_link: str | None,
               converted: bool, events: Iterable[tuple[str, int]],
               purchases: Iterable[tuple[int, float]] = ()) -> None:
        """One final session of the visitor whose accumulator is ``rec`` (sessions arrive in start order).

        ``events``: (page event id, first fired ms); ``purchases``: (purchase time ms, value) of its purchase lines.
        """
        rec[0] += 1
        if rec[1] is None:
            rec[1] = start_ms
        elif converted:
            rec[5] = True
        if customer_id is not None:
            rec[2] = customer_id
            rec[4].add(customer_id)
        if customer_link is not None:
            rec[3] = customer_link
            rec[4].add(customer_link)
        fired = dict(events)
        self.page_event_sessions.update(fired.keys())
        self._bought_after(fired, list(purchases))

    def _bought_after(self, fired: dict[str, int], purchases: list[tuple[int, float]]) -> None:
        """Who fired an event, then bought: the purchase lines at or after the event's first firing."""
        for event_id, fired_ms in fired.items():
            after = [value for time_ms, value in purchases if time_ms >= fired_ms]
            if after:
                acc = self.bought_after_event.setdefault(event_id, [0, 0.0])
                acc[0] += 1
                acc[1] += sum(after)

    def retire(self, monetate_id: str, rec: list[Any]) -> None:
        """Fold a visitor that can no longer return into the totals."""
        if rec[0] == 0:
            return
        self.visitors += 1
        self.sessions_per_visitor[rec[0]] += 1
        self.returning += rec[0] > 1
        self.returning_buyers += rec[5]
        self.identified += bool(rec[4])
        self.conflicting += len(rec[4]) > 1
        stitched = rec[2] if rec[2] is not None else rec[3]
        if stitched is not None:
            self.stitched += 1
            self._stitched_sum += _line_hash(f"{monetate_id}|{stitched}")
        self._first_sum += _line_hash(f"{monetate_id}|{rec[1]}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "visitors": self.visitors,
            "identified_visitors": self.identified,
            "conflicting_visitors": self.conflicting,
            "returning_visitors": self.returning,
            "returning_buyers": self.returning_buyers,
            "stitched_visitors": self.stitched,
            "sessions_per_visitor": {str(k): v for k, v in sorted(self.sessions_per_visitor.items())},
            "stitched_digest": f"{self._stitched_sum % _MOD:016x}",
            "first_session_digest": f"{self._first_sum % _MOD:016x}",
            "page_event_sessions": dict(sorted(self.page_event_sessions.items())),
            "bought_after_event": {k: {"sessions": int(n), "value": round(v, 2)}
                                   for k, (n, v) in sorted(self.bought_after_event.items())},
        }
