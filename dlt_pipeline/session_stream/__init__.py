"""The `session_stream` dlt source: Monetate Session Stream files from SFTP (or a folder) into raw tables.

    import dlt
    from dlt_pipeline.session_stream import session_stream

    pipeline = dlt.pipeline("my_monetate", destination="duckdb", dataset_name="monetate_raw")
    pipeline.run(session_stream("sftp://user@host:2222/12345/raw_data/session_stream",
                                private_key="~/.ssh/monetate", known_hosts="~/.ssh/known_hosts"))

The flow, one module each: `transport` lists and downloads (paramiko, verified host keys), `plan` decides
which files are new from the ledger in the pipeline's own dataset, `workers` runs `parse` (gunzip, lines,
quarantine) and `reshape` (Arrow tables per raw table, after the `contract` check and the `pii` policy)
beside the loader, and `extract` hands everything to dlt: the raw tables, `session_stream_rejects` and the
ledger `session_stream_files`, in one load package. A second run loads nothing new; a late file loads once.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.extract.resource import DltResource

from dlt_pipeline.session_stream.config import SftpCredentials
from dlt_pipeline.session_stream.extract import file_items
from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.session_stream.plan import Plan, plan_files
from dlt_pipeline.session_stream.run_stats import RunStats
from dlt_pipeline.session_stream.transport import Transport, open_transport

__all__ = ["LoadOptions", "RunStats", "SftpCredentials", "session_stream", "session_stream_resource"]


@dlt.source(name="session_stream", section="session_stream")
def session_stream(
    credentials: SftpCredentials = dlt.secrets.value,
    private_key: str | None = None,
    known_hosts: str | None = None,
    trust_host_key: str | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    lookback_days: int = 2,
    min_file_age_seconds: int = 120,
    retry_quarantined: bool = False,
    pii_mode: str = "keep",
    pii_target_ids: list[str] | None = None,
    pii_salt: TSecretStrValue | None = dlt.secrets.value,
    workers: int = 2,
    batch_size: int = 5_000,
) -> DltResource:
    """Every Session Stream file not yet in this pipeline's ledger, as raw tables, rejects and ledger rows.

    `credentials` is the account folder's URL (`sftp://USER@HOST[:PORT]/ACCOUNT/raw_data/session_stream` or
    a local folder) or a full `SftpCredentials`; `private_key`, `known_hosts` and `trust_host_key` override
    its fields. Secrets (password, key passphrase, PII salt) come from dlt's providers, e.g.
    `SOURCES__SESSION_STREAM__CREDENTIALS__PASSWORD`. The other arguments mean what the command line's
    options of the same names mean (`python dlt_pipeline/run.py --help`).
    """
    for name, value in (("private_key", private_key), ("known_hosts", known_hosts),
                        ("trust_host_key", trust_host_key)):
        if value is not None:
            setattr(credentials, name, value)
    options = LoadOptions(start_date=start_date, end_date=end_date, lookback_days=lookback_days,
                          min_file_age_seconds=min_file_age_seconds, retry_quarantined=retry_quarantined,
                          pii_mode=pii_mode, pii_target_ids=pii_target_ids, pii_salt=pii_salt, workers=workers,
                          batch_size=batch_size)
    options.pii_policy()  # a hash policy without a salt fails here, before anything is listed
    return session_stream_resource(lambda: open_transport(credentials), options)


def session_stream_resource(connect: Callable[[], Transport], options: LoadOptions, stats: RunStats | None = None,
                            plan: Plan | None = None, progress: Any = None, file_format: Any = None,
                            close: bool = True) -> DltResource:
    """The one resource behind the source; the command line uses it with its own plan, statistics and connection.

    `connect` is called when dlt starts extracting; `plan` None plans from the ledger of the pipeline that
    runs the resource; `close` False leaves the connection open for the caller (the command line reuses it
    when it has to load a refused package again in parts).
    """

    def items() -> Iterator[Any]:
        pipeline = dlt.current.pipeline()
        transport = connect()
        run_stats = stats if stats is not None else RunStats()
        spool = Path(tempfile.mkdtemp(prefix="spool-", dir=pipeline.working_dir))
        try:
            todo = plan if plan is not None else plan_files(transport, pipeline, options, run_stats)
            if todo.files:
                yield from file_items(todo, transport, options, run_stats, spool, pipeline, progress)
        finally:
            shutil.rmtree(spool, ignore_errors=True)
            if close:
                transport.close()

    return dlt.resource(items(), name="session_stream", file_format=file_format)
