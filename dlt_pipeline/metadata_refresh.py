"""The command line's metadata refresh: when it is due, running `monetate_metadata`, and its bookkeeping.

The metadata goes through its own dlt pipeline (`<pipeline_name>_metadata`, same destination and dataset):
a failed refresh can then never leave a pending package that the session loader would have to finish, and
the session pipeline's state and schema stay as they were. Every attempt adds a row to `metadata_refreshes`
(refreshed_at, status, message, rows per table) so "at most every N hours" and `--pii-target-ids auto` read
the warehouse, not a local file that a new machine would not have.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt

from dlt_pipeline.exception_chain import first_line, root_cause
from dlt_pipeline.lock import RunLock
from dlt_pipeline.metadata_api.config import MetadataApiConfig, MetadataConfigError, load_config
from dlt_pipeline.metadata_api.errors import MetadataApiError
from dlt_pipeline.scheduled_run import make_pipeline
from dlt_pipeline.session_stream.ledger import completed_loads, dataset_client, table_exists
from dlt_pipeline.settings import Settings

log = logging.getLogger("session_stream")

REFRESH_TABLE = "metadata_refreshes"
TARGETS_TABLE = "metadata_custom_targets"
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass
class RefreshOutcome:
    """What one refresh attempt did: `ok` (rows per table), `failed` (one-line message) or `skipped` (not due)."""

    status: str
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    last_ok: datetime | None = None


def api_config(settings: Settings) -> MetadataApiConfig:
    """The API settings (`SESSION_STREAM__METADATA_API__*`), with the loader's retries/backoff/timeout as defaults.

    Raises ValueError (exit code 2) when the API is partly configured or its base URL is not https.
    """
    config = load_config(defaults={"retries": settings.retries, "backoff": settings.backoff,
                                   "timeout": settings.timeout})
    if config.configured:
        config.check()
    return config


def metadata_settings(settings: Settings) -> Settings:
    """The session settings aimed at the metadata pipeline (same destination, dataset and working folder)."""
    return replace(settings, pipeline_name=f"{settings.pipeline_name}_metadata")


def metadata_pipeline(settings: Settings) -> dlt.Pipeline:
    return make_pipeline(metadata_settings(settings))


def last_ok_refresh(pipeline: dlt.Pipeline) -> datetime | None:
    """When the last successful refresh ran (None: never, or no table yet)."""
    with dataset_client(pipeline) as client:
        if client is None or not table_exists(client, REFRESH_TABLE):
            return None
        table = client.make_qualified_table_name(REFRESH_TABLE)
        rows = client.execute_sql(f"select max(refreshed_at) from {table} where status = '{OK}' "
                                  f"and {completed_loads(client)}")
    value = rows[0][0] if rows else None
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def personal_target_ids(settings: Settings) -> list[str] | None:
    """Custom target ids whose current metadata says `collects_person_id` or `is_identifier`, as the string keys
    Session Stream uses; None when no refresh has loaded the custom targets yet."""
    pipeline = metadata_pipeline(settings)
    if last_ok_refresh(pipeline) is None:
        return None
    with dataset_client(pipeline) as client:
        if client is None or not table_exists(client, TARGETS_TABLE):
            return []  # a refresh ran and the API has no custom targets
        table = client.make_qualified_table_name(TARGETS_TABLE)
        rows = client.execute_sql(f"select distinct id from {table} where _dlt_valid_to is null and "
                                  f"(collects_person_id or is_identifier) and {completed_loads(client)}")
    return sorted(str(int(r[0])) for r in rows or [])


def refresh(settings: Settings, config: MetadataApiConfig, force: bool = False) -> RefreshOutcome:
    """Refresh the metadata if forced or due (`metadata_refresh_hours`); never raises for API or load failures."""
    started = time.perf_counter()
    msettings = metadata_settings(settings)
    pipeline = make_pipeline(msettings)
    try:
        with RunLock(pipeline, msettings):
            last = last_ok_refresh(pipeline)
            due = last is None or datetime.now(UTC) - last >= timedelta(hours=settings.metadata_refresh_hours)
            if not (force or due):
                return RefreshOutcome(SKIPPED, last_ok=last)
            counts: dict[str, int] = {}
            from dlt_pipeline.metadata_api.source import monetate_metadata  # REST client: only when refreshing

            try:
                pipeline.run(monetate_metadata(config=config, counts=counts))
            except Exception as exc:  # noqa: BLE001 - every failure becomes one line and its own exit code
                pipeline.drop_pending_packages()  # nothing half-made is finished by a later run
                outcome = RefreshOutcome(FAILED, _message(exc), counts, time.perf_counter() - started, last)
            else:
                outcome = RefreshOutcome(OK, "", counts, time.perf_counter() - started, datetime.now(UTC))
            _record(pipeline, outcome)
            return outcome
    except Exception as exc:  # noqa: BLE001 - the lock or the bookkeeping failed: still not the session load's problem
        return RefreshOutcome(FAILED, _message(exc), {}, time.perf_counter() - started)


DEMO_RETAILER, DEMO_USERNAME = "demo", "demo-api-user"


def demo_refresh(settings: Settings, catalogs: list[dict[str, list[dict[str, Any]]]]) -> list[RefreshOutcome]:
    """The demo's metadata: the stand-in API on loopback with a fresh key pair, refreshed through the real source.

    `catalogs` are revisions in time order (the generator's original names, then the current ones): each is
    served and refreshed in turn, so the warehouse holds the renames as scd2 history. A warehouse that had a
    refresh already (an earlier demo) gets only the last revision, so repeated demos add no fake history.
    """
    from dlt_pipeline.synthetic.metadata_server import MetadataApiServer, demo_key_pair

    private, public = demo_key_pair()
    if last_ok_refresh(metadata_pipeline(settings)) is not None:
        catalogs = catalogs[-1:]
    outcomes: list[RefreshOutcome] = []
    with MetadataApiServer(catalogs[0], public, DEMO_USERNAME, DEMO_RETAILER) as api:
        config = MetadataApiConfig(base_url=api.base_url, retailer=DEMO_RETAILER, api_username=DEMO_USERNAME,
                                   private_key=private.decode(), retries=settings.retries,  # type: ignore[arg-type]
                                   backoff=settings.backoff, timeout=settings.timeout)
        for catalog in catalogs:
            api.catalog = catalog
            outcomes.append(refresh(settings, config, force=True))
            if outcomes[-1].status != OK:
                break
    return outcomes


def _record(pipeline: dlt.Pipeline, outcome: RefreshOutcome) -> None:
    """One `metadata_refreshes` row for the attempt (a failure to write it is logged, not raised)."""
    from dlt_pipeline.metadata_api.source import TABLES

    row: dict[str, Any] = {"refreshed_at": datetime.now(UTC), "status": outcome.status,
                           "message": outcome.message or None, "seconds": round(outcome.seconds, 3)}
    row |= {f"{t.removeprefix('metadata_')}_rows": outcome.counts.get(t) for t in TABLES}
    columns = [{"name": n, "data_type": "bigint"} for n in row if n.endswith("_rows")]
    columns += [{"name": "refreshed_at", "data_type": "timestamp", "nullable": False},
                {"name": "status", "data_type": "text", "nullable": False}, {"name": "message", "data_type": "text"},
                {"name": "seconds", "data_type": "double"}]
    resource = dlt.resource([row], name=REFRESH_TABLE, write_disposition="append", columns=columns)  # type: ignore[arg-type]
    try:
        pipeline.run(resource)
    except Exception as exc:  # noqa: BLE001
        pipeline.drop_pending_packages()
        log.warning("could not record the metadata refresh in %s: %s", REFRESH_TABLE, _message(exc))


def _message(exc: BaseException) -> str:
    """The one line to show: ours as it is, anything else as `Type: first line` (never a traceback)."""
    root = root_cause(exc, (MetadataApiError, MetadataConfigError))
    if isinstance(root, (MetadataApiError, MetadataConfigError)):
        return str(root)
    first = first_line(root, default="")
    return f"the metadata refresh failed: {type(root).__name__}: {first}"
