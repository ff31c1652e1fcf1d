"""What the command line does the moment a scheduled run's plan is known: the source announces the plan
(`session_stream/plan_events.py`), `command.load_once` listens with `planned` during its load.

Two savings for the command line's runs only, so a user's own pipeline and the unit tests never see them:

- Files to load: the parser's forkserver starts at once. It imports the parser (pyarrow, ~0.5-1 s) before
  the first worker can fork from it; started here, that import runs on the other core while this process
  imports the same modules and sets up dlt's extract, instead of after the first file was downloaded
  (extract 3.2-3.7 s → 2.6-2.7 s at 10k sessions, docs/benchmark.md). `ParsePool` then finds it running.
- Nothing to load: the plan's connection (`ledger.shared_client`) stays open for the run's history row,
  which otherwise resolved dlt's destination configuration and opened the database again for one INSERT
  (0.11 s → 0.02 s of a ~1.5 s run). `run_history.finish` closes it (`ledger.close_kept`).
"""

from __future__ import annotations

from typing import Any

PARSER_MODULE = "dlt_pipeline.session_stream.workers"
"""What the forkserver preloads; the same list `workers.ParsePool` sets, so it finds this server running."""


def planned(pipeline: Any, files: int, workers: int) -> None:
    """Heard when the plan is known, with the number of files to load and the parser workers to use."""
    if files:
        start_parser(workers)
    else:
        from dlt_pipeline.session_stream.ledger import keep_shared

        keep_shared(pipeline)


def start_parser(workers: int) -> None:
    """Start the parser's forkserver (nothing for `--workers 0`). Not waiting for its imports to finish."""
    if workers <= 0:
        return
    import multiprocessing
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload([PARSER_MODULE])
    forkserver.ensure_running()
