"""Bad option values as a scheduler meets them: a real process, exit 2, one line naming the option.

The twenty in-process cases (flags and environment variables) are in tests/unit/test_options.py; here the
same refusal from a real interpreter, a value in .dlt/config.toml, and the edges of every range still running.
"""

from __future__ import annotations

from pathlib import Path

from support.data import today
from support.loader import Target, explain

from dlt_pipeline.exit_codes import EXIT_OK, EXIT_USAGE


def _source(tmp_path: Path) -> Path:
    """An empty local source folder: bad options must be refused before it is even listed."""
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    return source


def test_bad_option_as_a_real_process(tmp_path: Path) -> None:
    """The same as a scheduler meets it: exit code 2, one line on stderr, no traceback."""
    target = Target(tmp_path / "warehouse")
    proc = target.run("--source", _source(tmp_path), env={"SESSION_STREAM__LOOKBACK_DAYS": "-1"})
    assert proc.returncode == EXIT_USAGE, explain(proc)
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1 and message.startswith("error:"), explain(proc)
    assert "SESSION_STREAM__LOOKBACK_DAYS" in message and "Traceback" not in proc.stdout + proc.stderr


def test_bad_value_in_config_file_names_the_setting(tmp_path: Path) -> None:
    """`lookback_days = -1` under [session_stream] in .dlt/config.toml is refused like the flag."""
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text("[session_stream]\nlookback_days = -1\n")
    target = Target(tmp_path / "warehouse")
    proc = target.run("--source", _source(tmp_path), cwd=tmp_path)
    assert proc.returncode == EXIT_USAGE, explain(proc)
    assert len(proc.stderr.strip().splitlines()) == 1 and "lookback_days" in proc.stderr, explain(proc)
    assert "config.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_limits_themselves_are_accepted(tmp_path: Path) -> None:
    """The edges of every range still run: a look-back of 3650 days, today as start and end, zero workers."""
    target = Target(tmp_path / "warehouse")
    proc = target.run("--source", _source(tmp_path), "--lookback-days", "3650", "--workers", "0",
                      "--start-date", today().isoformat(), "--end-date", today().isoformat(), "--batch-size", "1",
                      env={"SESSION_STREAM__RETRIES": "0", "SESSION_STREAM__BACKOFF": "0"})
    assert proc.returncode == EXIT_OK, explain(proc)
