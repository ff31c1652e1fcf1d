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
ledger `session_stream_files`, in one load package, which also carries the run's own row in
`session_stream_runs` (`run_row`; a run with nothing new loads that row alone). A second run loads nothing
new; a late file loads once.
"""

from __future__ import annotations

from dlt_pipeline.lazy_exports import lazy_getattr

__all__ = ["LoadOptions", "RunStats", "SftpCredentials", "session_stream", "session_stream_resource"]

_HOME = {"LoadOptions": "options", "RunStats": "run_stats", "SftpCredentials": "config",
         "session_stream": "source", "session_stream_resource": "source"}
"""Where each public name lives. Imported on first use (PEP 562), not with the package: a run with nothing new
imports only the ledger and listing modules, not the parser, Arrow and dlt's extract machinery (docs/benchmark.md)."""


__getattr__ = lazy_getattr(__name__, _HOME)
