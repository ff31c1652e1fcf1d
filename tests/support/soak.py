"""The soak's two sides: a vendor that delivers files the way a real SFTP drop does, and a fault schedule.

`Vendor` copies a generated account folder (the ground truth's files) into the folder an sshd serves, a
slice of windows per scheduled run, with the mishaps a real drop has: files that arrive rounds late, uploads
that stall half-written (young, truncated), files delivered with fewer lines or corrupt and re-delivered later
under the same name with their full content, and one line that is never valid. At the end every file holds
its full generated content, plus the one bad line, so the ground truth of the generator still describes what
must be in the warehouse: every generated line exactly once, and one quarantined line.

Everything is drawn from one `random.Random(seed)`, so a failing soak replays exactly with its seed.
"""

from __future__ import annotations

import gzip
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

GARBAGE_LINE = b'{"this line": "is not a session", "broken": \n'
"""The line the vendor's drop corrupts for good: quarantined with file, line and reason, never loaded."""
OLD = 3_600
"""Seconds before now that a finished upload's mtime is set to: old enough for any --min-file-age-seconds used."""


@dataclass
class Mishaps:
    """Which files suffer what; each file at most one mishap (except the bad line, which comes on top)."""

    late: dict[str, int] = field(default_factory=dict)  # file -> rounds it arrives after its own
    stalled: set[str] = field(default_factory=set)  # half-written with a fresh mtime, finished the next round
    short_first: set[str] = field(default_factory=set)  # first a valid gzip of half its lines, full 2 rounds later
    corrupt_first: set[str] = field(default_factory=set)  # first with flipped bytes (same size), fixed 2 rounds later
    bad_line: str | None = None  # gets GARBAGE_LINE in the middle, for good


class Vendor:
    """The vendor's side of the drop: `deliver(round)` puts that round's files (and fixes) in place."""

    def __init__(self, outbox: Path, served: Path, rounds: int, seed: int) -> None:
        self.outbox, self.served, self.rounds = outbox, served, rounds
        self.rng = random.Random(seed)
        self.files = sorted(str(p.relative_to(outbox)) for p in outbox.rglob("*.json.gz"))
        self.mishaps = self._draw_mishaps()
        lines = gzip.decompress((outbox / str(self.mishaps.bad_line)).read_bytes()).count(b"\n")
        self.garbage_line_number = lines // 2 + 1
        """1-based line number of GARBAGE_LINE in its file (inserted after the first half of the lines)."""
        self._pending: dict[int, list[tuple[str, str]]] = {}  # round -> [(file, how)]
        self._plan()

    def _draw_mishaps(self) -> Mishaps:
        pool = self.files[:]
        self.rng.shuffle(pool)
        m = Mishaps()
        for name in pool[:12]:
            m.late[name] = self.rng.choice((1, 2, 3))
        m.stalled = set(pool[12:16])
        m.short_first = set(pool[16:19])
        m.corrupt_first = set(pool[19:21])
        m.bad_line = pool[21]
        return m

    def _plan(self) -> None:
        """Each file's nominal round follows its window (the drop advances in time); mishaps shift or repeat it."""
        per_round = -(-len(self.files) // self.rounds)
        for i, name in enumerate(self.files):
            nominal = i // per_round
            if name in self.mishaps.late:
                self._at(nominal + self.mishaps.late[name], name, "full")
            elif name in self.mishaps.stalled:
                self._at(nominal, name, "stalled")
                self._at(nominal + 1, name, "full")
            elif name in self.mishaps.short_first:
                self._at(nominal, name, "short")
                self._at(nominal + 2, name, "full")
            elif name in self.mishaps.corrupt_first:
                self._at(nominal, name, "corrupt")
                self._at(nominal + 2, name, "full")
            else:
                self._at(nominal, name, "full")

    def _at(self, round_no: int, name: str, how: str) -> None:
        self._pending.setdefault(min(round_no, self.rounds - 1), []).append((name, how))

    def deliver(self, round_no: int) -> dict[str, int]:
        """Put round `round_no`'s files in place; returns how many of each kind of delivery it made."""
        made: dict[str, int] = {}
        for name, how in self._pending.get(round_no, []):
            self._write(name, how)
            made[how] = made.get(how, 0) + 1
        return made

    def _write(self, name: str, how: str) -> None:
        data = (self.outbox / name).read_bytes()
        if name == self.mishaps.bad_line:
            data = _with_line_inserted(data, GARBAGE_LINE)
        mtime = time.time() - OLD  # a re-delivery's upload is later than its first copy's, as on a real server
        if how == "stalled":  # an upload in progress: a truncated gzip, written just now
            data, mtime = data[: len(data) // 2], time.time()
        elif how == "short":  # a complete, valid file that lacks its later lines
            lines = gzip.decompress(data).splitlines(keepends=True)
            data = gzip.compress(b"".join(lines[: max(1, len(lines) // 2)]))
        elif how == "corrupt":  # same size, bytes damaged in the middle of the deflate stream
            middle = len(data) // 2
            data = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 8]) + data[middle + 8:]
        target = self.served / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")  # never listed: the loader takes *.json.gz only
        partial.write_bytes(data)
        os.utime(partial, (mtime, mtime))
        partial.replace(target)


def _with_line_inserted(gz: bytes, line: bytes) -> bytes:
    lines = gzip.decompress(gz).splitlines(keepends=True)
    middle = len(lines) // 2
    return gzip.compress(b"".join([*lines[:middle], line, *lines[middle:]]))


CRASH_POINTS = ("before_plan", "after_download", "after_extract", "after_normalize", "schema_stored",
                "job_committed", "job_committed:session_stream_files#2", "job_recorded", "during_load",
                "loads_row_committed", "package_archived", "after_load")
"""Every named point of a run (dlt_pipeline/testhooks.py), the ledger's merge among them."""


def fault_cycle() -> list[str]:
    """Each scheduled run's fault, in turn: a kill -9 at every point of a run, and every third run an outage,
    a BI reader holding the DuckDB file, or nothing (so two kills in a row are repaired by a killed run too)."""
    others = ("outage", "reader", "none")
    cycle: list[str] = []
    for i, point in enumerate(CRASH_POINTS):
        cycle.append(f"crash:{point}")
        if i % 2:
            cycle.append(others[(i // 2) % len(others)])
    return cycle
