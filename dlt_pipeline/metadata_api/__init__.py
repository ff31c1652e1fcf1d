"""The `monetate_metadata` dlt source: names for the ids in Session Stream, from Monetate's Metadata API.

    import dlt
    from dlt_pipeline.metadata_api import monetate_metadata

    pipeline = dlt.pipeline("monetate_metadata", destination="duckdb", dataset_name="monetate_raw")
    pipeline.run(monetate_metadata())  # settings from SESSION_STREAM__METADATA_API__* / .dlt/*.toml

Built like dlt's `rest_api` source on its REST client: a JSON-link paginator following `meta.next`, `data` as the
data selector, `page_size=1000`, dlt's retrying session (429 and 5xx retried with exponential backoff), and
`MonetateTokenAuth` for the vendor's JWT → token flow. Five resources, one table each (the raw tables section of
`docs/metadata_api.md`): `metadata_accounts`, `metadata_variants`, `metadata_experiences` (with
child tables `__splits`, `__tags`, `__goals`, `__variant_splits`, `__variant_splits__allocations`),
`metadata_page_events`, `metadata_custom_targets`. Root tables keep history with dlt's `scd2` strategy: names
change in the vendor UI while ids never do, so each change closes the old version (`_dlt_valid_to`) and adds a
new one. Every refresh reads every list in full (absent rows are retired, i.e. closed).

A 403 raises `MetadataApiRevoked` (a person must issue a new key); anything else the API refuses raises
`MetadataApiError`. Both carry a one-line message with no key or token in it.
"""

from __future__ import annotations

from dlt_pipeline.lazy_exports import lazy_getattr

__all__ = ["MetadataApiConfig", "MetadataApiError", "MetadataApiRevoked", "MetadataConfigError", "TABLES",
           "api_client", "load_config", "monetate_metadata"]

_HOME = {"MetadataApiConfig": "config", "MetadataConfigError": "config", "load_config": "config",
         "MetadataApiError": "errors", "MetadataApiRevoked": "errors",
         "TABLES": "source", "api_client": "source", "monetate_metadata": "source"}
"""Where each public name lives, imported on first use (PEP 562): every loader run reads the API settings, but only
a refresh needs dlt's REST client and requests (docs/benchmark.md)."""


__getattr__ = lazy_getattr(__name__, _HOME)
