"""Session Stream files for tests, and the ground truth a load of them must produce.

Everything is written with the generator's own helpers (`dlt_pipeline.synthetic.generator`, whose ground truth
`tests/unit/test_generator.py` checks independently): small hand-made files (:func:`write_window`,
:func:`numbered_session`, :func:`gzip_lines`), a generated tree with exact truth (:class:`Tree`,
:func:`build_tree`, :func:`assert_ground_truth`), one very large file (:func:`write_big_file`) and the
generator's command line (:func:`generate_cli`).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from dlt_pipeline.synthetic.generator import (
    CHILD_TABLES,
    PII_TARGET_IDS,
    generate,
    make_session,
    read_tree,
    session_stream_root,
    write_session_file,
)
from support.loader import run_or_fail
from support.warehouse import SCHEMA, Query, completed

ACCOUNT = 1234
SESSION_BASE_MS = 1_795_305_600_000
"""2026-11-22T00:00Z: where :func:`numbered_session` counts from."""


def today() -> date:
    return datetime.now(UTC).date()


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


# -- small hand-made files ---------------------------------------------------------------------------


def window_name(day: date | str, hhmm: str, token: int) -> str:
    """The vendor's name of the file for the window `day hhmm` (UTC); `day` a date or "YYYY/MM/DD"."""
    stamp = day.replace("/", "") if isinstance(day, str) else f"{day:%Y%m%d}"
    return f"{stamp}T{hhmm}00.000Z_PT15M-{token}.json.gz"


def sessions_for(day: date, hhmm: str, n: int, seed: int, account: int = ACCOUNT, *, first_seed: int | None = None,
                 **overrides: Any) -> list[dict]:
    """`n` valid sessions that start in the window `day hhmm` (UTC), a second apart; session `i` is generated
    with seed `seed * 1000 + i`, or `first_seed + i` when that is given."""
    start = datetime(day.year, day.month, day.day, int(hhmm[:2]), int(hhmm[2:]), tzinfo=UTC)
    base_ms = int(start.timestamp() * 1000)
    first = seed * 1000 if first_seed is None else first_seed
    return [make_session(account, base_ms + 1000 * i, seed=first + i, **overrides) for i in range(n)]


def first_seed_filling_every_child_table(day: date, hhmm: str, n: int, account: int = ACCOUNT) -> int:
    """The smallest `first_seed` whose `n` sessions in the window `day hhmm` give every child table a row.

    Why: a session's content depends on its start time as well as its seed, so a few sessions written for
    "yesterday" carry no purchase on some dates, and dlt then creates no purchase tables at all. Tests that
    compare every raw table start from this seed, whatever today's date is.
    """
    lists = {table.split("__")[1] for table in CHILD_TABLES}  # sessions__purchase_lines__items: in purchase_lines
    for first in range(10_000):
        sessions = sessions_for(day, hhmm, n, 0, account, first_seed=first)
        if all(any(s.get(key) for s in sessions) for key in lists):
            return first
    raise AssertionError(f"no {n} sessions at {day} {hhmm} fill every child table: raise n")


def write_window(out: Path, day: date, hhmm: str, token: int, n: int, seed: int = 0, account: int = ACCOUNT,
                 **kwargs: Any) -> Path:
    """One file of :func:`sessions_for` (same arguments) in the account's tree under `out`; returns its path."""
    return write_session_file(out, account, window_name(day, hhmm, token),
                              sessions_for(day, hhmm, n, seed, account, **kwargs))


def numbered_session(i: int, *, seed_base: int, account: int = ACCOUNT, **overrides: Any) -> dict[str, Any]:
    """Session number `i`: valid, starting `i` minutes after SESSION_BASE_MS, generated with seed `seed_base + i`."""
    return make_session(account, SESSION_BASE_MS + i * 60_000, seed=seed_base + i, **overrides)


def gzip_lines(lines: Iterable[bytes | dict[str, Any]], *, newline_at_end: bool = True) -> bytes:
    """A gzipped file of these lines (dicts are serialised as JSON), to write with `write_session_file`."""
    body = b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines)
    return gzip.compress(body + b"\n" if newline_at_end else body, mtime=0)


# -- a generated tree with exact ground truth -----------------------------------------------------------


@dataclass
class Tree:
    """A Session Stream folder on disk and what loading it must produce."""

    out_dir: Path
    expected: set[tuple[str, int, str]]  # (_source_path, _source_line, session_id) of every line
    per_file: dict[str, int]  # file path relative to session_stream -> sessions
    child: dict[str, int]  # child table -> rows
    pii_values: dict[str, set[str]]  # target id -> personal values in the files
    extra_files: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return session_stream_root(self.out_dir, ACCOUNT)

    def copy_to(self, target: Path) -> Tree:
        shutil.copytree(self.out_dir, target)
        return replace(self, out_dir=target, expected=set(self.expected), per_file=dict(self.per_file),
                       child=dict(self.child))

    def expect(self, path: str, lines: dict[int, dict[str, Any]]) -> None:
        """Add the good lines of a file (line number -> session) to the ground truth, child rows included."""
        for number, doc in lines.items():
            self.expected.add((path, number, doc["session_id"]))
            for table in self.child:
                name = table.removeprefix("sessions__")
                if name == "purchase_lines__items":
                    purchases = (doc.get("purchase_lines") or {}).values()
                    self.child[table] += sum(len(p.get("items") or []) for p in purchases)
                else:
                    self.child[table] += len(doc.get(name) or ())
        self.per_file[path] = len(lines)


def build_tree(base: Path) -> Tree:
    """~300 sessions over two days (plus late ones in a third), repacked into 4 files a day: runs take seconds."""
    truth = generate(base / "gen", account_id=ACCOUNT, start_date="2026-11-20", days=2, sessions_per_day=150,
                     seed=11, pii_share=0.15)
    by_day: dict[str, list[dict[str, Any]]] = {}
    for rel, _line, session in read_tree(base / "gen", ACCOUNT):
        by_day.setdefault(rel[:10], []).append(session)
    out = base / "tree"
    token = 5000
    for day, sessions in sorted(by_day.items()):
        for k in range(4):
            if not sessions[k::4]:
                continue
            token += 1
            write_session_file(out, ACCOUNT, window_name(day, f"{k * 6:02d}00", token), sessions[k::4])
    expected: set[tuple[str, int, str]] = set()
    per_file: Counter[str] = Counter()
    pii: dict[str, set[str]] = {t: set() for t in PII_TARGET_IDS}
    for rel, line, session in read_tree(out, ACCOUNT):
        expected.add((rel, line, session["session_id"]))
        per_file[rel] += 1
        for target, value in (session.get("custom_targets") or {}).items():
            if target in pii:
                pii[target].add(value)
    child = {t: truth["raw"][t] for t in CHILD_TABLES}
    assert len(expected) == truth["raw"]["sessions"]
    assert all(pii.values()), "the generator must put personal data in custom targets"
    return Tree(out, expected, dict(per_file), child, pii)


def assert_ground_truth(q: Query, tree: Tree, schema: str = SCHEMA, *, extra_sessions: int = 0) -> None:
    """Every line of every file exactly once, in raw tables of completed loads; nothing outside them."""
    done = completed(schema)
    rows = q(f"select _source_path, _source_line, session_id, _dlt_id from {schema}.sessions where {done}")
    keys = Counter((p, int(n), s) for p, n, s, _ in rows)
    doubled = {k: v for k, v in keys.items() if v > 1}
    assert not doubled, f"sessions loaded more than once: {list(doubled)[:5]}"
    got = set(keys)
    assert got >= tree.expected, f"missing sessions: {sorted(tree.expected - got)[:5]}"
    assert len(got - tree.expected) == extra_sessions, f"unexpected sessions: {sorted(got - tree.expected)[:5]}"
    assert len({r[3] for r in rows}) == len(rows), "duplicate _dlt_id in sessions"
    orphans = q(f"select count(*) from {schema}.sessions where not ({done})")[0][0]
    assert orphans == 0, f"{orphans} session rows belong to loads that never completed"
    for table, n in tree.child.items():
        total, distinct = q(f"select count(*), count(distinct _dlt_id) from {schema}.{table} where {done}")[0]
        assert distinct == total, f"duplicate _dlt_id in {table}"
        if not extra_sessions:
            assert total == n, f"{table}: {total} rows, truth {n}"
    ledger = q(f"select file_path, status, sessions_loaded from {schema}.session_stream_files where {done}")
    by_path = {p: (s, n) for p, s, n in ledger}
    assert len(by_path) == len(ledger), "a file has two ledger rows"
    for path, n in tree.per_file.items():
        assert by_path.get(path) == ("loaded", n), f"ledger for {path}: {by_path.get(path)}, truth loaded/{n}"


# -- one very large file ---------------------------------------------------------------------------------

BIG_FILE_TEMPLATES = 100


def write_big_file(out_dir: Path, sessions: int, day: date | None = None) -> Path:
    """One gzipped file of `sessions` lines in the vendor's layout (window 05:00 of `day`, default two days
    ago), in a few seconds; returns the file.

    A hundred real sessions are repeated with unique ids: building 300,000 distinct ones would take minutes.
    """
    day = day or days_ago(2)
    window_ms = int(datetime(day.year, day.month, day.day, 5, tzinfo=UTC).timestamp() * 1000)
    templates = []  # real sessions serialised once, split where the session id goes
    for i in range(BIG_FILE_TEMPLATES):
        session = make_session(ACCOUNT, window_ms + i * 1000, seed=i)
        session["session_id"] = "@ID@"
        head, tail = orjson.dumps(session).split(b"@ID@")
        templates.append((head, tail))
    path = session_stream_root(out_dir, ACCOUNT) / f"{day:%Y/%m/%d}" / window_name(day, "0500", 1234567890123)
    path.parent.mkdir(parents=True, exist_ok=True)
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing, fastest level
    with path.open("wb") as out:
        for first in range(0, sessions, 20_000):
            lines = [b"%s%d-%d%s\n" % (templates[i % BIG_FILE_TEMPLATES][0], ACCOUNT, i,
                                       templates[i % BIG_FILE_TEMPLATES][1])
                     for i in range(first, min(first + 20_000, sessions))]
            out.write(packer.compress(b"".join(lines)))
        out.write(packer.flush())
    return path


# -- the generator's command line ------------------------------------------------------------------------


def generate_cli(out: Path, *args: str) -> dict[str, Any]:
    """`python -m dlt_pipeline.synthetic.generate --out OUT ARGS` (account 1234); returns its ground truth."""
    truth = out / "truth.json"
    run_or_fail([sys.executable, "-m", "dlt_pipeline.synthetic.generate", "--out", str(out), "--truth", str(truth),
                 *args], dict(os.environ), "generator")
    return json.loads(truth.read_text())
