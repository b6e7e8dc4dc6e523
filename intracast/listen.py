"""Bind `server.listen` (or `run --listen`) first, before the daemon opens its store or starts any work.

A second daemon started on a busy port then stops with one line that names the
address and the way out (issue 14, item 7), instead of a traceback after it
has migrated the database and started its sender.

The sockets are bound the way asyncio's `create_server` binds a host: every
address the name resolves to, `SO_REUSEADDR` so that a restart does not wait
for TIME_WAIT, IPv6 sockets IPv6-only so that they do not collide with the
IPv4 ones. aiohttp's `SockSite` listens on them.
"""

from __future__ import annotations

import errno
import socket

from pydantic import ValidationError

from intracast.config.model import ServerConfig


class ListenError(Exception):
    """The daemon cannot listen where it was told to; `str()` is the whole line for the admin."""

    def __init__(self, address: str, reason: str, *, busy: bool = False):
        super().__init__(address, reason)
        self.address, self.reason, self.busy = address, reason, busy

    def __str__(self) -> str:
        who = "; another program listens there (a second intracast?)" if self.busy else ""
        return (f"cannot listen on {self.address}: {self.reason}{who}; "
                f"choose another address with --listen HOST:PORT or server.listen")


def bind(listen: str) -> list[socket.socket]:
    """Sockets bound to every address of `listen` (HOST:PORT), not yet listening; or `ListenError`."""
    host, port = _split(listen)
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ListenError(listen, e.strerror or str(e)) from e
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as e:
        for sock in sockets:
            sock.close()
        busy = e.errno == errno.EADDRINUSE
        raise ListenError(listen, (e.strerror or str(e)).lower(), busy=busy) from e
    return sockets


def _split(listen: str) -> tuple[str, int]:
    """`server.listen`'s own check, for `--listen` too."""
    try:
        server = ServerConfig(listen=listen)
    except ValidationError as e:
        raise ListenError(listen, e.errors()[0]["msg"].removeprefix("Value error, ")) from e
    return server.host, server.port
