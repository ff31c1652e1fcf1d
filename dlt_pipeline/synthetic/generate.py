"""Command line for the synthetic Session Stream generator (see ``generator.py``).

Why a separate thin module: tests, the benchmark and humans all want the same tree and
the same ground truth; the logic lives in the library, this only parses flags and prints
what was written so a CI log shows the scenario at a glance.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from dlt_pipeline.synthetic.generator import generate, session_stream_root


def build_parser() -> argparse.ArgumentParser:
    """Argument parser; kept separate so tests can inspect defaults and --help."""
    p = argparse.ArgumentParser(
        prog="python -m dlt_pipeline.synthetic.generate",
        description=(
            "Write a synthetic Monetate Session Stream account tree "
            "(OUT/ACCOUNT/raw_data/session_stream/YYYY/MM/DD/<window>.000Z_PT15M-<token>.json.gz, "
            "gzip, one JSON session per line) that is deterministic for a seed, and optionally the "
            "ground truth a loader and the dbt models must reproduce. Sessions land in the file of "
            "the 15-minute window in which they ended, so the day after the last day gets files too."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    number = {  # option: (type, default, help) for the plain numeric options
        "--days": (int, 1, "number of days of session starts"),
        "--sessions-per-day": (int, 2000, "closed sessions started per day (spread over a diurnal curve); >= 1000 "
                                           "guarantees one capped session of each kind per day"),
        "--files-per-window": (int, 1, "split each 15-minute window's sessions over up to this many files"),
        "--seed": (int, 7, "random seed; same flags give byte-identical files"),
        "--redeliver": (int, 0, "extra files that re-deliver an existing file's lines (same window, new token)"),
        "--reemit": (float, 0.0, "probability that a multi-window session also appears as an earlier open "
                                 "(is_closed=f) version in an earlier window's file"),
        "--conversion-rate": (float, 0.03, "share of sessions with a purchase"),
        "--pii-share": (float, 0.02, "share of sessions with an e-mail (target 9001) and full name (target 9002)"),
        "--unknown-field-share": (float, 0.03, "share of sessions with fields outside the vendor table "
                                               "(visitor_score, experiment_flags, search_terms)"),
        "--open-share": (float, 0.005, "share of sessions whose only version is open (is_closed=f)"),
        "--capped-share": (float, 0.0003, "extra share of bot sessions with a variable-size field at or over "
                                          "1,000 items"),
        "--new-vendor-field-share": (float, 0.0, "share of sessions with two fields a vendor 'adds later' "
                                                 "(scalar loyalty_tier, array coupon_codes); 0 = none"),
    }
    p.add_argument("--out", required=True, help="output directory (the account folder is created inside)")
    p.add_argument("--account", type=int, default=1234, help="Monetate account id (account_id, guid prefix)")
    p.add_argument("--start-date", type=dt.date.fromisoformat, default=dt.date(2026, 11, 1),
                   help="first UTC day whose sessions start (YYYY-MM-DD)")
    for flag, (kind, default, text) in number.items():
        p.add_argument(flag, type=kind, default=default, help=text)
    p.add_argument("--compresslevel", type=int, default=6, choices=range(0, 10), metavar="0-9",
                   help="gzip compression level")
    p.add_argument("--truth", default=None, help="write the ground truth JSON here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the generator and print a one-paragraph summary; returns the exit code."""
    args = build_parser().parse_args(argv)
    t0 = time.perf_counter()
    truth = generate(
        args.out,
        args.account,
        args.start_date,
        args.days,
        args.sessions_per_day,
        args.files_per_window,
        args.seed,
        redeliver=args.redeliver,
        reemit=args.reemit,
        compresslevel=args.compresslevel,
        truth_path=args.truth,
        conversion_rate=args.conversion_rate,
        pii_share=args.pii_share,
        unknown_field_share=args.unknown_field_share,
        open_share=args.open_share,
        capped_share=args.capped_share,
        new_vendor_field_share=args.new_vendor_field_share,
    )
    secs = time.perf_counter() - t0
    raw, dedup, extra = truth["raw"], truth["dedup"], truth["extra"]
    days = ", ".join(truth["dedup"]["by_day"]) or "none"
    print(
        f"Wrote {raw['files']} files with {raw['sessions']} session lines under "
        f"{session_stream_root(args.out, args.account)} in {secs:.1f} s "
        f"({raw['sessions'] / max(secs, 1e-9):,.0f} lines/s): {dedup['sessions']} distinct sessions "
        f"starting on {days}, {dedup['converted_sessions']} converted, revenue {dedup['revenue']:.2f}; "
        f"{extra.get('redelivered_files', 0)} re-delivered files, "
        f"{extra.get('reemitted_sessions', 0)} open re-emits, {raw['capped_sessions']} capped lines, "
        f"{raw['unknown_field_sessions']} lines with unknown fields"
        + (f"; truth written to {args.truth}" if args.truth else "")
        + f"; Metadata API catalog in {Path(args.out) / 'metadata_catalog.json'}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
