"""A DNS server on loopback for name-lookup tests, so no query ever leaves the machine.

A process started through :meth:`LoopbackDns.wrap` runs in its own mount namespace (``unshare -m``) where
``/etc/resolv.conf`` names only this server, so glibc's resolver asks it and nothing else; the system's own
resolver configuration is never touched. The server answers every query with NXDOMAIN ("no such host": what a
mistyped host gets), or SERVFAIL ("the resolver is in trouble": a temporary failure) when `servfail` is set.
"""

from __future__ import annotations

import random
import shutil
import socket
import struct
import threading
from pathlib import Path
from typing import Self

import pytest

from support.servers import is_ci

NXDOMAIN, SERVFAIL = 3, 2


class LoopbackDns:
    """A UDP DNS responder on a random 127.x.y.z address, port 53; `queries` counts what it was asked."""

    def __init__(self, folder: Path, *, servfail: bool = False) -> None:
        if shutil.which("unshare") is None:
            _unavailable("unshare (util-linux) is not installed")
        self.rcode = SERVFAIL if servfail else NXDOMAIN
        self.address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        self.resolv_conf = folder / "resolv.conf"
        self.resolv_conf.write_text(f"nameserver {self.address}\noptions timeout:1 attempts:1\n")
        self.queries = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        try:
            self._sock.bind((self.address, 53))
        except PermissionError:
            _unavailable("binding port 53 on loopback needs root")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` run in a private mount namespace whose /etc/resolv.conf names only this server."""
        return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"',
                str(self.resolv_conf), *argv]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                query, peer = self._sock.recvfrom(512)
            except TimeoutError:
                continue
            if len(query) < 12:
                continue
            self.queries += 1
            ident, flags = struct.unpack("!HH", query[:4])
            header = struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x0100) | 0x0080 | self.rcode, 1, 0, 0, 0)
            self._sock.sendto(header + _question(query), peer)  # the question echoed, no answers


def _question(query: bytes) -> bytes:
    """The question section of a query (name labels up to the root, then type and class)."""
    end = 12
    while end < len(query) and query[end]:
        end += 1 + query[end]
    return query[12:end + 5]


def _unavailable(why: str) -> None:
    if is_ci():
        pytest.fail(f"the loopback DNS server cannot run: {why}")
    pytest.skip(f"the loopback DNS server cannot run: {why}")
