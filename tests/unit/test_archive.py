"""The raw archive in process: byte identity and checksums, never overwriting, failed writes, and the
fsspec source that replays it (local folders and file:// through the real filesystem, memory:// for the
generic fsspec path: temporary name, then move)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from pathlib import Path

import fsspec
import pytest

from dlt_pipeline.session_stream.archive import (
    ArchiveConfigError,
    ArchiveError,
    account_prefix,
    open_archive,
    stage,
)
from dlt_pipeline.session_stream.config import SftpCredentials
from dlt_pipeline.session_stream.fsspec_transport import FsspecTransport
from dlt_pipeline.session_stream.plan import day_candidates
from dlt_pipeline.session_stream.transport import LocalTransport, open_transport

SOURCE = "sftp://loader@example.com:2222/1234/raw_data/session_stream"
REL = "2026/11/20/20261120T000000.000Z_PT15M-5001.json.gz"


def _download(tmp_path: Path, payload: bytes, name: str = "download.json.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(payload)
    return path


def _archived_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_account_prefix_follows_the_vendor_layout() -> None:
    assert account_prefix(SOURCE) == "1234/raw_data/session_stream"
    assert account_prefix("/data/vendor/1234/raw_data/session_stream/") == "1234/raw_data/session_stream"
    assert account_prefix("s3://bucket/keep/1234/raw_data/session_stream") == "1234/raw_data/session_stream"
    with pytest.raises(ArchiveConfigError, match="ACCOUNT/raw_data/session_stream"):
        account_prefix("/data/somewhere/else")


def test_local_archive_is_byte_identical_with_its_checksum(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 100
    archive = open_archive(str(tmp_path / "arch"), SOURCE)
    staged = archive.stage(REL, _download(tmp_path, payload))
    final = tmp_path / "arch" / "1234" / "raw_data" / "session_stream" / REL
    assert not final.exists(), "nothing takes the final name before the file parsed"
    archive.commit(staged)
    assert final.read_bytes() == payload
    assert staged.sha256 == hashlib.sha256(payload).hexdigest()
    assert staged.size == len(payload)
    assert _archived_files(tmp_path / "arch") == [final], "no temporary copy is left behind"


def test_without_an_archive_the_checksum_is_still_computed(tmp_path: Path) -> None:
    staged = stage(None, REL, _download(tmp_path, b"gzip bytes"))
    assert staged.sha256 == hashlib.sha256(b"gzip bytes").hexdigest()
    assert staged.tmp is None


def test_same_bytes_again_are_fine_different_bytes_never_overwrite(tmp_path: Path) -> None:
    archive = open_archive(str(tmp_path / "arch"), SOURCE)
    archive.commit(archive.stage(REL, _download(tmp_path, b"first delivery")))
    archive.commit(archive.stage(REL, _download(tmp_path, b"first delivery", "again.json.gz")))
    changed = archive.stage(REL, _download(tmp_path, b"a different file", "changed.json.gz"))
    with pytest.raises(ArchiveError, match="already holds a different .*never overwrites"):
        archive.commit(changed)
    final = tmp_path / "arch" / "1234" / "raw_data" / "session_stream" / REL
    assert final.read_bytes() == b"first delivery"
    assert _archived_files(tmp_path / "arch") == [final]


def test_a_changed_redelivery_sets_the_loaded_copy_aside(tmp_path: Path) -> None:
    """The vendor re-delivered a loaded file with other bytes: the copy the ledger loaded keeps its bytes under a
    `.superseded-SHA12` name and the new one takes the name; a copy the ledger does not know is still refused."""
    archive = open_archive(str(tmp_path / "arch"), SOURCE)
    archive.commit(archive.stage(REL, _download(tmp_path, b"first delivery")))
    loaded = hashlib.sha256(b"first delivery").hexdigest()
    stranger = archive.stage(REL, _download(tmp_path, b"second delivery", "second.json.gz"))
    with pytest.raises(ArchiveError, match="never overwrites"):
        archive.commit(stranger, replaces=hashlib.sha256(b"something else").hexdigest())
    archive.commit(archive.stage(REL, _download(tmp_path, b"second delivery", "again.json.gz")), replaces=loaded)
    final = tmp_path / "arch" / "1234" / "raw_data" / "session_stream" / REL
    aside = final.with_name(f"{final.name}.superseded-{loaded[:12]}")
    assert (final.read_bytes(), aside.read_bytes()) == (b"second delivery", b"first delivery")
    assert _archived_files(tmp_path / "arch") == sorted([final, aside])
    replay = LocalTransport(tmp_path / "arch" / "1234" / "raw_data" / "session_stream")
    assert [c.name for c in day_candidates(replay, date(2026, 11, 20))[0]] == [final.name]
    assert day_candidates(replay, date(2026, 11, 20))[1] == [], "the copy set aside is not even an odd name"


def test_a_failed_write_fails_the_file_with_its_name(tmp_path: Path) -> None:
    blocker = tmp_path / "arch"
    blocker.write_text("a file where the archive folder should be")
    archive = open_archive(str(blocker), SOURCE)
    with pytest.raises(ArchiveError) as caught:
        archive.stage(REL, _download(tmp_path, b"bytes"))
    assert caught.value.path == REL
    assert "could not be written to the archive" in caught.value.reason


def test_a_discarded_stage_leaves_nothing(tmp_path: Path) -> None:
    archive = open_archive(str(tmp_path / "arch"), SOURCE)
    staged = archive.stage(REL, _download(tmp_path, b"quarantined later"))
    archive.close()  # the run stopped before the file was committed
    assert _archived_files(tmp_path / "arch") == []
    assert staged.tmp is not None


def test_memory_archive_moves_into_place_and_replays(tmp_path: Path) -> None:
    base = f"memory://archive-{uuid.uuid4().hex[:8]}"
    payload = b"\x1f\x8b vendor bytes"
    archive = open_archive(base, SOURCE)
    archive.commit(archive.stage(REL, _download(tmp_path, payload)))
    fs = fsspec.filesystem("memory")
    root = f"{base.removeprefix('memory://')}/1234/raw_data/session_stream"
    assert fs.cat_file(f"/{root}/{REL}") == payload
    assert [p for p in fs.find(f"/{root}") if p.endswith(".part")] == []

    creds = SftpCredentials()
    creds.url = f"{base}/1234/raw_data/session_stream"
    transport = open_transport(creds)
    assert isinstance(transport, FsspecTransport)
    assert [(e.name, e.is_dir) for e in transport.list_dir("") or []] == [("2026", True)]
    entries = transport.list_dir("2026/11/20") or []
    assert [(e.name, e.size, e.is_dir) for e in entries] == [(REL.rsplit("/", 1)[1], len(payload), False)]
    assert entries[0].mtime is not None
    assert transport.list_dir("2026/12") is None
    spool = tmp_path / "spool"
    spool.mkdir()
    local = transport.fetch(REL, len(payload), spool)
    assert local.read_bytes() == payload
    transport.release(local)
    assert not local.exists()


def test_file_url_source_is_the_local_transport(tmp_path: Path) -> None:
    (tmp_path / "1234" / "raw_data" / "session_stream").mkdir(parents=True)
    creds = SftpCredentials()
    creds.url = (tmp_path / "1234" / "raw_data" / "session_stream").as_uri()
    transport = open_transport(creds)
    assert isinstance(transport, LocalTransport)
    assert transport.list_dir("") == []


def test_archive_setting_from_config_and_its_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from dlt_pipeline.settings import resolve

    monkeypatch.setenv("SESSION_STREAM__ARCHIVE", "s3://bucket/monetate")
    settings = resolve({"source": "/data/1234/raw_data/session_stream"})
    assert settings.load_options().archive == "s3://bucket/monetate"
    with pytest.raises(ValueError, match="^SESSION_STREAM__ARCHIVE needs --source to end in ACCOUNT/raw_data"):
        resolve({"source": "/data/elsewhere"})
