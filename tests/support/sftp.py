"""How a test reaches an SFTP test server (a PrivateSshd or a QuirkSftpServer) serving a local folder.

Two forms of the same thing: the loader's command-line flags (:func:`sftp_args`) and, for tests that drive
the transport in process, the source's credentials spec (:func:`sftp_credentials`). `port=` reaches the
server through another port (a FaultProxy, a closed port, a port that does not speak SSH).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dlt_pipeline.session_stream.config import SftpCredentials

TRANSPORT_DEFAULTS: dict[str, Any] = {"timeout": 3, "retries": 2, "backoff": 0.05}
"""Small timeouts and retries for in-process transports, so failing paths stay fast."""


def sftp_url(server: Any, root: str | os.PathLike[str], port: int | None = None) -> str:  # noqa: ANN401
    """``sftp://USER@127.0.0.1:PORT/abs/path`` of a local folder served by `server` (through `port` if given)."""
    return f"sftp://{server.user}@{server.host}:{port or server.port}{os.path.abspath(os.fspath(root))}"


def sftp_args(server: Any, root: Path, *, port: int | None = None, key: Path | None = None,  # noqa: ANN401
              known_hosts: Path | None = None) -> list[str]:
    """--source/--private-key/--known-hosts for `run.py`; through a proxy `port`, a known_hosts for that port."""
    if known_hosts is None:
        known_hosts = server.known_hosts_path if port in (None, server.port) else server.known_hosts_for(port)
    return ["--source", sftp_url(server, root, port), "--private-key", str(key or server.client_key_path),
            "--known-hosts", str(known_hosts)]


def sftp_credentials(server: Any, root: Path | str, *, port: int | None = None,  # noqa: ANN401
                     **fields: Any) -> SftpCredentials:  # noqa: ANN401
    """Credentials for `server` serving `root`; `fields` override the key, known_hosts and TRANSPORT_DEFAULTS."""
    values: dict[str, Any] = {"private_key": str(server.client_key_path),
                              "known_hosts": str(server.known_hosts_path), **TRANSPORT_DEFAULTS, **fields}
    creds = SftpCredentials()
    creds.url = sftp_url(server, root, port)
    for name, value in values.items():
        setattr(creds, name, value)
    return creds


def first_request(credentials: SftpCredentials) -> None:
    """Open an SftpTransport and list its root: it connects in the background, so a connection that fails
    (refused key, unknown or changed host key, nothing listening) raises from this first request."""
    from dlt_pipeline.session_stream.sftp_transport import SftpTransport

    transport = SftpTransport(credentials)
    try:
        transport.list_dir("")
    finally:
        transport.close()
