"""Which account a dataset holds: a warehouse dataset is loaded from one Session Stream source, never two.

The ledger is keyed by the file's path below the `session_stream` folder (`YYYY/MM/DD/name`) and the look-back
starts at the last loaded day, so a second account loaded into the same dataset would be planned against the
first one's ledger: its older days silently skipped ("loaded 0"), its rows mixed with the other's. Every
ledger row therefore records where its file came from (`source_account`, `source_location`, written in the
same load package as the rows), and a run from another source stops before it lists anything.

What counts as the same source: the same Monetate account, read from the vendor's layout
`.../ACCOUNT/raw_data/session_stream` (so the SFTP server, a local copy and an archive replay of one account
are one source). A location without that layout is identified by itself: host, port and path for sftp://
(never the user), the absolute folder for a local path, the URL otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

LAYOUT_TAIL = ("raw_data", "session_stream")


class SourceMismatch(Exception):
    """The dataset already holds another source's files; loading this one would mix or skip them."""


@dataclass(frozen=True)
class SourceIdentity:
    """The account (None when the location does not follow the vendor's layout) and the normalised location."""

    account: str | None
    location: str

    def same_as(self, other: SourceIdentity) -> bool:
        """One account (whatever server or copy it is read from); without accounts, one location."""
        if self.account is not None and other.account is not None:
            return self.account == other.account
        return self.location == other.location

    def label(self) -> str:
        return f"account {self.account} ({self.location})" if self.account else self.location


def identify(description: str) -> SourceIdentity:
    """The identity of a transport's description (`sftp://user@host:port/path`, a folder, or a URL)."""
    if description.startswith("sftp://"):
        url = urlparse(description)
        location = f"sftp://{url.hostname}:{url.port or 22}{url.path.rstrip('/') or '/'}"
        path = url.path
    elif "://" in description:
        location = description.rstrip("/")
        path = urlparse(description).path
    else:
        location = description.rstrip("/") or "/"
        path = description
    parts = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p != "/"]
    account = parts[-3] if len(parts) >= 3 and tuple(parts[-2:]) == LAYOUT_TAIL else None
    return SourceIdentity(account, location)


def verify_source(current: SourceIdentity, recorded: list[SourceIdentity], legacy: bool,
                  legacy_day: date | None, legacy_names: Callable[[date], tuple[set[str], set[str]]],
                  dataset: str) -> None:
    """Raise SourceMismatch when the dataset holds another source's files; otherwise return.

    `recorded` are the identities on the ledger; `legacy` says some ledger rows carry none (written before
    identities were recorded). Such a dataset adopts the identity of its first run after the upgrade when
    the ledger's files of its last loaded day (`legacy_names(day)`: (on the server, in the ledger)) are on
    this source; the rows that run loads carry the identity from then on.
    """
    if any(current.same_as(other) for other in recorded):
        return
    if recorded:
        raise SourceMismatch(_message(current, recorded[0].label(), dataset))
    if not legacy or legacy_day is None:
        return
    on_server, in_ledger = legacy_names(legacy_day)
    if in_ledger and not on_server & in_ledger:
        earlier = f"a source whose files of {legacy_day} (e.g. {sorted(in_ledger)[0]}) are not on this one"
        raise SourceMismatch(_message(current, earlier, dataset))


def _message(current: SourceIdentity, earlier: str, dataset: str) -> str:
    return (f"dataset {dataset} already holds Session Stream files of {earlier}, not of {current.label()}; "
            "one dataset holds one account (its ledger and look-back are per dataset). Load each account into "
            "its own dataset (--dataset-name, or dataset_name in your dlt pipeline) or its own DuckDB file "
            "(--duckdb-path); see README 'Several accounts'")


def recorded_identities(rows: list[tuple[Any, Any]]) -> tuple[list[SourceIdentity], bool]:
    """Identities from the ledger's distinct (source_account, source_location) pairs, and whether any row lacks one."""
    found = [SourceIdentity(account, location) for account, location in rows if location is not None]
    return found, any(location is None for _account, location in rows)
