"""The `session_stream` source in a user's own dlt pipeline, in process, against the private sshd.

The README's snippet: `pipeline.run(session_stream(url, private_key=..., known_hosts=...))`. A second run
loads nothing, a late file for an earlier window loads once, and the raw tables equal, row for row, what
`python dlt_pipeline/run.py` writes from the same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pytest
from support.data import ACCOUNT, days_ago, first_seed_filling_every_child_table, write_window
from support.loader import Target, explain
from support.servers import PrivateSshd
from support.sftp import sftp_args
from support.warehouse import SCHEMA, duckdb_connection

from dlt_pipeline.session_stream import session_stream
from dlt_pipeline.synthetic.generator import CHILD_TABLES, session_stream_root

DAY = days_ago(1)
TABLES = ("sessions", *CHILD_TABLES, "session_stream_files")
IGNORED = {"_dlt_load_id", "load_id", "loaded_at", "modified_at",  # when a row was loaded, not what it holds
           "source_location"}  # the folder or the SFTP URL it was read from (the account, source_account, is one)
# (and the ledger's `_dlt_id`, which dlt draws at random for each row it is given as a dict)


def _rows(path: Path, dataset: str = SCHEMA) -> dict[str, list[tuple[Any, ...]]]:
    """Every raw table's rows without load bookkeeping, sorted: two warehouses compare equal row for row."""
    out = {}
    with duckdb_connection(path) as q:
        for table in TABLES:
            cols = [c for (c,) in q(f"select column_name from information_schema.columns where table_schema = "
                                    f"'{dataset}' and table_name = '{table}' order by column_name")
                    if c not in IGNORED and not (c == "_dlt_id" and table == "session_stream_files")]
            assert cols, f"{path.name} has no table {dataset}.{table}: the files must give every raw table a row"
            out[table] = sorted(q(f'select {", ".join(cols)} from {dataset}."{table}"'), key=repr)
    return out


def _pipeline(tmp_path: Path, name: str) -> dlt.Pipeline:
    return dlt.pipeline(name, destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
                        dataset_name="monetate_raw", pipelines_dir=str(tmp_path / f"{name}-state"))


@pytest.mark.parametrize("via", ["sftp", "folder"])
def test_users_own_pipeline_loads_once_and_equals_the_command_line(sshd: PrivateSshd, tmp_path: Path,
                                                                   via: str) -> None:
    out = tmp_path / "src"
    first_seed = first_seed_filling_every_child_table(DAY, "1000", 3)  # today's date must not leave a table out
    for k in range(3):
        write_window(out, DAY, f"{10 + k}00", 100 + k, 3, first_seed=first_seed + 10 * k)
    root = session_stream_root(out, ACCOUNT)
    url = sshd.url(root) if via == "sftp" else str(root)
    keys = {"private_key": str(sshd.client_key_path), "known_hosts": str(sshd.known_hosts_path)} if via == "sftp" \
        else {}
    pipeline = _pipeline(tmp_path, "my_monetate")

    def run() -> None:
        pipeline.run(session_stream(url, **keys, min_file_age_seconds=0, workers=0))

    run()
    db = tmp_path / "my_monetate.duckdb"
    first = _rows(db)
    assert len(first["sessions"]) == 9 and len(first["session_stream_files"]) == 3
    run()
    assert _rows(db) == first, "a second run must load nothing"
    write_window(out, DAY, "0900", 99, 3, first_seed=90)  # a late file for an earlier window
    run()
    run()
    after = _rows(db)
    assert len(after["sessions"]) == 12 and len(after["session_stream_files"]) == 4

    target = Target(tmp_path / "cli")
    proc = target.run(*sftp_args(sshd, root), "--start-date", DAY.isoformat())
    assert proc.returncode == 0, explain(proc)
    assert _rows(target.duckdb_path) == after, "the source and the command line must write the same rows"
