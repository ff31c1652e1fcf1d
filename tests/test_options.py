"""Bad option values stop the run before it starts: exit 2 and one line naming the option and what is allowed.

A negative look-back used to be accepted and silently skip days (lost data), a reversed or future date
range exited 0 with "nothing to list", and a huge look-back crashed with OverflowError. Values are
checked wherever they come from: flags, environment variables and .dlt/config.toml.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from loader_helpers import Target, explain, run_loader, today

from dlt_pipeline.cli import main
from dlt_pipeline.exit_codes import EXIT_OK, EXIT_USAGE

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


def _source(tmp_path: Path) -> Path:
    """An empty local source folder: bad options must be refused before it is even listed."""
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    return source


@pytest.mark.parametrize(("flags", "env", "names"), list(CASES.values()), ids=list(CASES))
def test_bad_option_exits_2_with_one_line(tmp_path: Path, flags: list[str], env: dict[str, str], names: str,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """In process (`run.main`, as the console entry point calls it), so twenty cases cost no interpreter starts."""
    for key in [k for k in os.environ if k.startswith("SESSION_STREAM")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    target = Target(tmp_path / "warehouse")
    try:
        code = main(["--source", str(_source(tmp_path)), *map(str, target.args()), *flags])
    except SystemExit as exc:  # argparse refuses malformed values itself
        code = exc.code
    message = capsys.readouterr().err.strip()
    assert code == EXIT_USAGE, message
    assert len(message.splitlines()) == 1 and names in message, message
    assert "Traceback" not in message
    assert not target.duckdb_path.exists(), "a refused run must not create the warehouse"


def test_bad_option_as_a_real_process(tmp_path: Path) -> None:
    """The same as a scheduler meets it: exit code 2, one line on stderr, no traceback."""
    target = Target(tmp_path / "warehouse")
    proc = run_loader("--source", _source(tmp_path), *target.args(), env={"SESSION_STREAM__LOOKBACK_DAYS": "-1"})
    assert proc.returncode == EXIT_USAGE, explain(proc)
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1 and message.startswith("error:"), explain(proc)
    assert "SESSION_STREAM__LOOKBACK_DAYS" in message and "Traceback" not in proc.stdout + proc.stderr


def test_bad_value_in_config_file_names_the_setting(tmp_path: Path) -> None:
    """`lookback_days = -1` under [session_stream] in .dlt/config.toml is refused like the flag."""
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text("[session_stream]\nlookback_days = -1\n")
    target = Target(tmp_path / "warehouse")
    proc = run_loader("--source", _source(tmp_path), *target.args(), cwd=tmp_path)
    assert proc.returncode == EXIT_USAGE, explain(proc)
    assert len(proc.stderr.strip().splitlines()) == 1 and "lookback_days" in proc.stderr, explain(proc)
    assert "config.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_limits_themselves_are_accepted(tmp_path: Path) -> None:
    """The edges of every range still run: a look-back of 3650 days, today as start and end, zero workers."""
    target = Target(tmp_path / "warehouse")
    proc = run_loader("--source", _source(tmp_path), *target.args(), "--lookback-days", "3650", "--workers", "0",
                      "--start-date", today().isoformat(), "--end-date", today().isoformat(), "--batch-size", "1",
                      env={"SESSION_STREAM__RETRIES": "0", "SESSION_STREAM__BACKOFF": "0"})
    assert proc.returncode == EXIT_OK, explain(proc)
