"""The `session_stream` dlt source and its one resource (the package docstring describes the flow)."""

from __future__ import annotations

import shutil
import tempfile
import time
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
from dlt_pipeline.session_stream.run_row import TimedTransport, run_item
from dlt_pipeline.session_stream.run_stats import RunStats
from dlt_pipeline.session_stream.supersede import remove_superseded_rows
from dlt_pipeline.session_stream.transport import Transport, open_transport


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
    completeness_days: int = 7,
    retention_warn_days: int = 30,
    archive: str | None = None,
) -> DltResource:
    """Every Session Stream file not yet in this pipeline's ledger, as raw tables, rejects and ledger rows.

    `credentials` is the account folder's URL (`sftp://USER@HOST[:PORT]/ACCOUNT/raw_data/session_stream` or
    a local folder) or a full `SftpCredentials`; `private_key`, `known_hosts` and `trust_host_key` override
    its fields. Secrets (password, key passphrase, PII salt) come from dlt's providers, e.g.
    `SOURCES__SESSION_STREAM__CREDENTIALS__PASSWORD`. The other arguments mean what the command line's
    options of the same names mean (`python dlt_pipeline/run.py --help`); `archive` is `--archive`.
    """
    for name, value in (("private_key", private_key), ("known_hosts", known_hosts),
                        ("trust_host_key", trust_host_key)):
        if value is not None:
            setattr(credentials, name, value)
    options = LoadOptions(start_date=start_date, end_date=end_date, lookback_days=lookback_days,
                          min_file_age_seconds=min_file_age_seconds, retry_quarantined=retry_quarantined,
                          pii_mode=pii_mode, pii_target_ids=pii_target_ids, pii_salt=pii_salt, workers=workers,
                          batch_size=batch_size, archive=archive, completeness_days=completeness_days,
                          retention_warn_days=retention_warn_days)
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
        run_stats = stats if stats is not None else RunStats()
        transport = TimedTransport(connect(), run_stats)
        run_stats.source = transport.description
        spool = Path(tempfile.mkdtemp(prefix="spool-", dir=pipeline.working_dir))
        try:
            todo = plan
            if todo is None:  # the command line plans (and times the listing) itself
                remove_superseded_rows(pipeline)  # earlier rows of files the last run loaded again (supersede.py)
                listing = time.perf_counter()
                todo = plan_files(transport, pipeline, options, run_stats)
                run_stats.list_seconds += time.perf_counter() - listing
            if todo.files:
                yield from file_items(todo, transport, options, run_stats, spool, pipeline, progress)
            if run_stats.history_load_id is None:  # this run's history row, in the package of its data
                yield run_item(run_stats, options, pipeline)
        finally:
            shutil.rmtree(spool, ignore_errors=True)
            if close:
                transport.close()

    return dlt.resource(items(), name="session_stream", file_format=file_format)
