"""Which source a dataset holds (`dlt_pipeline.session_stream.identity`), in process: what counts as the same
source, and when a run is refused (the e2e test with two real accounts: tests/e2e/test_source_identity.py)."""

from __future__ import annotations

from datetime import date

import pytest

from dlt_pipeline.session_stream.identity import SourceIdentity, SourceMismatch, identify, verify_source

DAY = date(2026, 11, 20)


def test_one_account_is_one_source_wherever_it_is_read_from() -> None:
    """The account comes from the vendor's layout: SFTP (any user, port 22 or given), a local copy and an archive
    replay of account 1234 are the same source; account 5678 is not; without the layout the location decides."""
    sftp = identify("sftp://alice@sftp.example.com:22/1234/raw_data/session_stream")
    assert sftp == SourceIdentity("1234", "sftp://sftp.example.com:22/1234/raw_data/session_stream")
    same = [identify("sftp://bob@other.example.com:2222/home/x/1234/raw_data/session_stream/"),
            identify("/srv/copy/1234/raw_data/session_stream"),
            identify("s3://bucket/archive/1234/raw_data/session_stream")]
    assert all(sftp.same_as(other) and other.same_as(sftp) for other in same)
    assert not sftp.same_as(identify("/srv/copy/5678/raw_data/session_stream"))
    odd = identify("/data/monetate")
    assert odd.account is None and odd.same_as(identify("/data/monetate/")) and not odd.same_as(sftp)
    assert "alice" not in sftp.label() and "account 1234" in sftp.label()


def _names(on_server: set[str], in_ledger: set[str]):  # noqa: ANN202
    return lambda _day: (on_server, in_ledger)


def test_a_different_source_is_refused_and_an_older_ledger_adopts_a_matching_one() -> None:
    """Recorded identities must match; a ledger of an earlier version (no identity) is adopted when its files of
    the last loaded day are on this source, refused when none are; an empty dataset takes anything."""
    mine, other = identify("/a/1234/raw_data/session_stream"), identify("/b/5678/raw_data/session_stream")
    verify_source(mine, [], False, None, _names(set(), set()), "raw")  # first load
    verify_source(mine, [mine], False, None, _names(set(), set()), "raw")
    with pytest.raises(SourceMismatch) as refused:
        verify_source(other, [mine], True, DAY, _names(set(), set()), "monetate_raw")
    text = str(refused.value)
    assert "\n" not in text and "account 1234" in text and "account 5678" in text and "monetate_raw" in text
    assert "--dataset-name" in text and "--duckdb-path" in text
    verify_source(mine, [], True, DAY, _names({"f1", "f2"}, {"f2", "f3"}), "raw")  # legacy: adopted
    with pytest.raises(SourceMismatch, match="2026-11-20"):
        verify_source(other, [], True, DAY, _names({"g1"}, {"f2"}), "raw")
