"""Bad option values stop the run before it starts: exit 2 and one line naming the option and what is allowed.

A negative look-back used to be accepted and silently skip days (lost data), a reversed or future date
range exited 0 with "nothing to list", and a huge look-back crashed with OverflowError. Values are
checked wherever they come from: flags and environment variables here, in process; the same as a real
process and from .dlt/config.toml in tests/e2e/test_options.py.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from support.data import today
from support.loader import Target

from dlt_pipeline.cli import main
from dlt_pipeline.exit_codes import EXIT_USAGE

TOMORROW = (today() + timedelta(days=1)).isoformat()
LAST_WEEK = (today() - timedelta(days=7)).isoformat()
YESTERDAY = (today() - timedelta(days=1)).isoformat()

CASES = {
    # id: (flags, environment, what the message must name)
    "negative lookback": (["--lookback-days", "-1"], {}, "--lookback-days"),
    "huge lookback": (["--lookback-days", "100000000"], {}, "--lookback-days"),
    "start after end": (["--start-date", YESTERDAY, "--end-date", LAST_WEEK], {}, "--start-date"),
    "start in the future": (["--start-date", TOMORROW], {}, "--start-date"),
    "end in the future": (["--start-date", LAST_WEEK, "--end-date", TOMORROW], {}, "--end-date"),
    "negative file age": (["--min-file-age-seconds", "-1"], {}, "--min-file-age-seconds"),
    "zero batch size": (["--batch-size", "0"], {}, "--batch-size"),
    "negative workers": (["--workers", "-1"], {}, "--workers"),
    "too many workers": (["--workers", "1000"], {}, "--workers"),
    "lookback not a number": (["--lookback-days", "abc"], {}, "--lookback-days"),
    "not a date": (["--start-date", "2026-13-01"], {}, "--start-date"),
    "env negative lookback": ([], {"SESSION_STREAM__LOOKBACK_DAYS": "-1"}, "SESSION_STREAM__LOOKBACK_DAYS"),
    "env lookback not a number": ([], {"SESSION_STREAM__LOOKBACK_DAYS": "abc"}, "SESSION_STREAM__LOOKBACK_DAYS"),
    "env future start": ([], {"SESSION_STREAM__START_DATE": TOMORROW}, "SESSION_STREAM__START_DATE"),
    "env bad date": ([], {"SESSION_STREAM__END_DATE": "yesterday"}, "SESSION_STREAM__END_DATE"),
    "env zero max line": ([], {"SESSION_STREAM__MAX_LINE_BYTES": "0"}, "SESSION_STREAM__MAX_LINE_BYTES"),
    "env zero timeout": ([], {"SESSION_STREAM__TIMEOUT": "0"}, "SESSION_STREAM__TIMEOUT"),
    "env negative retries": ([], {"SESSION_STREAM__RETRIES": "-1"}, "SESSION_STREAM__RETRIES"),
    "env negative backoff": ([], {"SESSION_STREAM__BACKOFF": "-0.5"}, "SESSION_STREAM__BACKOFF"),
    "env fractional workers": ([], {"SESSION_STREAM__WORKERS": "2.5"}, "SESSION_STREAM__WORKERS"),
}


@pytest.mark.parametrize(("flags", "env", "names"), list(CASES.values()), ids=list(CASES))
def test_bad_option_exits_2_with_one_line(tmp_path: Path, flags: list[str], env: dict[str, str], names: str,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """In process (`run.main`, as the console entry point calls it), so twenty cases cost no interpreter starts."""
    for key in [k for k in os.environ if k.startswith("SESSION_STREAM")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    target = Target(tmp_path / "warehouse")
    source = tmp_path / "source"  # empty: bad options must be refused before it is even listed
    source.mkdir()
    try:
        code = main(["--source", str(source), *map(str, target.args()), *flags])
    except SystemExit as exc:  # argparse refuses malformed values itself
        code = exc.code
    message = capsys.readouterr().err.strip()
    assert code == EXIT_USAGE, message
    assert len(message.splitlines()) == 1 and names in message, message
    assert "Traceback" not in message
    assert not target.duckdb_path.exists(), "a refused run must not create the warehouse"
