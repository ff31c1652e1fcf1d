"""A local stand-in for Monetate's Metadata API, written from `../shared/metadata_api.md` (not from our client).

The demo serves the generator's catalog from it and the tests aim the real `monetate_metadata` source at it.
What it follows from the published API: the RSA-signed JWT (`{"username", "iat"}`, RS256/384/512, verified
with the uploaded public key, ~60 s of clock skew) traded at `/api/auth/v0/refresh/?ttl=` for a token with a
ttl (10 min to 12 h) that expires; `Authorization: Token ...` on every metadata call; envelopes
`{"meta": {...}, "data": ...}`; lists paged through `meta.next` (`page_size` default 10, clamped at 1000);
the case-insensitive `name` filter on variant and experience-summary; `{id}` endpoints with 404 for unknown
ids; 401/403/404/429/500 as the document describes them. Fault injection (`fail_next`, `revoke`,
`expire_tokens`, `token_ttl`) lets tests walk through every error path.

Loopback only, a thread per request, no dependency beyond PyJWT/cryptography.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RESOURCES = ("account", "variant", "experience-summary", "pageevent", "customtarget")
NAME_FILTERED = {"variant": "experience_name", "experience-summary": "experience_name"}
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
DEFAULT_TTL = 3600
MIN_TTL, MAX_TTL = 600, 12 * 3600
CLOCK_SKEW = 60
ALGORITHMS = ["RS256", "RS384", "RS512"]
AUTH_PATH = "/api/auth/v0/refresh/"


def demo_key_pair(bits: int = 2048) -> tuple[bytes, bytes]:
    """A fresh RSA key pair as (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM), what `openssl` makes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@dataclass
class _Fault:
    status: int
    count: int
    paths: str | None  # a substring of the path the fault applies to; None = every metadata call


@dataclass
class RequestRecord:
    """One request as the server saw it (the credential itself is never kept, only its scheme)."""

    path: str
    query: dict[str, str]
    scheme: str | None
    status: int


@dataclass
class _State:
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at (unix seconds)
    faults: list[_Fault] = field(default_factory=list)
    revoked: bool = False
    expire_after: int | None = None  # metadata calls still served before every token expires
    log: list[RequestRecord] = field(default_factory=list)


class MetadataApiServer:
    """The stand-in server: `with MetadataApiServer(catalog, public_pem, "api-user", "acme") as api: api.base_url`.

    `catalog` maps a resource path name (`account`, `variant`, `experience-summary`, `pageevent`,
    `customtarget`) to its rows in API shape; assign `.catalog` to serve a new revision (renames).
    `token_ttl` (seconds), when set, overrides the ttl the client asks for (short tokens expire mid-run).
    """

    def __init__(self, catalog: dict[str, list[dict[str, Any]]], public_key_pem: bytes, username: str,
                 retailer: str, token_ttl: int | None = None) -> None:
        self.catalog = catalog
        self.public_key = serialization.load_pem_public_key(public_key_pem)
        self.username = username
        self.retailer = retailer
        self.token_ttl = token_ttl
        self._state = _State()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> MetadataApiServer:
        handler = type("Handler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a client's idle keep-alive connection must not delay stop()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metadata-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> MetadataApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """`http://127.0.0.1:PORT`: what a client configures as its base URL (the API's host)."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.host

    # -- fault injection --------------------------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, path: str | None = None) -> None:
        """Answer the next `count` metadata calls (those whose path contains `path`, if given) with `status`."""
        with self._lock:
            self._state.faults.append(_Fault(status, count, path))

    def revoke(self) -> None:
        """The administrator revoked the API key: every call, the token refresh too, gets 403 from now on."""
        with self._lock:
            self._state.revoked = True

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (a token that ran out mid-run)."""
        with self._lock:
            self._state.tokens = dict.fromkeys(self._state.tokens, 0.0)

    def expire_tokens_after(self, calls: int) -> None:
        """Every token issued so far expires once `calls` more metadata calls were served (mid-run expiry)."""
        with self._lock:
            self._state.expire_after = calls

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._state.log)

    def count(self, status: int | None = None, path: str = "") -> int:
        """How many requests got `status` (any if None) on paths containing `path`."""
        return sum(1 for r in self.requests if (status is None or r.status == status) and path in r.path)

    # -- request handling (called from handler threads) -------------------------------------------------------

    def handle(self, path: str, query: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        status, body = self._route(path, query, authorization)
        scheme = authorization.split(" ", 1)[0] if authorization else None
        with self._lock:
            self._state.log.append(RequestRecord(path, query, scheme, status))
        return status, body

    def _route(self, path: str, query: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        if path == AUTH_PATH:
            return self._refresh(query, authorization)
        prefix = f"/api/metadata/v1/{self.retailer}/production/metadata/"
        if not path.startswith(prefix):
            return _error(404, "not found")
        with self._lock:
            if self._state.revoked:
                return _error(403, "API key revoked")
        with self._lock:
            if self._state.expire_after is not None:
                if self._state.expire_after <= 0:
                    self._state.tokens = dict.fromkeys(self._state.tokens, 0.0)
                    self._state.expire_after = None
                else:
                    self._state.expire_after -= 1
        problem = self._check_token(authorization)
        if problem:
            return _error(401, problem)
        fault = self._take_fault(path)
        if fault:
            return _error(fault, "injected failure")
        parts = path[len(prefix):].strip("/").split("/")
        if parts[0] not in RESOURCES or len(parts) > 2:
            return _error(404, "not found")
        if len(parts) == 2:
            return self._one(parts[0], parts[1])
        return self._list(parts[0], path, query)

    def _take_fault(self, path: str) -> int | None:
        with self._lock:
            for fault in self._state.faults:
                if fault.count > 0 and (fault.paths is None or fault.paths in path):
                    fault.count -= 1
                    return fault.status
        return None

    def _refresh(self, query: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self._state.revoked:
                return _error(403, "API key revoked")
        if not authorization or not authorization.startswith("JWT "):
            return _error(401, "missing JWT authorization")
        try:
            claims = jwt.decode(authorization[4:], self.public_key, algorithms=ALGORITHMS,  # type: ignore[arg-type]
                                options={"require": ["iat"], "verify_exp": False}, leeway=CLOCK_SKEW)
        except jwt.PyJWTError as exc:
            return _error(401, f"invalid JWT: {type(exc).__name__}")
        if claims.get("username") != self.username:
            return _error(401, "unknown API user")
        if abs(time.time() - float(claims["iat"])) > CLOCK_SKEW:
            return _error(401, "JWT iat outside the allowed clock skew")
        try:
            ttl = int(query.get("ttl", DEFAULT_TTL))
        except ValueError:
            return _error(400, "ttl must be a whole number of seconds")
        if not MIN_TTL <= ttl <= MAX_TTL:
            return _error(400, f"ttl must be between {MIN_TTL} and {MAX_TTL} seconds")
        if self.token_ttl is not None:
            ttl = self.token_ttl
        token = secrets.token_hex(20)
        now = time.time()
        with self._lock:
            self._state.tokens[token] = now + ttl
        return 200, _envelope({"token": token, "issued_at": int(now), "expires_in": ttl,
                               "expires_at": int(now + ttl)})

    def _check_token(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Token "):
            return "missing token"
        with self._lock:
            expires = self._state.tokens.get(authorization[6:])
        if expires is None:
            return "invalid token"
        if time.time() >= expires:
            return "token expired"
        return None

    def _one(self, kind: str, raw_id: str) -> tuple[int, dict[str, Any]]:
        for row in self.catalog.get(kind, []):
            if str(row.get("id")) == raw_id:
                return 200, _envelope(row)
        return _error(404, f"{kind} {raw_id} not found")

    def _list(self, kind: str, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            size = int(query.get("page_size", DEFAULT_PAGE_SIZE))
            page = int(query.get("page", 1))
        except ValueError:
            return _error(400, "page and page_size must be whole numbers")
        if size < 1 or page < 1:
            return _error(400, "page and page_size must be 1 or more")
        size = min(size, MAX_PAGE_SIZE)  # larger values are clamped, not refused
        rows = list(self.catalog.get(kind, []))
        name = query.get("name")
        if name and kind in NAME_FILTERED:
            rows = [r for r in rows if name.lower() in str(r.get(NAME_FILTERED[kind]) or "").lower()]
        chunk = rows[(page - 1) * size: page * size]

        def link(p: int) -> str:
            params = {k: v for k, v in query.items() if k != "page"} | {"page": str(p), "page_size": str(size)}
            return f"{self.host}{path}?{urlencode(params)}"

        more = page * size < len(rows)
        meta = {"count": len(rows), "next": link(page + 1) if more else None,
                "previous": link(page - 1) if page > 1 else None}
        return 200, _envelope(chunk, **meta)


def _envelope(data: Any, **meta: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"meta": {"code": 200, "errors": [], "warnings": [], **meta}, "data": data}


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"meta": {"code": status, "errors": [message], "warnings": []}, "data": None}


class _Handler(BaseHTTPRequestHandler):
    api: MetadataApiServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        status, body = self.api.handle(parts.path, query, self.headers.get("Authorization"))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401 - quiet: tests read .requests
        pass


@contextmanager
def serving(catalog: dict[str, list[dict[str, Any]]], username: str = "api-user", retailer: str = "acme",
            token_ttl: int | None = None) -> Iterator[tuple[MetadataApiServer, bytes]]:
    """A started server with a fresh key pair: yields (server, private key PEM) for the client side."""
    private, public = demo_key_pair()
    with MetadataApiServer(catalog, public, username, retailer, token_ttl=token_ttl) as api:
        yield api, private
