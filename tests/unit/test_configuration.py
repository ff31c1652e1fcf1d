"""One configuration: every setting in docs/configuration.md, set through every documented route, takes effect
in the command line's resolved settings AND in the dlt sources as a user calls them.

The settings come from the docs' tables and are checked against the `@configspec` classes, so a setting added
to the code without a row (or a row without a setting) fails here. In process: the toml route writes a real
`.dlt/config.toml` / `.dlt/secrets.toml` into a temporary project folder and reloads dlt's providers.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from support.data import ACCOUNT, days_ago, write_window
from support.warehouse import duckdb_connection

from dlt_pipeline.cli import build_parser
from dlt_pipeline.metadata_api import monetate_metadata
from dlt_pipeline.metadata_api.config import MetadataApiConfig
from dlt_pipeline.metadata_refresh import api_config
from dlt_pipeline.session_stream import session_stream
from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.settings import CONFIGURABLE, CREDENTIAL_FIELDS, SECRETS, SOURCE_ARGUMENTS, resolve
from dlt_pipeline.synthetic.generator import session_stream_root

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
BASE_SOURCE = f"/srv/monetate/{ACCOUNT}/raw_data/session_stream"
"""A source every case has unless it tests `source` itself (nothing is listed: sources are only built)."""

SAMPLES: dict[str, Any] = {
    "source": f"/srv/other/{ACCOUNT}/raw_data/session_stream", "private_key": "/keys/monetate",
    "known_hosts": "/keys/known_hosts", "trust_host_key": "SHA256:" + "Ab1+" * 10 + "xyz",
    "sftp_password": "pw-sample", "private_key_passphrase": "phrase-sample", "destination": "postgres",
    "duckdb_path": "/srv/warehouse/sample.duckdb", "dataset_name": "sample_raw", "pipeline_name": "sample_pipeline",
    "pipelines_dir": "/srv/pipelines", "staging": "filesystem", "start_date": days_ago(3), "end_date": days_ago(1),
    "lookback_days": 5, "min_file_age_seconds": 7, "batch_size": 123, "workers": 3, "max_line_bytes": 4096,
    "timeout": 12.5, "retries": 2, "backoff": 0.5, "pii_mode": "drop", "pii_target_ids": ["9001", "9002"],
    "pii_salt": "salt-sample", "strict": True, "retry_quarantined": True, "metadata_refresh_hours": 6.0,
    "completeness_days": 3, "retention_warn_days": 10, "archive": "/srv/archive", "lock_wait_seconds": 5.0,
    "publish_formats": "csv", "publish_schema": "sample_marts", "json": True,
}
"""A valid value other than the default for each setting; a documented setting without one fails the test."""
META_SAMPLES: dict[str, Any] = {
    "base_url": "https://api.example.test", "retailer": "sample-retailer", "api_username": "sample-user",
    "private_key": None, "private_key_path": None, "token_ttl": 1200, "page_size": 50, "timeout": 9.0,
    "retries": 2, "backoff": 0.25,
}
"""`private_key` and `private_key_path` are made per test (a real RSA key)."""
META_ARGUMENTS = ("base_url", "retailer", "api_username", "private_key", "private_key_path", "page_size")


def _table(heading: str) -> list[dict[str, str]]:
    """The rows of the table under `## heading` in docs/configuration.md, as dicts of its columns."""
    section = DOC.read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in ln.strip("|").split(" | ")), strict=True)) for ln in lines[2:]]


def _name(cell: str) -> str:
    return cell.strip("`")


LOADER_ROWS = {_name(r["setting"]): r for r in _table("Loader settings")}
META_ROWS = {_name(r["setting"]): r for r in _table("Metadata API settings")}


def _routes(name: str, row: dict[str, str]) -> list[str]:
    """The documented routes of a setting: its flag, an argument of the source, the environment, a toml file."""
    return ((["flag"] if row["flag"].startswith("`--") else [])
            + (["argument"] if name in (*SOURCE_ARGUMENTS, "source") else []) + ["env", "toml"])


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """None of the caller's settings, and an empty project folder (no .dlt) for dlt's toml providers."""
    for key in [k for k in os.environ if k.startswith(("SESSION_STREAM", "SOURCES__"))]:
        monkeypatch.delenv(key)
    yield from _project(tmp_path / "empty")


def _project(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    before = os.getcwd()
    os.chdir(folder)
    Container()[PluggableRunContext].reload_providers()
    try:
        yield
    finally:
        os.chdir(before)
        Container()[PluggableRunContext].reload_providers()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()  # a TOML local date
    return json.dumps(value)  # strings and lists: TOML accepts JSON's basic strings and arrays


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return value.isoformat() if isinstance(value, date) else str(value)


def _set(route: str, sections: tuple[str, ...], name: str, value: Any, secret: bool, project: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[None] | None:
    """Put `value` where the route says; the toml route returns the project context to enter."""
    if route == "env":
        monkeypatch.setenv("__".join((*sections, name)).upper(), _env_value(value))
        return None
    (project / ".dlt").mkdir(parents=True, exist_ok=True)
    file = project / ".dlt" / ("secrets.toml" if secret else "config.toml")
    file.write_text(f"[{'.'.join(sections)}]\n{name} = {_toml_value(value)}\n")
    return _project(project)


def _flag_argv(row: dict[str, str], value: Any) -> list[str]:
    flag = row["flag"].strip("`")
    if isinstance(value, bool):
        return [flag]
    return [flag, ",".join(value) if isinstance(value, list) else _env_value(value)]


def _source_view(name: str) -> tuple[str, str] | None:
    """Where the `session_stream` source keeps a setting it uses: (resource attribute, field); None if unused."""
    reverse = {attr: field for field, attr in CREDENTIAL_FIELDS.items()}
    if name in reverse:
        return "sftp_credentials", reverse[name]
    if name in LoadOptions.__dataclass_fields__:
        return "load_options", name
    return None


def test_the_docs_list_every_setting_once_with_names_that_work() -> None:
    """Each configspec field has one row and each row a field; env names, toml keys and flags as the code has them."""
    assert sorted(LOADER_ROWS) == sorted(CONFIGURABLE), "docs/configuration.md and LoaderConfiguration differ"
    meta_fields = list(MetadataApiConfig.get_resolvable_fields())
    assert sorted(META_ROWS) == sorted(meta_fields), "docs/configuration.md and MetadataApiConfig differ"
    flags = {a.dest: a.option_strings[-1] for a in build_parser()._actions}
    for name, row in LOADER_ROWS.items():
        assert row["environment variable"] == f"`SESSION_STREAM__{name.upper()}`", name
        assert row["toml key"].startswith(f"`{name}`"), name
        assert (name in SECRETS) == ("secrets.toml" in row["toml key"]), name
        assert row["flag"] == (f"`{flags[name]}`" if name in flags else "none (secret)" if name in SECRETS else "none")
        assert name in SAMPLES, f"add a sample value for {name} to this test"
    for name, row in META_ROWS.items():
        assert row["environment variable"] == f"`SESSION_STREAM__METADATA_API__{name.upper()}`", name
    from dlt_pipeline.session_stream.source import session_stream as source_function

    parameters = list(inspect.signature(source_function.__wrapped__).parameters)
    assert parameters == ["credentials", *SOURCE_ARGUMENTS], "session_stream's arguments and SOURCE_ARGUMENTS differ"
    assert all(_source_view(name) for name in SOURCE_ARGUMENTS), "an argument the source does not use"
    undocumented = set(flags) - set(LOADER_ROWS) - {"help", "quiet", "demo", "reload", "check", "publish",
                                                     "refresh_metadata", "metadata_only"}
    assert not undocumented, f"flags without a row in docs/configuration.md: {undocumented}"


LOADER_CASES = [(name, route) for name, row in LOADER_ROWS.items() for route in _routes(name, row)]


@pytest.mark.parametrize(("name", "route"), LOADER_CASES, ids=[f"{n}-{r}" for n, r in LOADER_CASES])
def test_each_setting_takes_effect_in_the_command_line_and_the_source(name: str, route: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line resolves the value and `session_stream(...)` uses it; a flag reaches only the command
    line, an argument only the source."""
    value, secret = SAMPLES[name], name in SECRETS
    argv = ["--source", BASE_SOURCE] if name != "source" else []
    arguments: dict[str, Any] = {"credentials": BASE_SOURCE} if name != "source" else {}
    context = None
    if route == "flag":
        argv += _flag_argv(LOADER_ROWS[name], value)
    elif route == "argument":
        arguments["credentials" if name == "source" else name] = value
    else:
        context = _set(route, ("session_stream",), name, value, secret, tmp_path / "project", monkeypatch)
    with _entered(context):
        if route != "argument":
            cli = vars(build_parser().parse_args(argv))
            cli.pop("quiet")
            assert getattr(resolve(cli), name) == value
        view = _source_view(name)
        if view is not None and route != "flag":
            resource = session_stream(**arguments).resources["session_stream"]
            assert getattr(getattr(resource, view[0]), view[1]) == value


class _entered:
    """Enter a generator-based context (the toml route's project folder), or nothing."""

    def __init__(self, gen: Iterator[None] | None) -> None:
        self.gen = gen

    def __enter__(self) -> None:
        if self.gen is not None:
            next(self.gen)

    def __exit__(self, *exc: object) -> None:
        if self.gen is not None:
            next(self.gen, None)


@cache
def _rsa_pem() -> str:
    from dlt_pipeline.synthetic.metadata_server import demo_key_pair

    return demo_key_pair()[0].decode()


META_CASES = [(name, route) for name in META_ROWS for route in ("env", "toml", "argument")
              if route != "argument" or name in META_ARGUMENTS]


@pytest.mark.parametrize(("name", "route"), META_CASES, ids=[f"{n}-{r}" for n, r in META_CASES])
def test_each_metadata_setting_takes_effect_in_the_command_line_and_the_source(
        name: str, route: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`api_config` (the command line) and `monetate_metadata(...)` resolve the same value."""
    pem_file = tmp_path / "api_key.pem"
    pem_file.write_text(_rsa_pem())
    value = {"private_key": _rsa_pem(), "private_key_path": str(pem_file)}.get(name, META_SAMPLES[name])
    base = {"retailer": "base-retailer", "api_username": "base-user", "private_key": _rsa_pem()}
    for key, text in base.items():
        if key != name and not (name == "private_key_path" and key == "private_key"):
            monkeypatch.setenv(f"SESSION_STREAM__METADATA_API__{key.upper()}", text)
    arguments: dict[str, Any] = {}
    context = None
    if route == "argument":
        arguments[name] = value
    else:
        context = _set(route, ("session_stream", "metadata_api"), name, value, name == "private_key",
                       tmp_path / "project", monkeypatch)
    with _entered(context):
        if route != "argument":
            assert getattr(api_config(resolve({})), name) == value
        source = monetate_metadata(**arguments)
        assert getattr(source.resources["metadata_accounts"].api_config, name) == value


def test_the_loaders_retries_are_the_apis_unless_the_api_sets_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_STREAM__RETRIES", "1")
    assert api_config(resolve({})).retries == 1
    monkeypatch.setenv("SESSION_STREAM__METADATA_API__RETRIES", "4")
    assert api_config(resolve({})).retries == 4


def test_pii_hash_set_for_the_command_line_protects_a_users_own_pipeline(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The trap of issue 21: `SESSION_STREAM__PII_MODE=hash` was ignored by the source, personal data landed in
    clear. Now a user's own pipeline hashes every custom target value (and reads its workers from the same place)."""
    out = tmp_path / "files"
    write_window(out, days_ago(1), "1000", 100, 30)
    monkeypatch.setenv("SESSION_STREAM__PII_MODE", "hash")
    monkeypatch.setenv("SESSION_STREAM__PII_SALT", "issue-21-salt")
    monkeypatch.setenv("SESSION_STREAM__WORKERS", "0")
    monkeypatch.setenv("SESSION_STREAM__MIN_FILE_AGE_SECONDS", "0")
    path = tmp_path / "mine.duckdb"
    pipeline = dlt.pipeline("my_monetate", destination=dlt.destinations.duckdb(str(path)),
                            dataset_name="monetate_raw", pipelines_dir=str(tmp_path / "state"))
    pipeline.run(session_stream(str(session_stream_root(out, ACCOUNT))))
    with duckdb_connection(path) as q:
        values = [v for (v,) in q('select value from monetate_raw."sessions__custom_targets"')]
    assert values, "the sample has custom targets"
    assert all(re.fullmatch("[0-9a-f]{64}", str(v)) for v in values), values[:5]


def test_messages_name_the_route_the_user_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flag, argument, environment variable and toml key: a bad value is refused naming the one that set it."""
    with pytest.raises(ValueError, match=r"^--workers is 99; it must be 0 to 64"):
        resolve({"workers": 99})
    with pytest.raises(ValueError, match=r"^session_stream\(workers=\.\.\.\) is 99; it must be 0 to 64"):
        session_stream(BASE_SOURCE, workers=99)
    monkeypatch.setenv("SESSION_STREAM__WORKERS", "2.5")
    for call in (lambda: resolve({}), lambda: session_stream(BASE_SOURCE)):
        with pytest.raises(ValueError, match=r"^SESSION_STREAM__WORKERS is '2.5'; it must be a whole number$"):
            call()
    monkeypatch.delenv("SESSION_STREAM__WORKERS")
    with _entered(_set("toml", ("session_stream",), "strict", "maybe", False, tmp_path / "p", monkeypatch)):
        with pytest.raises(ValueError, match=r"^strict under \[session_stream\] in .dlt/config.toml.* is 'maybe'; "
                                             "it must be true or false$"):
            resolve({})
    (tmp_path / "s" / ".dlt").mkdir(parents=True)
    (tmp_path / "s" / ".dlt" / "config.toml").write_text('[session_stream]\npii_salt = "in-the-wrong-file"\n')
    with _entered(_project(tmp_path / "s")), pytest.raises(ValueError, match="secret") as refused:
        resolve({})
    assert "in-the-wrong-file" not in str(refused.value) and "\n" not in str(refused.value)


def test_hash_without_a_salt_names_a_variable_that_works(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message's advice, followed, makes the source work (it used to name a variable the source ignored)."""
    with pytest.raises(ValueError, match="SESSION_STREAM__PII_SALT") as refused:
        session_stream(BASE_SOURCE, pii_mode="hash")
    assert str(refused.value).startswith("session_stream(pii_mode=...) hash needs a secret salt")
    monkeypatch.setenv("SESSION_STREAM__PII_SALT", "now-set")
    assert session_stream(BASE_SOURCE, pii_mode="hash").resources["session_stream"].load_options.pii_salt == "now-set"


def test_earlier_names_still_work_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """`[sources.session_stream.credentials]` and `SOURCES__SESSION_STREAM__*` are aliases; the new name wins."""
    (tmp_path / "p" / ".dlt").mkdir(parents=True)
    (tmp_path / "p" / ".dlt" / "secrets.toml").write_text(
        f'[sources.session_stream.credentials]\nurl = "{BASE_SOURCE}"\npassword = "old-password"\n')
    monkeypatch.setenv("SOURCES__SESSION_STREAM__LOOKBACK_DAYS", "9")
    with _entered(_project(tmp_path / "p")), caplog.at_level(logging.WARNING, "session_stream"):
        settings = resolve({})
        resource = session_stream().resources["session_stream"]
        assert settings.source == resource.sftp_credentials.url == BASE_SOURCE
        assert settings.sftp_password == resource.sftp_credentials.password == "old-password"
        assert settings.lookback_days == resource.load_options.lookback_days == 9
        warned = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
        assert any("SESSION_STREAM__SFTP_PASSWORD" in w for w in warned), warned
        assert not any("old-password" in w for w in warned)
        monkeypatch.setenv("SESSION_STREAM__LOOKBACK_DAYS", "4")
        assert resolve({}).lookback_days == 4


def test_missing_source_and_malformed_fingerprint_are_usage_errors(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path) -> None:
    """Exit 2 before anything connects: no `--source`, or `--trust-host-key garbage`."""
    from dlt_pipeline.cli import main
    from dlt_pipeline.exit_codes import EXIT_USAGE

    duckdb = ["--duckdb-path", str(tmp_path / "w.duckdb")]
    assert main(duckdb) == EXIT_USAGE
    message = capsys.readouterr().err.strip()
    assert message.startswith("error: no source given: pass --source") and "SESSION_STREAM__SOURCE" in message
    assert main([*duckdb, "--source", "sftp://user@host.invalid/1/raw_data/session_stream",
                 "--trust-host-key", "garbage"]) == EXIT_USAGE
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "--trust-host-key is 'garbage'" in message and "SHA256:" in message
    assert not (tmp_path / "w.duckdb").exists()
    padded = "SHA256:" + "A" * 43 + "="
    assert resolve({"trust_host_key": padded}).trust_host_key == padded.rstrip("=")
