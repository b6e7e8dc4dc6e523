"""A recording SMTP server on loopback (aiosmtpd), in the test's own event loop.

The handler answers per recipient, on cue from the address's local part:

- `soft...`: `451 4.7.1 Greylisted` for the first `soft_failures` attempts
  at that address, then accepted;
- `hard...`: `550 5.1.1 No such user`;
- `throttle...`: `421 4.7.0 Too many connections, slow down`;
- anything else: accepted.

Switches: `drop_data = n` closes the connection on the next n DATA commands
(after the content arrived, before the reply: the message is not recorded);
`gate` (an `asyncio.Event`) holds every DATA reply until set; `in_data` is set
as soon as a DATA arrives, `received` once a message is recorded. The server
runs in the test's loop (not aiosmtpd's `Controller` thread), so these events
work across both sides, and `connections` counts what the server accepted.

Certificates: `make_certificate()` writes a self-signed one for 127.0.0.1
with `openssl req` (neither `cryptography` nor `trustme` is installed).
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from digest.backends.base import Backend

USERNAME, PASSWORD = "digest", "s3cret"
SENDER = "digest@intranet.example.org"
B = TypeVar("B", bound=Backend)


def make_message(recipient: str, message_id: str) -> bytes:
    """A small RFC 5322 message, as the renderer would put it in the outbox."""
    mail = EmailMessage()
    mail["From"] = SENDER
    mail["To"] = recipient
    mail["Subject"] = "Your digest"
    mail["Message-ID"] = message_id
    mail.set_content("3 new items on the intranet.\n")
    return mail.as_bytes(policy=policy.SMTP)


@asynccontextmanager
async def opened(backend: B) -> AsyncIterator[B]:
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipient: str
    content: bytes
    connection: int  # which connection (1-based) carried it
    tls: bool
    login: str | None


class RecordingHandler:
    def __init__(self, *, soft_failures: int = 1):
        self.soft_failures = soft_failures
        self.messages: list[Received] = []
        self.connections = 0
        self.attempts: Counter[str] = Counter()
        self.drop_data = 0
        self.dropped = 0
        self.gate: asyncio.Event | None = None
        self.in_data = asyncio.Event()
        self.received = asyncio.Event()
        self._connection_of: dict[int, int] = {}

    def recipients(self) -> Counter[str]:
        return Counter(message.recipient for message in self.messages)

    def connected(self, server: SMTP) -> None:
        self.connections += 1
        self._connection_of[id(server)] = self.connections

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.partition("@")[0].lower()
        self.attempts[address] += 1
        if local.startswith("hard"):
            return "550 5.1.1 No such user"
        if local.startswith("throttle"):
            return "421 4.7.0 Too many connections, slow down"
        if local.startswith("soft") and self.attempts[address] <= self.soft_failures:
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.in_data.set()
        if self.drop_data > 0:
            self.drop_data -= 1
            self.dropped += 1
            assert server.transport is not None
            server.transport.close()
            return "451 4.3.0 never seen: the connection is gone"
        if self.gate is not None:
            await self.gate.wait()
        tls = server.transport is not None and server.transport.get_extra_info("sslcontext") is not None
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        for recipient in envelope.rcpt_tos:
            self.messages.append(
                Received(envelope.mail_from, recipient, envelope.content, self._connection_of[id(server)], tls, login)
            )
        self.received.set()
        return f"250 2.0.0 Ok: queued as {len(self.messages)}"


def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (USERNAME.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@dataclass
class Loopback:
    port: int
    protocols: list[SMTP]

    def hang_up(self) -> None:
        """Close every connection from the server's side, as a server does to idle clients."""
        for protocol in self.protocols:
            if protocol.transport is not None:
                protocol.transport.close()


@asynccontextmanager
async def smtp_server(
    handler: RecordingHandler,
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    auth: bool = False,
) -> AsyncIterator[Loopback]:
    """Serve on 127.0.0.1 until the block ends. `auth` requires a login (over TLS)."""
    loop = asyncio.get_running_loop()
    protocols: list[SMTP] = []

    def factory() -> SMTP:
        options: dict[str, Any] = {"authenticator": authenticator, "auth_required": True} if auth else {}
        server = SMTP(handler, hostname="localhost", tls_context=starttls, loop=loop, **options)
        handler.connected(server)
        protocols.append(server)
        return server

    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=implicit_tls)
    loopback = Loopback(server.sockets[0].getsockname()[1], protocols)
    try:
        yield loopback
    finally:
        server.close()
        for protocol in protocols:  # aiosmtpd keeps the socket under a STARTTLS layer as _original_transport
            for transport in (protocol.transport, protocol._original_transport):
                if transport is not None:
                    transport.abort()
        await server.wait_closed()
        tasks = [p._handler_coroutine for p in protocols if p._handler_coroutine is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_context(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))
