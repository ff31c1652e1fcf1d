"""The Metadata API's failures as exceptions whose message is the one line the user needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from requests import Response


class MetadataApiError(Exception):
    """The metadata refresh failed; the message says why and what to do (never a key or token)."""


class MetadataApiRevoked(MetadataApiError):
    """403: the API key was revoked. Retrying cannot help; a person must issue a new key."""

    def __init__(self) -> None:
        super().__init__("the Metadata API refused the API key (403: revoked). A Monetate account administrator must "
                         "issue a new API key (upload a new public key for the API user) and the private key "
                         "setting must be updated; session data is unaffected")


def describe_status(response: Response) -> str:
    """`401 invalid JWT`: the status and the API's first error message, short enough for one line."""
    try:
        errors = response.json().get("meta", {}).get("errors") or []
        first = str(errors[0])[:200] if errors else ""
    except (ValueError, AttributeError):
        first = ""
    return f"{response.status_code} {first}".strip()
