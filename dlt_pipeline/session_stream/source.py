"""The `session_stream` dlt source and its one resource (the package docstring describes the flow)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.extract.resource import DltResource

from dlt_pipeline.session_stream.config import SftpCredentials
from dlt_pipeline.session_stream.extract import file_items
from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.session_stream.plan import Plan, plan_files
from dlt_pipeline.session_stream.run_row import TimedTransport, run_item
from dlt_pipeline.session_stream.run_stats import RunStats
from dlt_pipeline.session_stream.spool_folders import DOWNLOAD_PREFIX, make_folder
from dlt_pipeline.session_stream.supersede import remove_superseded_rows
from dlt_pipeline.session_stream.transport import Transport, open_transport
from dlt_pipeline.settings import for_source


@configspec
class _NoInjection(BaseConfiguration):
    """The source's spec: dlt injects no argument; `settings.for_source` resolves them from `[session_stream]`.

    dlt's own injection would read `sources.session_stream.*`, a second configuration beside the command
    line's: `SESSION_STREAM__PII_MODE=hash` would then be ignored here and personal data land in clear.
    """


@dlt.source(name="session_stream", section="session_stream", spec=_NoInjection)
def session_stream(
    credentials: SftpCredentials | str | None = None,
    private_key: str | None = None,
    known_hosts: str | None = None,
    trust_host_key: str | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    lookback_days: int | None = None,
    min_file_age_seconds: int | None = None,
    retry_quarantined: bool | None = None,
    pii_mode: str | None = None,
    pii_target_ids: list[str] | None = None,
    pii_salt: str | None = None,
    workers: int | None = None,
    batch_size: int | None = None,
    completeness_days: int | None = None,
    retention_warn_days: int | None = None,
    archive: str | None = None,
) -> DltResource:
    """Every Session Stream file not yet in this pipeline's ledger, as raw tables, rejects and ledger rows.

    `credentials` is the account folder's URL (`sftp://USER@HOST[:PORT]/ACCOUNT/raw_data/session_stream` or
    a local folder) or a full `SftpCredentials`. Every argument left None comes from the same configuration
    the command line reads (`[session_stream]` in `.dlt/config.toml` / `.dlt/secrets.toml`, or
    `SESSION_STREAM__<NAME>`; docs/configuration.md), so secrets (`SESSION_STREAM__SFTP_PASSWORD`,
    `..._PRIVATE_KEY_PASSPHRASE`, `..._PII_SALT`) need no argument. The arguments mean what the command
    line's options of the same names mean; `archive` is `--archive`. Values are checked like the command
    line's (ValueError, one line naming the argument or setting). The resource carries what it resolved:
    `source.resources["session_stream"].load_options` and `.sftp_credentials`.
    """
    arguments = {k: v for k, v in locals().items() if k != "credentials"}
    settings = for_source(credentials, arguments)
    options, creds = settings.load_options(), settings.credentials()
    options.pii_policy()  # a hash policy without a salt fails here, before anything is listed
    resource = session_stream_resource(lambda: open_transport(creds), options)
    resource.load_options, resource.sftp_credentials = options, creds  # what it will use, to inspect before a run
    return resource


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
        # downloads and parsed batches; a killed run's folder is removed by the next run (spool_folders.py)
        spool = make_folder(Path(pipeline.working_dir), DOWNLOAD_PREFIX)
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
