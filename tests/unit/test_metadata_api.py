"""The Metadata API client without a server: the JWT it signs, token renewal, the one retry on 401, its
configuration rules (env names, https, no fallback to the SFTP key) and the row typing (`is_control`)."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from requests import PreparedRequest, Request, Response

from dlt_pipeline.metadata_api import rows
from dlt_pipeline.metadata_api.auth import MonetateTokenAuth
from dlt_pipeline.metadata_api.config import MetadataApiConfig, MetadataConfigError, check_base_url, load_config
from dlt_pipeline.metadata_api.errors import MetadataApiError, MetadataApiRevoked
from dlt_pipeline.session_stream.pii import PiiPolicy
from dlt_pipeline.synthetic.metadata_server import demo_key_pair

PRIVATE, PUBLIC = demo_key_pair()


def _response(status: int, body: Any, request: PreparedRequest | None = None) -> Response:  # noqa: ANN401
    r = Response()
    r.status_code = status
    r._content = json.dumps(body).encode()
    r.request = request  # type: ignore[assignment]
    return r


class FakeSession:
    """Answers the refresh endpoint with numbered tokens (or a fixed status) and records what it was sent."""

    def __init__(self, expires_in: int = 3600, status: int = 200) -> None:
        self.expires_in, self.status, self.calls = expires_in, status, []  # type: ignore[var-annotated]

    def get(self, url: str, params: dict[str, Any], headers: dict[str, str]) -> Response:
        self.calls.append((url, params, headers))
        body = {"meta": {"code": self.status, "errors": ["nope"]},
                "data": {"token": f"tok{len(self.calls)}", "expires_in": self.expires_in}}
        return _response(self.status, body)


def _auth(session: FakeSession, **kw: Any) -> MonetateTokenAuth:  # noqa: ANN401
    return MonetateTokenAuth(host="https://api.example", api_username="api-user", private_key=PRIVATE.decode(),
                             session=session, **kw)  # type: ignore[arg-type]


def _prepared() -> PreparedRequest:
    return Request("GET", "https://api.example/api/metadata/v1/acme/production/metadata/variant").prepare()


def test_jwt_holds_username_and_iat_and_verifies_with_the_public_key() -> None:
    session = FakeSession()
    auth = _auth(session)
    before = int(time.time())
    auth(_prepared())
    url, params, headers = session.calls[0]
    assert url == "https://api.example/api/auth/v0/refresh/" and params == {"ttl": 3600}
    scheme, token = headers["Authorization"].split(" ", 1)
    assert scheme == "JWT"
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, PUBLIC, algorithms=["RS256"])
    assert claims["username"] == "api-user" and before <= claims["iat"] <= int(time.time())
    assert set(claims) == {"username", "iat"}


def test_token_is_reused_then_renewed_before_it_expires() -> None:
    session = FakeSession(expires_in=3600)
    auth = _auth(session)
    first = auth(_prepared()).headers["Authorization"]
    assert auth(_prepared()).headers["Authorization"] == first == "Token tok1"
    assert len(session.calls) == 1
    short = FakeSession(expires_in=1)  # renewed at 90 % of its life: 0.9 s
    auth = _auth(short)
    auth(_prepared())
    time.sleep(0.95)
    assert auth(_prepared()).headers["Authorization"] == "Token tok2"


class FakeConnection:
    def __init__(self, status: int) -> None:
        self.status, self.sent = status, []  # type: ignore[var-annotated]

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # noqa: ANN401
        self.sent.append(request)
        return _response(self.status, {"meta": {}, "data": []}, request)


@pytest.mark.parametrize("second", [200, 401])
def test_a_401_renews_the_token_and_resends_once(second: int) -> None:
    session = FakeSession()
    auth = _auth(session)
    request = auth(_prepared())
    first = _response(401, {"meta": {"code": 401, "errors": ["token expired"]}}, request)
    connection = FakeConnection(second)
    first.connection = connection  # type: ignore[attr-defined]
    hook = request.hooks["response"][0]
    again = hook(first, timeout=5)
    assert len(connection.sent) == 1 and connection.sent[0].headers["Authorization"] == "Token tok2"
    assert again.status_code == second and again.history == [first]
    assert auth.renewals == 2  # one renewal only, whatever the second answer (dlt's hook then raises on 401)


def test_ok_responses_pass_the_hook_untouched() -> None:
    auth = _auth(FakeSession())
    request = auth(_prepared())
    ok = _response(200, {"data": []}, request)
    assert request.hooks["response"][0](ok) is ok


def test_refresh_403_is_revoked_and_other_refusals_name_the_settings() -> None:
    with pytest.raises(MetadataApiRevoked, match="revoked.*administrator must issue a new API key"):
        _auth(FakeSession(status=403))(_prepared())
    with pytest.raises(MetadataApiError, match="401 nope.*API_USERNAME.*public key") as info:
        _auth(FakeSession(status=401))(_prepared())
    assert "PRIVATE KEY" not in str(info.value)


def test_a_bad_key_is_refused_without_showing_it() -> None:
    auth = MonetateTokenAuth(host="https://h", api_username="u", private_key="-----BEGIN PRIVATE KEY-----\nnope\n",
                             session=FakeSession())  # type: ignore[arg-type]
    with pytest.raises(MetadataApiError, match="not a PEM private key") as info:
        auth.signed_jwt()
    assert "nope" not in str(info.value)
    assert "nope" not in repr(auth) and PRIVATE.decode()[40:80] not in repr(_auth(FakeSession()))


def test_env_names_and_no_fallback_to_the_sftp_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_STREAM__PRIVATE_KEY", "/home/me/.ssh/sftp_key")  # the SFTP key: never ours
    monkeypatch.setenv("PRIVATE_KEY", "unrelated")
    monkeypatch.setenv("RETAILER", "unrelated")
    assert not load_config().configured
    monkeypatch.setenv("SESSION_STREAM__METADATA_API__RETAILER", "acme")
    monkeypatch.setenv("SESSION_STREAM__METADATA_API__API_USERNAME", "api-user")
    monkeypatch.setenv("SESSION_STREAM__METADATA_API__PRIVATE_KEY", PRIVATE.decode())
    monkeypatch.setenv("SESSION_STREAM__METADATA_API__PAGE_SIZE", "500")
    config = load_config(defaults={"retries": 2})
    assert (config.base_url, config.retailer, config.api_username, config.page_size, config.retries) == \
           ("https://api.monetate.net", "acme", "api-user", 500, 2)
    assert config.private_key_pem() == PRIVATE
    config.check()
    assert PRIVATE.decode()[40:80] not in repr(config) and "(hidden)" in repr(config)


def test_partial_configuration_names_what_is_missing(tmp_path: Any) -> None:  # noqa: ANN401
    config = MetadataApiConfig(retailer="acme")
    assert config.configured
    with pytest.raises(MetadataConfigError, match="API_USERNAME.*PRIVATE_KEY"):
        config.check()
    key = tmp_path / "key.pem"
    key.write_bytes(PRIVATE)
    config = MetadataApiConfig(retailer="acme", api_username="u", private_key_path=str(key))
    config.check()
    assert config.private_key_pem() == PRIVATE


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://x.io"])
def test_https_or_loopback_only_allowed(url: str) -> None:
    check_base_url(url)


@pytest.mark.parametrize("url", ["http://api.monetate.net", "http://10.0.0.1", "ftp://x", "api.monetate.net"])
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(MetadataConfigError, match="BASE_URL"):
        check_base_url(url)


@pytest.mark.parametrize(("raw", "want"), [(True, True), (False, False), ("true", True), ("True", True),
                                           ("false", False), ("FALSE", False), ("t", True), ("f", False),
                                           (1, True), (0, False), (None, None), ("maybe", "maybe")])
def test_is_control_normalised_to_boolean(raw: Any, want: Any) -> None:  # noqa: ANN401
    row = rows.experience_row({"id": "7", "variant_splits": [{"id": 1, "is_control": raw, "split": 1}]})
    split = row["variant_splits"][0]
    assert split["is_control"] == want and type(split["is_control"]) is type(want)
    assert split["split"] == 1.0 and isinstance(split["split"], float) and row["id"] == 7


def test_rows_type_times_and_version_hash_covers_nested_lists() -> None:
    base = {"id": 5, "experience_name": "X", "create_time": "2026-10-01T08:00:00Z", "end_time": "",
            "variant_splits": [{"id": 1, "label": "A", "allocations": [{"split_id": "9", "split": "0.5"}]}]}
    row = rows.experience_row(dict(base))
    assert row["create_time"].isoformat() == "2026-10-01T08:00:00+00:00" and row["end_time"] is None
    assert row["variant_splits"][0]["allocations"][0] == {"split_id": 9, "split": 0.5}
    renamed = json.loads(json.dumps(base))
    renamed["variant_splits"][0]["label"] = "A renamed"
    assert rows.experience_row(renamed)["version_hash"] != row["version_hash"]
    assert rows.experience_row(json.loads(json.dumps(base)))["version_hash"] == row["version_hash"]
    odd = rows.experience_row({"id": 6, "start_time": "next week"})
    assert odd["start_time"] == "next week"  # kept as sent, never dropped


def test_keep_policy_never_hashes_and_hash_needs_a_salt() -> None:
    keep = PiiPolicy("keep")
    assert keep.apply({"1": "a@b.c"}) == {"1": "a@b.c"}
    with pytest.raises(ValueError, match="salt"):
        keep.hash("a@b.c")
    assert PiiPolicy("hash", frozenset({"1"}), b"s").apply({"1": "x", "2": "y"})["2"] == "y"
