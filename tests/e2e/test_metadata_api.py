"""The Metadata API source against the local stand-in server (written from ../shared/metadata_api.md).

In process: paging at page_size 1000 through `meta.next`, 429 and 500 retried, a token that expires mid-run,
`is_control` as strings and booleans, the `{id}` endpoint's 404. Through the command line (a subprocess, as
cron runs it) on DuckDB and PostgreSQL: a refresh after the session load, "not due" within 24 h, renamed
experiences kept as history, ids the API does not know kept in the session data, a revoked key (one line,
its own exit code, session data untouched), `--pii-target-ids auto`, and no key or token anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
import requests
from support.data import days_ago
from support.leaks import find_in_duckdb, find_in_tree
from support.loader import Target, explain
from support.metadata import RETAILER, USERNAME, catalog

from dlt_pipeline.exit_codes import EXIT_METADATA
from dlt_pipeline.metadata_api import MetadataApiConfig, monetate_metadata
from dlt_pipeline.synthetic.generator import GeneratorConfig, generate, session_stream_root
from dlt_pipeline.synthetic.metadata_catalog import metadata_catalog
from dlt_pipeline.synthetic.metadata_server import MetadataApiServer, demo_key_pair

PRIVATE, PUBLIC = demo_key_pair()
KEY_BODY = PRIVATE.decode().splitlines()[5]  # a line from the middle of the key: what a leak would contain
ACCOUNT = 4321


@pytest.fixture
def api() -> Iterator[MetadataApiServer]:
    with MetadataApiServer(catalog(0, extra_variants=2100), PUBLIC, USERNAME, RETAILER) as server:
        yield server


def _env(server: MetadataApiServer) -> dict[str, str]:
    return {"SESSION_STREAM__METADATA_API__BASE_URL": server.base_url,
            "SESSION_STREAM__METADATA_API__RETAILER": server.retailer,
            "SESSION_STREAM__METADATA_API__API_USERNAME": server.username,
            "SESSION_STREAM__METADATA_API__PRIVATE_KEY": PRIVATE.decode()}


def _tokens(server: MetadataApiServer) -> list[str]:
    return list(server._state.tokens)  # noqa: SLF001 - the test needs the secrets it must not find


def test_source_pages_retries_and_renews_an_expired_token(api: MetadataApiServer, tmp_path: Path) -> None:
    config = MetadataApiConfig(base_url=api.base_url, retailer=RETAILER, api_username=USERNAME,
                               private_key=PRIVATE.decode(), retries=3, backoff=0.05)  # type: ignore[arg-type]
    api.fail_next(429, 1, "metadata/variant")
    api.fail_next(500, 2, "experience-summary")
    api.expire_tokens_after(4)
    pipeline = dlt.pipeline("meta_inproc", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="monetate_raw", pipelines_dir=str(tmp_path / "p"))
    counts: dict[str, int] = {}
    pipeline.run(monetate_metadata(config=config, counts=counts))

    variant_calls = [r for r in api.requests if r.path.endswith("metadata/variant")]
    assert {r.query.get("page_size") for r in variant_calls} == {"1000"}
    assert [r.status for r in variant_calls].count(200) == 3  # 2106 variants: pages of 1000, 1000, 106
    assert api.count(429) == 1 and api.count(500) == 2  # each retried, then served
    # the expired token: 401, renewed, resent; dlt's retry of the earlier 500 re-sends the call prepared with the
    # old token (a second 401), which is resent with the new token without renewing again
    assert api.count(401) == 2 and api.count(200, "/api/auth/") == 2
    assert counts == {"metadata_accounts": 1, "metadata_variants": 2106, "metadata_experiences": 3,
                      "metadata_page_events": 2, "metadata_custom_targets": 3}
    with pipeline.sql_client() as c:
        splits = dict(c.execute_sql("select id, is_control from metadata_experiences__variant_splits"))
        assert splits == {1001: False, 1002: True, 1011: False, 1012: False, 1013: True,
                          1021: None}
        assert c.execute_sql("select split_id from metadata_experiences__variant_splits__allocations "
                             "order by 1") == [(1052,), (1063,)]
        assert c.execute_sql("select id from metadata_custom_targets where collects_person_id or is_identifier "
                             "order by 1") == [(701,), (702,)]
        types = dict(c.execute_sql("select column_name, data_type from information_schema.columns where "
                                   "table_name = 'metadata_experiences'"))
        assert types["id"] == "BIGINT" and types["start_time"].startswith("TIMESTAMP")

    token = requests.get(f"{api.base_url}/api/auth/v0/refresh/", params={"ttl": 600}, timeout=5,
                         headers={"Authorization": f"JWT {_signed()}"}).json()["data"]["token"]
    base = f"{api.base_url}/api/metadata/v1/{RETAILER}/production/metadata"
    one = requests.get(f"{base}/variant/1002", headers={"Authorization": f"Token {token}"}, timeout=5)
    assert one.status_code == 200 and one.json()["data"]["split_name"] == "Control"
    gone = requests.get(f"{base}/variant/424242", headers={"Authorization": f"Token {token}"}, timeout=5)
    assert gone.status_code == 404 and gone.json()["data"] is None


def _signed() -> str:
    import time

    import jwt

    return jwt.encode({"username": USERNAME, "iat": int(time.time())}, PRIVATE, algorithm="RS384")


def _generated(tmp_path: Path, **options: Any) -> tuple[Path, GeneratorConfig]:  # noqa: ANN401
    params: dict[str, Any] = {"account_id": ACCOUNT, "start_date": days_ago(1), "days": 1, "sessions_per_day": 400,
                              "seed": 3, **options}
    generate(tmp_path / "src", **params)
    return session_stream_root(tmp_path / "src", ACCOUNT), GeneratorConfig(**params)


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_cli_refresh_history_revoked_key_and_no_leaks(backend: str, tmp_path: Path, request: pytest.FixtureRequest) \
        -> None:
    root, gen = _generated(tmp_path)
    old, new = metadata_catalog(gen, revision=0), metadata_catalog(gen, revision=1)
    renamed = {e["id"] for e, f in zip(old["experience-summary"], new["experience-summary"], strict=True)
               if e["experience_name"] != f["experience_name"]}
    changed = {e["id"] for e, f in zip(old["experience-summary"], new["experience-summary"], strict=True) if e != f}
    assert renamed and renamed <= changed, "the generator's catalog renames some experiences"
    postgres = request.getfixturevalue("postgres") if backend == "postgres" else None
    target = Target(tmp_path / "w", postgres=postgres, dataset=f"meta_{backend}")
    outputs: list[str] = []
    with MetadataApiServer(old, PUBLIC, USERNAME, RETAILER) as api:
        env = _env(api)

        def run(*args: str) -> Any:  # noqa: ANN401
            proc = target.run("--source", str(root), *args, env=env)
            outputs.extend([proc.stdout, proc.stderr])
            return proc

        first = run()
        assert first.returncode == 0, explain(first)
        assert "Metadata API refresh" in first.stdout
        sessions = target.count("sessions")
        assert target.count("metadata_experiences") == len(old["experience-summary"])
        assert target.count("metadata_variants") == len(old["variant"])
        # ids the API does not know stay in the session data; their names simply stay empty
        unknown = target.scalar(f"select count(distinct o.id) from {target.dataset}.sessions__offers o where "
                                f"cast(o.id as bigint) not in (select id from {target.dataset}.metadata_variants)")
        assert unknown > 0

        api.catalog = new
        second = run()
        assert second.returncode == 0 and "not due" in second.stdout, explain(second)
        assert target.count("metadata_experiences") == len(old["experience-summary"])

        third = run("--refresh-metadata")
        assert third.returncode == 0, explain(third)
        versions = target.sql(f"select id, count(*), count(_dlt_valid_to), max(case when _dlt_valid_to is null "
                              f"then experience_name end) from {target.dataset}.metadata_experiences group by id")
        current = {e["id"]: e["experience_name"] for e in new["experience-summary"]}
        assert {r[0] for r in versions if r[1] == 2} == changed  # renamed, or a split/status changed
        assert all(r[2] == r[1] - 1 and r[3] == current[r[0]] for r in versions)  # old closed, newest open

        api.revoke()
        fourth = run("--refresh-metadata")
        assert fourth.returncode == EXIT_METADATA, explain(fourth)
        lines = [line for line in fourth.stderr.splitlines() if "revoked" in line]
        assert len(lines) == 1 and "must issue a new API key" in lines[0], fourth.stderr
        assert target.count("sessions") == sessions
        only = target.run("--metadata-only", env=env)
        outputs.extend([only.stdout, only.stderr])
        assert only.returncode == EXIT_METADATA and "revoked" in only.stderr, explain(only)
        statuses = target.sql(f"select status, count(*) from {target.dataset}.metadata_refreshes group by 1")
        assert dict(statuses) == {"ok": 2, "failed": 2}
        needles = [KEY_BODY, *_tokens(api)]
    assert len(needles) >= 3
    assert not [n for n in needles for text in outputs if n in text]
    assert not find_in_tree(target.pipelines_dir, needles)
    if backend == "duckdb":
        assert not find_in_duckdb(target.duckdb_path, needles)


def test_pii_target_ids_auto_protects_exactly_the_targets_the_api_marks(tmp_path: Path) -> None:
    root, gen = _generated(tmp_path, pii_share=0.3)
    cat = metadata_catalog(gen, revision=1)
    personal = sorted(str(t["id"]) for t in cat["customtarget"] if t["collects_person_id"] or t["is_identifier"])
    target = Target(tmp_path / "w")
    with MetadataApiServer(cat, PUBLIC, USERNAME, RETAILER) as api:
        api.fail_next(429, 1)
        api.fail_next(500, 1)
        proc = target.run("--source", str(root), "--pii-mode", "drop", "--pii-target-ids", "auto", env=_env(api))
    assert proc.returncode == 0, explain(proc)
    assert f"applies to custom target(s) {', '.join(personal)}" in proc.stdout
    rows = target.sql(f"select id, count(*), count(value) from {target.dataset}.sessions__custom_targets group by id")
    seen = {r[0]: (r[1], r[2]) for r in rows}
    assert all(seen[i][0] > 0 and seen[i][1] == 0 for i in personal)  # dropped: row kept, value gone
    assert all(n == kept for i, (n, kept) in seen.items() if i not in personal)
    assert target.count("metadata_refreshes") == 1  # refreshed once, before the load, not again after it


def test_stand_in_server_follows_the_published_api(api: MetadataApiServer) -> None:
    """The stand-in's own rules, so the client tests above exercise the API as documented, not as we wish."""
    import time

    import jwt

    def get(path: str, auth: str | None, **params: Any) -> requests.Response:  # noqa: ANN401
        return requests.get(f"{api.base_url}{path}", params=params, timeout=5,
                            headers={"Authorization": auth} if auth else {})

    def signed(key: bytes = PRIVATE, alg: str = "RS256", user: str = USERNAME, skew: int = 0) -> str:
        return "JWT " + jwt.encode({"username": user, "iat": int(time.time()) + skew}, key, algorithm=alg)

    auth_path = "/api/auth/v0/refresh/"
    other_key, _ = demo_key_pair()
    assert get(auth_path, signed(other_key)).status_code == 401  # signature checked with the public key
    assert get(auth_path, signed(user="someone")).status_code == 401
    assert get(auth_path, signed(skew=-300)).status_code == 401 and get(auth_path, signed(skew=300)).status_code == 401
    assert get(auth_path, signed(), ttl=60).status_code == 400  # ttl outside 10 min .. 12 h
    for alg in ("RS256", "RS384", "RS512"):
        assert get(auth_path, signed(alg=alg), ttl=600).status_code == 200
    body = get(auth_path, signed(), ttl=600).json()
    assert body["meta"]["code"] == 200 and body["data"]["expires_in"] == 600
    token = f"Token {body['data']['token']}"
    base = f"/api/metadata/v1/{RETAILER}/production/metadata"
    assert get(f"{base}/variant", None).status_code == 401
    assert get(f"{base}/variant", "Token nope").status_code == 401
    page = get(f"{base}/variant", token).json()
    assert len(page["data"]) == 10 and page["meta"]["count"] == 2106 and page["meta"]["previous"] is None
    assert "page=2" in page["meta"]["next"]
    big = get(f"{base}/variant", token, page_size=5000).json()
    assert len(big["data"]) == 1000  # clamped, not refused
    named = get(f"{base}/experience-summary", token, name="SHIPPING").json()
    assert [e["id"] for e in named["data"]] == [102] and named["meta"]["next"] is None
    assert get(f"{base}/pageevent/9001", token).json()["data"]["title"] == "Cart view"
    assert get(f"{base}/pageevent/1", token).status_code == 404
    api.expire_tokens()
    assert get(f"{base}/pageevent", token).status_code == 401
    api.revoke()
    assert get(auth_path, signed()).status_code == 403
