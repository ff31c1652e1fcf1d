"""Command line: the options, --help and exit codes of `python dlt_pipeline/run.py` (`session-stream-load`)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import NoReturn

from dlt_pipeline.exit_codes import (
    EXIT_ERROR,
    EXIT_INCOMPLETE,
    EXIT_LOCKED,
    EXIT_METADATA,
    EXIT_OK,
    EXIT_QUARANTINED,
    EXIT_STRICT,
    EXIT_TERMINATED,
    EXIT_USAGE,
)

EPILOG = f"""\
Every option can also be set in .dlt/config.toml under [session_stream] (e.g. lookback_days = 3) or as an
environment variable SESSION_STREAM__<OPTION> (e.g. SESSION_STREAM__LOOKBACK_DAYS=3); flags win. The same
settings apply when the session_stream dlt source runs in your own pipeline. Every setting, its variable,
toml key and default: docs/configuration.md. Secrets have no flag:
  SESSION_STREAM__SFTP_PASSWORD            SFTP password (when not using a key)
  SESSION_STREAM__PRIVATE_KEY_PASSPHRASE   passphrase of an encrypted private key
  SESSION_STREAM__PII_SALT                 secret salt for --pii-mode hash
or the same names in .dlt/secrets.toml. The Monetate Metadata API (names for split, page event and custom
target ids; docs/metadata_api.md) is used when configured:
  SESSION_STREAM__METADATA_API__RETAILER, ..._API_USERNAME, ..._PRIVATE_KEY (PEM text, secret) or
  ..._PRIVATE_KEY_PATH, ..._BASE_URL (default https://api.monetate.net)
PostgreSQL/Redshift credentials use dlt's own settings, e.g.
DESTINATION__POSTGRES__CREDENTIALS=postgresql://user@host:5432/db (password via .dlt/secrets.toml).

Exit codes: {EXIT_OK} all new files loaded; {EXIT_QUARANTINED} loaded, but some files or lines were quarantined
(see the session_stream_rejects table) or a file could not be read (tried again next run);
{EXIT_STRICT} --strict and something needed quarantine (nothing loaded); {EXIT_LOCKED} another run is in
progress, or another program (a BI tool) held the DuckDB file for longer than --lock-wait-seconds (the message
names it; nothing was loaded); {EXIT_USAGE} bad options (also no --source); {EXIT_ERROR} any other failure (the
message says what to do);
{EXIT_METADATA} the sessions loaded (or there was nothing new) but the metadata refresh failed (the message says
why; a revoked API key needs a person to issue a new one); {EXIT_INCOMPLETE} --check found a window without a file,
a file not loaded (quarantined, unreadable, or waiting over 2 hours) or files close to the vendor's deletion;
{EXIT_TERMINATED} stopped by SIGTERM (nothing half-loaded: the next run resumes).
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line naming the option, like the loader's own messages, instead of the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python dlt_pipeline/run.py",
        description="Load every new Monetate Session Stream file from SFTP (or a local folder) into DuckDB, "
                    "PostgreSQL or Redshift, exactly once.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _source_and_destination(p)
    behaviour = _selection_and_behaviour(p)
    _metadata(p, behaviour)
    _publish_and_monitoring(p, behaviour)
    return p


def _source_and_destination(p: argparse.ArgumentParser) -> None:
    """Where the files come from and which warehouse they go to."""
    src = p.add_argument_group("source")
    src.add_argument("--source", help="sftp://USER@HOST[:PORT]/ACCOUNT/raw_data/session_stream, or a local folder "
                                      "with the same YYYY/MM/DD layout")
    src.add_argument("--private-key", metavar="PATH", help="SSH private key for the SFTP user")
    src.add_argument("--known-hosts", metavar="PATH",
                     help="known_hosts file used to verify the server (default ~/.ssh/known_hosts)")
    src.add_argument("--trust-host-key", metavar="FINGERPRINT",
                     help="accept the server only if its key has this fingerprint, SHA256:<base64> as ssh-keygen -lf "
                          "prints it (instead of known_hosts)")
    dst = p.add_argument_group("destination")
    dst.add_argument("--destination", choices=["duckdb", "postgres", "redshift"], help="warehouse (default duckdb)")
    dst.add_argument("--duckdb-path", metavar="PATH",
                     help="DuckDB file (default: $SESSION_STREAM_DUCKDB, else ./session_stream.duckdb; "
                          "dbt's duckdb target reads the same)")
    dst.add_argument("--dataset-name", help="schema for the raw tables (default monetate_raw)")


def _selection_and_behaviour(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Which files a run loads and how; returns the behaviour group, which later groups' options join."""
    sel = p.add_argument_group("what to load")
    sel.add_argument("--start-date", type=_date, metavar="YYYY-MM-DD",
                     help="first day folder to list (backfill); default: last loaded day minus the look-back, or "
                          "the earliest day on the server on a first run")
    sel.add_argument("--end-date", type=_date, metavar="YYYY-MM-DD", help="last day folder to list (default today)")
    sel.add_argument("--lookback-days", type=int, metavar="N",
                     help="days before the last loaded day to re-list for late files (default 2: covers the 12-hour "
                          "session tail and late deliveries; at most 3650)")
    sel.add_argument("--min-file-age-seconds", type=int, metavar="S",
                     help="skip files modified less than S seconds ago: they may still be uploading (default 120)")
    sel.add_argument("--reload", action="store_true",
                     help="load the --start-date..--end-date files again even if the ledger has them; the new rows "
                          "replace the file's earlier rows (removed once the new load completed)")
    sel.add_argument("--archive", metavar="DEST",
                     help="keep every loaded file byte for byte under DEST/ACCOUNT/raw_data/session_stream/YYYY/MM/DD "
                          "(a folder or an fsspec URL: s3://, gs://, az://, file://; docs/archive.md); replay with "
                          "--source DEST/ACCOUNT/raw_data/session_stream")
    sel.add_argument("--completeness-days", type=int, metavar="N",
                     help="also list, at most hourly, the day folders of the last N days that the look-back no longer "
                          "reaches, and load late files found there (default 7; 0 = off)")
    sel.add_argument("--retry-quarantined", action="store_true", help="try quarantined files again (after a fix)")
    beh = p.add_argument_group("behaviour")
    beh.add_argument("--strict", action="store_true", help="fail and load nothing if any file or line needs quarantine")
    beh.add_argument("--pii-mode", choices=["keep", "hash", "drop"],
                     help="custom_targets values: keep, replace by a salted HMAC-SHA256 (salt from "
                          "SESSION_STREAM__PII_SALT), or drop (default keep)")
    beh.add_argument("--pii-target-ids", metavar="ID,ID|auto",
                     help="apply --pii-mode only to these custom target ids (default: all targets); 'auto' takes "
                          "the ids the last Metadata API refresh marks collects_person_id or is_identifier")
    beh.add_argument("--batch-size", type=int, metavar="N",
                     help="sessions per Arrow batch; bounds memory (default 5000)")
    beh.add_argument("--workers", type=int, metavar="N",
                     help="parser processes beside the loader (default 2; 0 parses in the main process)")
    beh.add_argument("--pipelines-dir", metavar="PATH",
                     help="dlt working folder (default: .dlt_pipelines beside the DuckDB file; dlt's own default "
                          "for other destinations)")
    return beh


def _metadata(p: argparse.ArgumentParser, beh: argparse._ArgumentGroup) -> None:
    """The Metadata API refresh, then the demo and the wait for a held DuckDB file (shown under behaviour)."""
    meta = p.add_argument_group("metadata API (names for ids; used when SESSION_STREAM__METADATA_API__* is set)")
    meta.add_argument("--refresh-metadata", action="store_true",
                      help="refresh the metadata after the load even if the last refresh is recent")
    meta.add_argument("--metadata-only", action="store_true",
                      help="refresh the metadata and load no sessions (no --source needed)")
    meta.add_argument("--metadata-refresh-hours", type=float, metavar="H",
                      help="refresh the metadata after a load at most every H hours (default 24; 0 = every run)")
    beh.add_argument("--demo", action="store_true",
                     help="generate a sample day into ./demo_data, load it into DuckDB, run dbt build, print a summary")
    beh.add_argument("--lock-wait-seconds", type=float, metavar="S",
                     help="wait up to S seconds for another program (a BI tool) to release the DuckDB file before "
                          "stopping with exit code 5 (default 60)")


def _publish_and_monitoring(p: argparse.ArgumentParser, beh: argparse._ArgumentGroup) -> None:
    """--publish and --check, then what a run prints (shown under behaviour)."""
    pub = p.add_argument_group("publish for BI tools (docs/publishing.md)")
    pub.add_argument("--publish", metavar="DIR", help="write every mart (of the DuckDB file, or PostgreSQL with "
                     "--destination postgres) as Tableau .hyper, Parquet and CSV files into DIR (atomically, with "
                     "manifest.json); loads nothing")
    pub.add_argument("--publish-formats", metavar="LIST", help="comma-separated subset of hyper,parquet,csv "
                     "(default all)")
    pub.add_argument("--publish-schema", metavar="SCHEMA", help="schema dbt builds the marts in (default "
                     "$DBT_SCHEMA, else analytics)")
    mon = p.add_argument_group("monitoring")
    mon.add_argument("--check", action="store_true",
                     help="load nothing; compare the day folders of --start-date..--end-date (default the last "
                          "--completeness-days days) with the ledger: missing windows, files not loaded and why, "
                          "expired files, retention risk; exit 7 when incomplete")
    mon.add_argument("--retention-warn-days", type=int, metavar="N",
                     help="warn (and fail --check) when files not loaded expire from the server within N days "
                          "(default 30; 0 = off)")
    beh.add_argument("--json", action="store_true",
                     help="print the run summary as one JSON object on stdout (the session_stream_runs row plus the "
                          "quarantined, unreadable and waiting files and the metadata refresh); all else to stderr")
    beh.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: the process's own arguments) and run the command; returns the exit code.

    Called without `argv` (`run.py`, the console script: a process started for this one command), SIGTERM
    becomes one line and EXIT_TERMINATED from here on (termination.py, installed before anything else runs),
    and the garbage collector pauses while the loader imports and plans (startup_gc.py); calls with an
    explicit `argv` (tests, other code in the same process) leave both alone.
    """
    from dlt_pipeline import termination

    if argv is None:
        termination.install()
    try:
        return _parse_and_execute(argv)
    except termination.Terminated:  # outside a load: start-up, settings, metadata refresh, the demo's dbt
        print(f"error: {termination.MESSAGE}", file=sys.stderr)
        return EXIT_TERMINATED


def _parse_and_execute(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from dlt_pipeline import logs, startup_gc, telemetry

    logs.configure(args.quiet)
    if argv is None:
        startup_gc.pause()
    try:
        from dlt_pipeline.testhooks import checkpoint

        checkpoint("started")  # test hook: arguments parsed, nothing imported or opened yet (testhooks.py)
        telemetry.apply_project_default()  # before the first pipeline, which starts dlt's telemetry
        from dlt_pipeline.command import execute  # heavy imports only after --help/usage errors

        return execute(args)
    finally:
        startup_gc.resume()
