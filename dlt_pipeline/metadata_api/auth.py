"""The vendor's token flow as a dlt REST-client auth: RSA-signed JWT → refresh endpoint → `Authorization: Token`.

1. Sign `{"username": <api user>, "iat": <now>}` with the API user's private key (RS256).
2. `GET {host}/api/auth/v0/refresh/?ttl=<s>` with `Authorization: JWT <jwt>` returns a token and its lifetime.
3. Every metadata call carries `Authorization: Token <token>`. The token is renewed shortly before it
   expires, and once more when a call still gets 401 (expired early, clock drift, server restart).

The key, the JWT and the token live only in this object's memory: they are declared secret (dlt's traces
store `None` for secrets), never logged, and the object's repr hides them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from dlt.common.configuration import configspec
from dlt.common.configuration.specs.base_configuration import NotResolved
from dlt.common.typing import Annotated, TSecretStrValue
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from requests import PreparedRequest, Response, Session

from dlt_pipeline.metadata_api.errors import MetadataApiError, MetadataApiRevoked, describe_status

log = logging.getLogger("session_stream.metadata_api")

REFRESH_PATH = "/api/auth/v0/refresh/"
RENEW_MARGIN = 60.0
"""Seconds before expiry at which a token is renewed (at most a tenth of its life for short tokens)."""


@configspec
class MonetateTokenAuth(AuthConfigBase):
    """`Authorization: Token ...` for the Metadata API, obtained and renewed from the API user's RSA key."""

    host: str = None
    api_username: str = None
    private_key: TSecretStrValue = None
    token_ttl: int = 3600
    algorithm: str = "RS256"
    session: Annotated[Session, NotResolved()] = None

    def __post_init__(self) -> None:
        self._key: Any = None
        self._token: str | None = None
        self._renew_at = 0.0
        self.renewals = 0  # tokens obtained so far (tests and the run summary read it)

    def __repr__(self) -> str:
        return f"MonetateTokenAuth(host={self.host!r}, api_username={self.api_username!r}, key=(hidden))"

    __str__ = __repr__

    # -- requests' AuthBase ------------------------------------------------------------------------------------

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        if self._token is None or time.monotonic() >= self._renew_at:
            self.renew()
        request.headers["Authorization"] = f"Token {self._token}"
        request.register_hook("response", self._retry_once_on_401)
        return request

    def _retry_once_on_401(self, response: Response, **kwargs: Any) -> Response:  # noqa: ANN401
        """A 401 on a metadata call: the token expired or was dropped; get a new one and send the call again once.

        Runs before dlt's raise-for-status hook; the resent call's answer replaces the 401 (a second 401 then
        fails the run through that hook).
        """
        if response.status_code != 401 or response.request is None:
            return response
        if response.request.headers.get("Authorization") == f"Token {self._token}":
            log.info("Metadata API answered 401 for the current token; renewing it and trying once more")
            self.renew()
        # else: a retry re-sent a call prepared with an older token; the current one is still good
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Token {self._token}"
        response.content  # noqa: B018 - consume the body so the connection can be reused
        response.close()
        assert response.connection is not None
        again: Response = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again

    # -- the token ----------------------------------------------------------------------------------------------

    def signed_jwt(self) -> str:
        """The JWT the refresh endpoint wants: `{"username", "iat"}` signed with the private key."""
        if self._key is None:
            self._key = load_private_key(str(self.private_key))
        payload = {"username": self.api_username, "iat": int(time.time())}
        return jwt.encode(payload, self._key, algorithm=self.algorithm)

    def renew(self) -> None:
        """Trade a fresh JWT for a token; MetadataApiRevoked on 403, MetadataApiError on any other refusal."""
        assert self.session is not None, "MonetateTokenAuth needs a requests session"
        url = self.host.rstrip("/") + REFRESH_PATH
        started = time.monotonic()
        response = self.session.get(url, params={"ttl": self.token_ttl},
                                    headers={"Authorization": f"JWT {self.signed_jwt()}"})
        if response.status_code == 403:
            raise MetadataApiRevoked()
        if response.status_code != 200:
            raise MetadataApiError(f"the Metadata API refused the token request ({describe_status(response)}); "
                                   "check SESSION_STREAM__METADATA_API__API_USERNAME, that the public key uploaded "
                                   "for that API user matches the private key, and this machine's clock")
        try:
            data = response.json()["data"]
            token = str(data["token"])
            lifetime = float(data.get("expires_in") or self.token_ttl)
        except (ValueError, KeyError, TypeError):
            raise MetadataApiError("the Metadata API's token response had no data.token") from None
        self._token = token
        self._renew_at = started + lifetime - min(RENEW_MARGIN, lifetime / 10)
        self.renewals += 1


def load_private_key(pem: str) -> Any:  # noqa: ANN401
    """The RSA private key from PEM text; MetadataApiError (without the text) when it is not one."""
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        reason = "it is encrypted; use an unencrypted PKCS#8 key (openssl pkcs8 -topk8 -nocrypt)" \
            if "encrypted" in str(exc).lower() or "password" in str(exc).lower() else "it is not a PEM private key"
        raise MetadataApiError(f"cannot use the Metadata API private key: {reason}") from None
