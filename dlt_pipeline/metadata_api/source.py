"""The `monetate_metadata` dlt source on dlt's REST client (the package docstring describes it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dlt
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue
from dlt.extract.resource import DltResource
from dlt.sources.helpers.requests.retry import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator
from requests import HTTPError

from dlt_pipeline.metadata_api import rows
from dlt_pipeline.metadata_api.auth import MonetateTokenAuth
from dlt_pipeline.metadata_api.config import MetadataApiConfig, MetadataConfigError, load_config
from dlt_pipeline.metadata_api.errors import MetadataApiError, MetadataApiRevoked, describe_status

SCD2: Any = {"disposition": "merge", "strategy": "scd2"}


@dataclass(frozen=True)
class _Endpoint:
    table: str
    path: str
    shape: Callable[[dict[str, Any]], dict[str, Any]]
    columns: dict[str, str]
    nested: dict[Any, dict[str, str]] | None = None


ENDPOINTS = (
    _Endpoint("metadata_accounts", "account", rows.account_row,
              {"id": "bigint", "type": "text", "kind": "text", "archived": "bool", "channel": "text", "name": "text",
               "preview_url": "text"}),
    _Endpoint("metadata_variants", "variant", rows.variant_row,
              {"id": "bigint", "account_domain": "text", "experience_id": "bigint", "experience_name": "text",
               "experience_type": "text", "split_name": "text", "split_description": "text",
               "preview_token": "text", "integration_type": "text"}),
    _Endpoint("metadata_experiences", "experience-summary", rows.experience_row,
              {"id": "bigint", "account_domain": "text", "experience_name": "text", "experience_type": "text",
               "archived": "bool", "create_time": "timestamp", "start_time": "timestamp", "end_time": "timestamp",
               "status": "text", "integration_type": "text"},
              {"splits": {"value": "bigint"}, "tags": {"value": "text"},
               "goals": {"key": "text", "name": "text", "description": "text"},
               "variant_splits": {"id": "bigint", "variant": "text", "split": "double", "label": "text",
                                  "is_control": "bool", "is_holdout": "bool", "test_group": "text"},
               ("variant_splits", "allocations"): {"variant": "text", "split": "double", "label": "text",
                                                   "split_id": "bigint"}}),
    _Endpoint("metadata_page_events", "pageevent", rows.page_event_row, {"id": "bigint", "title": "text"}),
    _Endpoint("metadata_custom_targets", "customtarget", rows.custom_target_row,
              {"id": "bigint", "title": "text", "description": "text", "is_identifier": "bool",
               "collects_person_id": "bool"}),
)
TABLES = tuple(e.table for e in ENDPOINTS)


@configspec
class _NoInjection(BaseConfiguration):
    """The source's spec: no argument is injected by dlt (see `config.py` for why), `load_config` reads them."""


def api_client(config: MetadataApiConfig) -> RESTClient:
    """dlt's REST client for the retailer's metadata base, with the token auth and dlt's retrying session."""
    config.check()
    http = Client(request_timeout=config.timeout, raise_for_status=False, request_max_attempts=config.retries + 1,
                  request_backoff_factor=config.backoff, request_max_retry_delay=60,
                  respect_retry_after_header=True).session
    host = config.base_url.rstrip("/")
    auth = MonetateTokenAuth(host=host, api_username=config.api_username,
                             private_key=config.private_key_pem().decode(),  # type: ignore[arg-type]
                             token_ttl=config.token_ttl, session=http)
    return RESTClient(base_url=f"{host}/api/metadata/v1/{config.retailer}/production/", auth=auth,
                      paginator=JSONLinkPaginator(next_url_path="meta.next"), data_selector="data", session=http)


def _translate(exc: HTTPError) -> MetadataApiError:
    response = exc.response
    if response is not None and response.status_code == 403:
        return MetadataApiRevoked()
    if response is None:
        return MetadataApiError(f"the Metadata API call failed: {type(exc).__name__}")
    path = response.url.split("/production/", 1)[-1].split("?", 1)[0] if response.url else "?"
    hint = {401: "the token was refused even after renewing it",
            429: "still too many requests after the retries; try later",
            404: "the retailer shortname (SESSION_STREAM__METADATA_API__RETAILER) or the path is unknown"}.get(
        response.status_code, "still failing after the retries" if response.status_code >= 500 else "")
    return MetadataApiError(f"the Metadata API answered {describe_status(response)} for {path}"
                            + (f": {hint}" if hint else ""))


def _resource(client: RESTClient, endpoint: _Endpoint, page_size: int, counts: dict[str, int]) -> DltResource:
    nested = {path: dlt.mark.make_nested_hints(columns=[{"name": c, "data_type": t} for c, t in cols.items()])
              for path, cols in (endpoint.nested or {}).items()}

    def pages() -> Iterator[list[dict[str, Any]]]:
        counts[endpoint.table] = 0
        try:
            for page in client.paginate(f"metadata/{endpoint.path}", params={"page_size": page_size}):
                shaped = [endpoint.shape(r) for r in page if isinstance(r, dict)]
                counts[endpoint.table] += len(shaped)
                if shaped:
                    yield shaped
        except HTTPError as exc:
            raise _translate(exc) from None

    columns = [{"name": c, "data_type": t, "nullable": c != "id"} for c, t in endpoint.columns.items()]
    return dlt.resource(pages, name=endpoint.table, write_disposition=SCD2, columns=columns,  # type: ignore[arg-type]
                        nested_hints=nested or None)


@dlt.source(name="monetate_metadata", section="session_stream", spec=_NoInjection, max_table_nesting=2)
def monetate_metadata(
    base_url: str | None = None,
    retailer: str | None = None,
    api_username: str | None = None,
    private_key: TSecretStrValue | None = None,
    private_key_path: str | None = None,
    page_size: int | None = None,
    config: MetadataApiConfig | None = None,
    counts: dict[str, int] | None = None,
) -> list[DltResource]:
    """Accounts, variants (splits), experience summaries, page events and custom targets, with scd2 history.

    Arguments left None come from dlt's providers at `session_stream.metadata_api.*` (env
    `SESSION_STREAM__METADATA_API__BASE_URL`, `..._RETAILER`, `..._API_USERNAME`, `..._PRIVATE_KEY` or
    `..._PRIVATE_KEY_PATH`); `config` replaces that lookup entirely. `counts`, if given, receives the rows
    read per table (the command line records them in `metadata_refreshes`).
    """
    if config is None:
        config = load_config(base_url=base_url, retailer=retailer, api_username=api_username,
                             private_key=private_key, private_key_path=private_key_path, page_size=page_size)
    if not config.configured:
        raise MetadataConfigError("the Metadata API is not configured: set SESSION_STREAM__METADATA_API__RETAILER, "
                                  "..._API_USERNAME and ..._PRIVATE_KEY (or ..._PRIVATE_KEY_PATH)")
    client = api_client(config)
    sink = counts if counts is not None else {}
    resources = [_resource(client, e, config.page_size, sink) for e in ENDPOINTS]
    for resource in resources:
        resource.api_config = config  # what it resolved, to inspect before a run (repr hides the key)
    return resources
