"""What the command line does after parsing flags: resolve settings, connect, load, summarise, pick the exit code.

Errors a user can act on are printed as one line naming the file or setting and what to do; a traceback
is shown only with SESSION_STREAM_DEBUG=1, for bugs.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from dlt_pipeline import exit_codes as codes
from dlt_pipeline import run_history, startup_gc, termination
from dlt_pipeline.duckdb_access import DuckDBLocked, is_lock_error, locked_message, release_held, wait_for_file
from dlt_pipeline.exception_chain import chain_has, first_line, root_cause
from dlt_pipeline.head_start import planned
from dlt_pipeline.lock import LockBusy
from dlt_pipeline.metadata_api import MetadataApiConfig, MetadataConfigError
from dlt_pipeline.metadata_refresh import FAILED, OK, RefreshOutcome, api_config, personal_target_ids, refresh
from dlt_pipeline.scheduled_run import make_pipeline, run_load
from dlt_pipeline.session_stream.identity import SourceMismatch
from dlt_pipeline.session_stream.ledger import close_kept, raw_counts
from dlt_pipeline.session_stream.plan_events import listening
from dlt_pipeline.session_stream.run_stats import RunStats, StrictModeFailure
from dlt_pipeline.session_stream.transport import TransportError, open_transport
from dlt_pipeline.settings import PII_AUTO, Settings, require_source, resolve

log = logging.getLogger("session_stream")
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = Path("demo_data")
DEMO_ACCOUNT = 1234
DEMO_DUCKDB = "demo.duckdb"
"""The demo's DuckDB file, in DEMO_DIR: never the file a real load writes (README, Quick start)."""
DEMO_PARAMS: dict[str, Any] = {"account_id": DEMO_ACCOUNT, "start_date": "2026-11-01", "days": 1,
                               "sessions_per_day": 20_000, "files_per_window": 2, "seed": 7, "redeliver": 1,
                               "reemit": 0.05}
"""The demo's sample day; the metadata catalog is built from the same parameters, so its ids match."""


class _Progress:
    """A files progress bar on interactive terminals; elsewhere (cron, CI logs) one log line per day folder.

    A scheduled run writes to a log file that nobody watches live: without a line per day folder, a long
    backfill said nothing until its summary. The lines go through logging (dated; `-q` hides them).
    """

    def __init__(self, files: list[Any], stats: RunStats | None = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.stats, self.total, self.done, self.started = stats, len(files), 0, time.monotonic()
        self.day: Any = None
        self.day_files = self.day_sessions = 0
        self.seen = stats.sessions if stats else 0
        self.lines = not err.is_terminal
        self.bar = Progress(TextColumn("loading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=err, transient=True, disable=self.lines)
        self.task = self.bar.add_task("files", total=len(files))
        self.bar.start()

    def advance(self, file: Any) -> None:  # noqa: ANN401 - a plan.Candidate, whose rows are counted already
        self.bar.advance(self.task)
        if not self.lines:
            return
        day = getattr(file, "day", None)
        if day != self.day:
            self._day_line()
            self.day, self.day_files, self.day_sessions = day, 0, 0
        now = self.stats.sessions if self.stats else 0
        self.day_files, self.day_sessions, self.seen = self.day_files + 1, self.day_sessions + now - self.seen, now
        self.done += 1

    def _day_line(self) -> None:
        if self.day is not None:
            log.info("day folder %s read: %d file(s), %s sessions (%d of %d files, %.1f s elapsed)", self.day,
                     self.day_files, f"{self.day_sessions:,}", self.done, self.total, time.monotonic() - self.started)
        self.day = None

    def close(self) -> None:
        self.bar.stop()
        if self.lines:
            self._day_line()


def summarise(stats: RunStats, settings: Settings) -> None:
    """Tell the user what this run did, in terms of their files."""
    where = settings.duckdb_path if settings.destination == "duckdb" else settings.destination
    days = f"{stats.days[0]} .. {stats.days[1]}" if stats.days else "nothing to list"
    rate = stats.sessions / stats.seconds if stats.seconds else 0.0
    out.print(f"[bold]Session Stream load[/] into {where} (dataset {settings.dataset_name}), day folders {days}")
    out.print(f"  files listed {stats.listed}, already loaded {stats.skipped_known}, loaded now {stats.files_loaded}, "
              f"quarantined {len(stats.files_quarantined)}, "
              f"waiting (too young / still uploading) {len(stats.waiting)}, unreadable {len(stats.unreadable)}, "
              f"quarantined earlier and not retried {stats.skipped_quarantined}")
    if stats.changed:
        out.print(f"  [yellow]{len(stats.changed)} file(s) changed on the server since they were loaded; reloaded[/] "
                  "(their new rows replace the earlier ones): " + escape(", ".join(stats.changed[:5]))
                  + (" ..." if len(stats.changed) > 5 else ""))
    if stats.retried:
        out.print(f"  {stats.retried} file(s) quarantined or unreadable before were tried again")
    if settings.archive:
        out.print(f"  {stats.files_archived} file(s) archived in {escape(settings.archive)}")
    out.print(f"  sessions loaded {stats.sessions:,}, lines quarantined {stats.rejected_lines:,}, "
              f"{stats.bytes_read / 1e6:.1f} MB read in {stats.seconds:.1f} s ({rate:,.0f} sessions/s)")
    for path, reason in stats.files_quarantined[:10]:
        out.print(f"  [yellow]quarantined file[/] {path}: {reason}")
    for path, reason in stats.unreadable[:10]:
        out.print(f"  [yellow]unreadable file[/] {path}: {reason}")
    for path in stats.odd_names[:10]:
        out.print(f"  [yellow]loaded, but the name does not follow the vendor's pattern[/] {path} "
                  "(no window start; see session_stream_files.reason)")
    for path, line, reason in stats.reject_examples:
        out.print(f"  [yellow]quarantined line[/] {path}:{line}: {reason}")
    if stats.rejected_lines > len(stats.reject_examples):
        out.print("  (all quarantined lines are in the session_stream_rejects table)")
    from dlt_pipeline.completeness import run_notes  # completeness scan and retention guard

    for note in run_notes(stats):
        out.print(f"  {note}")


def _exit_code(stats: RunStats) -> int:
    if stats.fatal:
        return codes.EXIT_ERROR
    if stats.files_quarantined or stats.rejected_lines or stats.unreadable:
        return codes.EXIT_QUARANTINED
    return codes.EXIT_OK


def _cli_values(args: argparse.Namespace) -> dict[str, Any]:
    values = dict(vars(args))
    values.pop("quiet", None)
    return values


def execute(args: argparse.Namespace) -> int:
    """Run the loader for parsed arguments and return the process exit code."""
    try:
        settings = resolve(_cli_values(args))
        require_source(settings)
        if settings.json:
            out.file = sys.stderr  # --json: stdout carries the one JSON object (run_history.print_json) only
        if settings.demo or settings.check or settings.publish:
            startup_gc.resume()  # real work ahead; only a scheduled load may stay paused until its plan
        if settings.demo:
            use_demo_files(settings, args)
            return run_history.finish(settings, run_demo(settings))
        if settings.check:
            from dlt_pipeline import completeness

            return completeness.run(settings)
        if settings.publish:
            from dlt_pipeline import publish_command

            return publish_command.run(settings, out.print, lambda line: err.print(f"[red]error:[/] {escape(line)}"))
        try:
            meta: MetadataApiConfig | MetadataConfigError = api_config(settings)
        except MetadataConfigError as exc:
            meta = exc  # reported after the session load, which it must not block
        return run_history.finish(settings, run_with_metadata(settings, meta))
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        if getattr(args, "json", False):
            run_history.print_json(run_history.usage_error(str(exc)))
        return codes.EXIT_USAGE
    finally:
        close_kept()  # normally closed by run_history.finish already; here also when a run raised


def run_with_metadata(settings: Settings, meta: MetadataApiConfig | MetadataConfigError) -> int:
    """The session load, then the metadata refresh when the API is configured and due (or forced).

    A failed refresh never touches the session load: that one has finished (and committed) before the
    refresh starts. Its problem is printed, and turns an otherwise clean exit (0) into EXIT_METADATA; a
    session load that exited non-zero keeps its own code, which is about the data. A broken API
    configuration is a usage error (2) when the run is about metadata (`--metadata-only`,
    `--refresh-metadata`, `--pii-target-ids auto`), else it is reported like a failed refresh.
    """
    if isinstance(meta, MetadataConfigError):
        if settings.metadata_only or settings.refresh_metadata or settings.pii_target_ids == [PII_AUTO]:
            raise meta
        code = load_once(settings)
        if code in (codes.EXIT_OK, codes.EXIT_QUARANTINED):
            report_refresh(RefreshOutcome(FAILED, str(meta)))
        return _metadata_exit(RefreshOutcome(FAILED), code)
    if (settings.metadata_only or settings.refresh_metadata) and not meta.configured:
        flag = "--metadata-only" if settings.metadata_only else "--refresh-metadata"
        raise ValueError(f"{flag} needs the Metadata API: set SESSION_STREAM__METADATA_API__RETAILER, "
                         "..._API_USERNAME and ..._PRIVATE_KEY (or ..._PRIVATE_KEY_PATH); see docs/metadata_api.md")
    if settings.metadata_only or settings.pii_target_ids == [PII_AUTO]:
        startup_gc.resume()  # a refresh before (or instead of) the load
    if settings.metadata_only:
        return _metadata_exit(report_refresh(refresh(settings, meta, force=True)), codes.EXIT_OK)
    before: RefreshOutcome | None = None
    if settings.pii_target_ids == [PII_AUTO]:
        before, stop = _auto_pii_targets(settings, meta)
        if stop is not None:
            return stop
    code = load_once(settings)
    if not meta.configured or code not in (codes.EXIT_OK, codes.EXIT_QUARANTINED):
        return code
    if before is not None and before.status == OK and not settings.refresh_metadata:
        return code  # refreshed just before the load (for --pii-target-ids auto)
    close_kept()  # the refresh opens the warehouse itself
    startup_gc.resume()
    return _metadata_exit(report_refresh(refresh(settings, meta, force=settings.refresh_metadata)), code)


def _metadata_exit(outcome: RefreshOutcome, code: int) -> int:
    return codes.EXIT_METADATA if outcome.status == FAILED and code == codes.EXIT_OK else code


def _auto_pii_targets(settings: Settings, meta: MetadataApiConfig) -> tuple[RefreshOutcome | None, int | None]:
    """`--pii-target-ids auto`: the ids the metadata marks personal, from a refresh made now if one is due.

    Refreshing before the load (when due) means a target newly marked `collects_person_id` is protected in
    this run already. Without any successful refresh the load stops: guessing would load personal data.
    """
    if settings.pii_mode == "keep":
        settings.pii_target_ids = None  # keep applies to nothing, so there is nothing to look up
        return None, None
    outcome = report_refresh(refresh(settings, meta, force=settings.refresh_metadata)) if meta.configured else None
    ids = personal_target_ids(settings)
    if ids is None:
        if outcome is None:
            raise ValueError("--pii-target-ids auto needs the Metadata API (SESSION_STREAM__METADATA_API__*, see "
                             "docs/metadata_api.md): it takes the custom target ids the API marks as personal")
        err.print("[red]error:[/] --pii-target-ids auto needs one successful metadata refresh; no sessions were "
                  "loaded (fix the metadata problem above, or list the ids with --pii-target-ids)")
        return outcome, codes.EXIT_METADATA
    if ids:
        settings.pii_target_ids = ids
        out.print(f"  --pii-target-ids auto: --pii-mode {settings.pii_mode} applies to custom target(s) "
                  f"{', '.join(ids)} (marked personal by the Metadata API)")
    else:
        settings.pii_target_ids, settings.pii_mode = None, "keep"
        out.print("  --pii-target-ids auto: the Metadata API marks no custom target as personal; values are kept")
    return outcome, None


def report_refresh(outcome: RefreshOutcome) -> RefreshOutcome:
    """One or two lines about the metadata refresh; a failure on stderr, saying the session data is unaffected."""
    run_history.note_metadata(outcome)
    if outcome.status == OK:
        rows = ", ".join(f"{t.removeprefix('metadata_').replace('_', ' ')} {n:,}" for t, n in outcome.counts.items())
        out.print(f"[bold]Metadata API refresh[/]: {escape(rows)} ({outcome.seconds:.1f} s)")
    elif outcome.status == FAILED:
        err.print(f"[red]metadata error:[/] {escape(outcome.message)}")
        out.print("Metadata API refresh failed; session data is unaffected (names stay as they were)")
    else:
        last = outcome.last_ok.strftime("%Y-%m-%d %H:%M UTC") if outcome.last_ok else "never"
        out.print(f"Metadata API refresh: not due (last {last}; --refresh-metadata forces it)")
    return outcome


def _failed(code: int, text: str) -> int:
    """Print a failed load's message (rich markup) and note it for the run history; returns `code`."""
    err.print(text)
    run_history.loaded(code, first_line(Text.from_markup(text).plain.removeprefix("error: "), 1000))
    return code


def load_once(settings: Settings) -> int:
    stats = run_history.begin(settings)  # recorded in session_stream_runs whatever happens (run_history.py)
    try:
        transport = open_transport(settings.credentials())
    except TransportError as exc:
        return _failed(codes.EXIT_ERROR, f"[red]error:[/] {escape(str(exc))}")
    try:
        if settings.destination == "duckdb":  # the probe's connection is reused by the plan's (duckdb_access.py)
            wait_for_file(settings.duckdb_path, settings.lock_wait_seconds, "loading", notify=err.print, hold=True)
        with listening(planned):  # parser start, or the plan's connection kept for the history row
            stats = run_load(settings, transport, partial(_Progress, stats=stats), stats)
    except (LockBusy, DuckDBLocked) as exc:
        return _failed(codes.EXIT_LOCKED, f"[red]error:[/] {escape(str(exc))}")
    except termination.Terminated:
        return _failed(codes.EXIT_TERMINATED, f"[red]error:[/] {termination.MESSAGE}")
    except TransportError as exc:
        return _failed(codes.EXIT_ERROR, f"[red]error:[/] {escape(str(exc))}")
    except Exception as exc:  # noqa: BLE001 - turn dlt's wrapped errors into one actionable line
        root = root_cause(exc, (StrictModeFailure, TransportError, LockBusy))
        if chain_has(exc, termination.is_termination):  # dlt's own SIGTERM handling, during normalize or load
            return _failed(codes.EXIT_TERMINATED, f"[red]error:[/] {termination.MESSAGE}")
        if isinstance(root, SourceMismatch):  # a different account than the dataset holds: nothing was listed
            return _failed(codes.EXIT_USAGE, f"[red]error:[/] {escape(str(root))}")
        if isinstance(root, StrictModeFailure):
            return _failed(codes.EXIT_STRICT, f"[red]--strict:[/] {escape(str(root))}; nothing was loaded. Fix or "
                           "remove the file, or run without --strict to quarantine it and load the rest.")
        if is_lock_error(root):  # a reader opened the file after our check
            return _failed(codes.EXIT_LOCKED, "[red]error:[/] " + escape(locked_message(
                settings.duckdb_path, str(root), 0, "finishing the load", "nothing is lost: the next run finishes "
                "or plans again what this one started")))
        if isinstance(root, (TransportError, LockBusy)):
            return _failed(codes.EXIT_ERROR, f"[red]error:[/] {escape(str(root))}")
        if os.environ.get("SESSION_STREAM_DEBUG"):
            raise
        first = escape(first_line(root, 400, default=""))
        return _failed(codes.EXIT_ERROR, f"[red]error:[/] the load failed: {type(root).__name__}: "
                       f"{first}\n  Nothing is lost: a package that reached the warehouse is finished "
                       "by the next run, anything else is planned again. Set SESSION_STREAM_DEBUG=1 for the full "
                       "traceback.")
    finally:
        release_held()  # normally released by run_load already; here also when the run stopped before
        transport.close()
    summarise(stats, settings)
    if stats.fatal:
        err.print(f"[red]error:[/] {escape(stats.fatal)}")
    code = _exit_code(stats)
    run_history.loaded(code)
    return code


def use_demo_files(settings: Settings, args: argparse.Namespace) -> None:
    """The demo writes its own DuckDB file (./demo_data/demo.duckdb), never the one a real load uses.

    A demo that loaded its sample account into ./session_stream.duckdb (or the file SESSION_STREAM_DUCKDB /
    the config names) would put a second account into the real dataset. Only --duckdb-path and
    --pipelines-dir on the command line choose other places for it.
    """
    if getattr(args, "duckdb_path", None) is None:
        settings.duckdb_path = str((DEMO_DIR / DEMO_DUCKDB).resolve())
    if getattr(args, "pipelines_dir", None) is None:
        settings.pipelines_dir = None  # beside the demo's file, never the real load's working folder


def run_demo(settings: Settings) -> int:
    """Generate a sample day, load it through the local-folder path, build the dbt project, summarise."""
    from dlt_pipeline.synthetic.generator import generate, session_stream_root

    root = session_stream_root(DEMO_DIR, DEMO_ACCOUNT)
    if not root.exists():
        out.print(f"generating a sample day of Session Stream files into {root} ...")
        generate(DEMO_DIR, **DEMO_PARAMS, truth_path=DEMO_DIR / "truth.json")
    settings.source = str(root)
    settings.min_file_age_seconds = 0
    settings.destination = "duckdb"
    code = load_once(settings)
    close_kept()  # dbt and the summary below open the DuckDB file themselves
    if code not in (codes.EXIT_OK, codes.EXIT_QUARANTINED):
        return code
    counts = raw_counts(make_pipeline(settings))
    out.print("  raw rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    if _demo_metadata(settings) == codes.EXIT_METADATA:
        code = codes.EXIT_METADATA if code == codes.EXIT_OK else code
    if not (REPO / "dbt_project.yml").exists():
        return code
    return run_dbt_and_summary(settings) or code


def _demo_metadata(settings: Settings) -> int:
    """Serve the generator's metadata from the stand-in API and refresh it through the real source.

    Two revisions (original names, then today's), so the renamed experiences have history in the demo too.
    """
    from datetime import date

    from dlt_pipeline.metadata_refresh import demo_refresh
    from dlt_pipeline.synthetic.generator import GeneratorConfig
    from dlt_pipeline.synthetic.metadata_catalog import metadata_catalog

    gen = GeneratorConfig(**{**DEMO_PARAMS, "start_date": date.fromisoformat(DEMO_PARAMS["start_date"])})
    out.print("refreshing names from a local stand-in of the Monetate Metadata API ...")
    outcomes = demo_refresh(settings, [metadata_catalog(gen, revision=0), metadata_catalog(gen, revision=1)])
    for outcome in outcomes:
        report_refresh(outcome)
    return codes.EXIT_METADATA if any(o.status == FAILED for o in outcomes) else codes.EXIT_OK


def run_dbt_and_summary(settings: Settings) -> int:
    """`dbt build` against the same DuckDB file, then a short summary from the marts."""
    profiles = REPO / "profiles.yml"
    profiles_dir = REPO if profiles.exists() else _demo_profiles_dir()
    env = {**os.environ, "SESSION_STREAM_DUCKDB": str(Path(settings.duckdb_path).resolve())}
    dbt = Path(sys.executable).with_name("dbt")
    try:
        wait_for_file(settings.duckdb_path, settings.lock_wait_seconds, "dbt build", notify=err.print)
    except DuckDBLocked as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        return codes.EXIT_LOCKED
    out.print("running dbt build ...")
    proc = subprocess.run([str(dbt), "build", "--profiles-dir", str(profiles_dir), "--project-dir", str(REPO),
                           "--target", "duckdb", "--quiet"], env=env, cwd=REPO)
    if proc.returncode != 0:
        err.print("[red]error:[/] dbt build failed (output above)")
        return codes.EXIT_ERROR
    from dlt_pipeline.mart_summary import print_summary

    print_summary(settings.duckdb_path)
    from dlt_pipeline import publish_command

    settings.publish = str(DEMO_DIR / "publish")  # extracts for Tableau / Domo (docs/publishing.md)
    return publish_command.run(settings, out.print, lambda line: err.print(f"[red]error:[/] {escape(line)}"))


def _demo_profiles_dir() -> Path:
    """dbt needs a profiles.yml; the demo uses the example one unchanged (DuckDB target)."""
    target = REPO / ".dbt_demo"
    target.mkdir(exist_ok=True)
    (target / "profiles.yml").write_text((REPO / "profiles.example.yml").read_text())
    return target
