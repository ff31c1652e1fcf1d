"""How the `session_stream` source reaches the vendor: the account folder and how to log in to it.

Filled from the one configuration (`[session_stream]`: `source`, `private_key`, `sftp_password`, ...; see
`dlt_pipeline/settings.py` and docs/configuration.md) by the command line and the source alike; a user may
also pass one to `session_stream(credentials=...)`, whose set fields then count as arguments.
"""

from __future__ import annotations

from typing import Any, Optional  # noqa: UP035 - dlt reads these hints at runtime

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import CredentialsConfiguration
from dlt.common.typing import TSecretStrValue


@configspec
class SftpCredentials(CredentialsConfiguration):
    """The account's `session_stream` folder and how to log in to it.

    `url` is `sftp://USER@HOST[:PORT]/ACCOUNT/raw_data/session_stream` or a local folder with the same
    layout. `private_key` is a key file path or the key's PEM text. The server's host key is checked against
    `known_hosts` (default `~/.ssh/known_hosts`) unless `trust_host_key` pins its SHA256 fingerprint.
    """

    url: str = None
    private_key: Optional[TSecretStrValue] = None  # noqa: UP045
    private_key_passphrase: Optional[TSecretStrValue] = None  # noqa: UP045
    password: Optional[TSecretStrValue] = None  # noqa: UP045
    known_hosts: Optional[str] = None  # noqa: UP045
    trust_host_key: Optional[str] = None  # noqa: UP045
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0

    def parse_native_representation(self, native_value: Any) -> None:
        """A bare string is the URL: `session_stream("sftp://user@host/12345/raw_data/session_stream")`."""
        if not isinstance(native_value, str):
            raise ValueError(f"expected an sftp:// URL or a folder, not {type(native_value).__name__}")
        self.url = native_value

    def to_native_representation(self) -> str:
        return self.url
