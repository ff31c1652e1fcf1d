"""A dataset holds one account: a second account's files into the same dataset are refused (exit 2, one line
naming both), never "loaded 0"; a separate dataset takes them; the same account read from elsewhere (SFTP, then a
local copy) is the same source; a ledger written before identities were recorded adopts its own account only."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import dlt
import duckdb
import pytest
from support.data import days_ago, write_window
from support.loader import Target, explain, summary
from support.servers import PrivateSshd
from support.sftp import sftp_args

from dlt_pipeline.session_stream import session_stream
from dlt_pipeline.synthetic.generator import session_stream_root

HOUR_AGO = time.time() - 3600


def _account(out: Path, account: int, days: list[int], token: int) -> Path:
    """Two files per day for `account` (days ago), an hour old; returns its session_stream folder."""
    for k, ago in enumerate(days):
        for w, hhmm in enumerate(("0100", "0200")):
            path = write_window(out, days_ago(ago), hhmm, token + 10 * k + w, 2, seed=token % 97 + k, account=account)
            os.utime(path, (HOUR_AGO, HOUR_AGO))
    return session_stream_root(out, account)


def _ledger_rows(target: Target) -> int:
    return target.count("session_stream_files")


def test_a_second_account_is_refused_and_loads_into_its_own_dataset(sshd: PrivateSshd, tmp_path: Path) -> None:
    first = _account(tmp_path / "a", 1234, [3, 2], 900)  # the demo's account, loaded first
    other = _account(tmp_path / "b", 5678, [9, 8, 1], 950)  # older days than the first one's look-back
    target = Target(tmp_path / "wh")
    loaded = target.run(*sftp_args(sshd, first))
    assert loaded.returncode == 0 and summary(loaded.stdout)["loaded"] == 4, explain(loaded)

    for run in (target.run("--source", str(other)), target.run("--check", "--source", str(other))):
        assert run.returncode == 2, explain(run)
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "account 1234" in lines[0] and "account 5678" in lines[0], explain(run)
        assert "--dataset-name" in lines[0] and "Traceback" not in run.stderr
        assert "loaded now" not in run.stdout
    assert _ledger_rows(target) == 4 and target.count("sessions") == 8

    own = target.run("--source", str(other), "--dataset-name", "raw_5678")
    assert own.returncode == 0 and summary(own.stdout)["loaded"] == 6, explain(own)
    assert target.count("sessions") == 8 and int(target.scalar("select count(*) from raw_5678.sessions")) == 12

    copy = tmp_path / "copy"  # the same account, read from a local copy of the server's folder: the same source
    shutil.copytree(tmp_path / "a", copy)
    write_window(copy, days_ago(1), "0300", 990, 2, seed=5)
    same = target.run("--source", str(session_stream_root(copy, 1234)))
    assert same.returncode == 0 and summary(same.stdout)["loaded"] == 1, explain(same)
    recorded = set(target.sql("select distinct source_account, source_location from "
                              f"{target.dataset}.session_stream_files"))
    assert {account for account, _ in recorded} == {"1234"} and len(recorded) == 2

    pipeline = dlt.pipeline("own_identity", destination=dlt.destinations.duckdb(str(target.duckdb_path)),
                            dataset_name=target.dataset, pipelines_dir=str(tmp_path / "own"))
    with pytest.raises(Exception, match="account 5678") as refused:  # a user's own pipeline: dlt wraps the error
        pipeline.run(session_stream(str(other), min_file_age_seconds=0, workers=0))
    assert "account 1234" in str(refused.value)
    assert target.count("sessions") == 10


def test_a_ledger_without_identities_adopts_its_own_account_only(tmp_path: Path) -> None:
    """A dataset loaded by an earlier version (ledger rows without a source): another account is refused because
    none of the ledger's files of its last loaded day are on it; its own account is adopted and recorded."""
    mine = _account(tmp_path / "a", 1234, [2], 700)
    other = _account(tmp_path / "b", 5678, [2, 1], 750)
    target = Target(tmp_path / "wh")
    assert target.run("--source", str(mine)).returncode == 0
    with duckdb.connect(str(target.duckdb_path)) as con:  # what an upgraded warehouse's older rows hold
        con.execute(f"update {target.dataset}.session_stream_files set source_account = null, source_location = null")

    refused = target.run("--source", str(other))
    assert refused.returncode == 2 and "not on this one" in refused.stderr, explain(refused)
    write_window(tmp_path / "a", days_ago(1), "0500", 799, 2, seed=3)
    adopted = target.run("--source", str(mine))
    assert adopted.returncode == 0 and summary(adopted.stdout)["loaded"] == 1, explain(adopted)
    assert target.sql(f"select distinct source_account from {target.dataset}.session_stream_files "
                      "where source_account is not null") == [("1234",)]
    again = target.run("--source", str(other))
    assert again.returncode == 2 and "account 1234" in again.stderr, explain(again)
