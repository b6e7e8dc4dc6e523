"""SmtpBackend against a real aiosmtpd server on loopback: pool, replies, TLS, login."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any

import pytest

from digest.config import SmtpConfig
from digest.errors import (
    PermanentDeliveryError,
    TemporaryDeliveryError,
    delivery_error,
)
from digest.backends.smtp import SmtpBackend
from tests.digest.smtpd import (
    PASSWORD,
    SENDER,
    USERNAME,
    RecordingHandler,
    client_context,
    make_certificate,
    make_message,
    opened,
    server_context,
    smtp_server,
)


def config(port: int, **options: Any) -> SmtpConfig:
    return SmtpConfig.model_validate({"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5, **options})


async def send(backend: SmtpBackend, recipient: str, n: int = 0) -> str:
    return await backend.send(SENDER, recipient, make_message(recipient, f"<{n}.daily@intracast.test>"))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return server_context(*certificate)


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return client_context(certificate[0])


async def test_plain_delivery_returns_the_servers_reply() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port))) as backend:
        reply = await send(backend, "an@example.org", 7)
    assert reply == "250 2.0.0 Ok: queued as 1"
    [received] = handler.messages
    assert (received.mail_from, received.recipient, received.tls) == (SENDER, "an@example.org", False)
    assert b"Message-ID: <7.daily@intracast.test>" in received.content


async def test_one_connection_carries_many_messages() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port))) as backend:
        for n in range(20):
            await send(backend, f"user{n}@example.org", n)
    assert len(handler.messages) == 20
    assert handler.connections == 1
    assert {m.connection for m in handler.messages} == {1}


async def test_the_pool_never_exceeds_max_connections() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server:
        async with opened(SmtpBackend(config(server.port, max_connections=3))) as backend:
            async with asyncio.TaskGroup() as tg:
                for n in range(30):
                    tg.create_task(send(backend, f"user{n}@example.org", n))
    assert len(handler.recipients()) == 30
    assert 1 <= handler.connections <= 3


async def test_a_refused_recipient_does_not_poison_the_connection() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port))) as backend:
        with pytest.raises(PermanentDeliveryError) as refused:
            await send(backend, "hard@example.org")
        await send(backend, "an@example.org")
    assert (refused.value.code, refused.value.reply) == (550, "550 5.1.1 No such user")
    assert handler.recipients() == {"an@example.org": 1}
    assert handler.connections == 1


async def test_greylisting_is_temporary_and_the_next_attempt_goes() -> None:
    handler = RecordingHandler(soft_failures=1)
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port))) as backend:
        with pytest.raises(TemporaryDeliveryError) as deferred:
            await send(backend, "soft@example.org")
        await send(backend, "soft@example.org")
    assert (deferred.value.code, deferred.value.reply) == (451, "451 4.7.1 Greylisted, try again later")
    assert handler.recipients() == {"soft@example.org": 1}
    assert handler.connections == 1


async def test_421_is_throttling_and_the_connection_is_replaced() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port))) as backend:
        with pytest.raises(TemporaryDeliveryError) as throttled:
            await send(backend, "throttle@example.org")
        await send(backend, "an@example.org")
    assert throttled.value.throttled
    assert throttled.value.reply == "421 4.7.0 Too many connections, slow down"
    assert handler.recipients() == {"an@example.org": 1}
    assert handler.connections == 2


async def test_a_connection_dropped_mid_data_is_retried_once_on_a_fresh_one() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port))) as backend:
        await send(backend, "first@example.org")
        handler.drop_data = 1
        reply = await send(backend, "an@example.org")
    assert reply.startswith("250 ")
    assert handler.dropped == 1
    assert handler.recipients() == {"first@example.org": 1, "an@example.org": 1}
    assert handler.connections == 2


async def test_a_second_drop_is_reported_as_temporary() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port))) as backend:
        handler.drop_data = 2
        with pytest.raises(TemporaryDeliveryError) as lost:
            await send(backend, "an@example.org")
        await send(backend, "next@example.org")
    assert lost.value.code is None and "connection lost" in lost.value.reply
    assert not lost.value.throttled
    assert handler.recipients() == {"next@example.org": 1}


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port))) as backend:
        await send(backend, "first@example.org")
        server.hang_up()
        await send(backend, "second@example.org")
    assert handler.recipients() == {"first@example.org": 1, "second@example.org": 1}
    assert handler.connections == 2


async def test_an_address_that_cannot_go_on_the_wire_is_permanent() -> None:
    handler = RecordingHandler()
    message = make_message("an@example.org", "<1@intracast.test>")
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port))) as backend:
        with pytest.raises(PermanentDeliveryError) as invalid:
            await backend.send(SENDER, "a n@example.org", message)
        with pytest.raises(PermanentDeliveryError):
            await backend.send(SENDER, "jörg@example.org", message)  # SMTPUTF8, which this server lacks
        await send(backend, "an@example.org")
    assert invalid.value.code is None
    assert handler.recipients() == {"an@example.org": 1}
    assert handler.connections == 1


async def test_a_server_that_is_down_is_temporary() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server:
        port = server.port
    async with opened(SmtpBackend(config(port))) as backend:
        with pytest.raises(TemporaryDeliveryError) as down:
            await send(backend, "an@example.org")
    assert down.value.reply.startswith(f"smtp 127.0.0.1:{port}: ")


async def test_starttls_is_used_when_offered(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    handler = RecordingHandler()
    async with smtp_server(handler, starttls=server_tls) as server:
        async with opened(SmtpBackend(config(server.port, security="starttls"), tls_context=client_tls)) as backend:
            await send(backend, "an@example.org")
    [received] = handler.messages
    assert received.tls


async def test_starttls_falls_back_to_plain_when_not_offered() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server, opened(SmtpBackend(config(server.port, security="starttls"))) as backend:
        await send(backend, "an@example.org")
    [received] = handler.messages
    assert not received.tls


async def test_require_starttls_refuses_a_plain_server() -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server:
        async with opened(SmtpBackend(config(server.port, security="require_starttls"))) as backend:
            with pytest.raises(TemporaryDeliveryError) as refused:
                await send(backend, "an@example.org")
    assert "STARTTLS" in refused.value.reply and refused.value.code is None
    assert handler.messages == []


async def test_a_failed_setup_is_remembered_briefly_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """An outage costs one connection attempt and one warning per hold-down, not one per queued message."""
    handler = RecordingHandler()
    async with smtp_server(handler) as server:
        async with opened(SmtpBackend(config(server.port, security="require_starttls"))) as backend:
            with caplog.at_level(logging.DEBUG, logger="digest.backends.smtp"):
                replies = []
                for n in range(3):
                    with pytest.raises(TemporaryDeliveryError) as refused:
                        await send(backend, f"user{n}@example.org")
                    replies.append(refused.value.reply)
    assert len(set(replies)) == 1
    assert handler.connections == 1
    assert [r.levelname for r in caplog.records if "smtp.connect_failed" in r.getMessage()] == ["WARNING"]


async def test_require_starttls_sends_over_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    handler = RecordingHandler()
    async with smtp_server(handler, starttls=server_tls) as server:
        backend = SmtpBackend(config(server.port, security="require_starttls"), tls_context=client_tls)
        async with opened(backend):
            await send(backend, "an@example.org")
    assert [m.tls for m in handler.messages] == [True]


async def test_an_untrusted_certificate_is_refused(server_tls: ssl.SSLContext) -> None:
    handler = RecordingHandler()
    async with smtp_server(handler, starttls=server_tls) as server:
        async with opened(SmtpBackend(config(server.port, security="starttls"))) as backend:
            with pytest.raises(TemporaryDeliveryError) as refused:
                await send(backend, "an@example.org")
    assert "certificate" in refused.value.reply.lower()
    assert handler.messages == []


async def test_implicit_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    handler = RecordingHandler()
    async with smtp_server(handler, implicit_tls=server_tls) as server:
        async with opened(SmtpBackend(config(server.port, security="tls"), tls_context=client_tls)) as backend:
            await send(backend, "an@example.org")
    assert [m.tls for m in handler.messages] == [True]


async def test_login_after_starttls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    handler = RecordingHandler()
    async with smtp_server(handler, starttls=server_tls, auth=True) as server:
        smtp = config(server.port, security="starttls", username=USERNAME, password=PASSWORD)
        async with opened(SmtpBackend(smtp, tls_context=client_tls)) as backend:
            await send(backend, "an@example.org")
            await send(backend, "bo@example.org")
    assert [(m.login, m.tls) for m in handler.messages] == [(USERNAME, True)] * 2
    assert handler.connections == 1


async def test_a_refused_login_is_temporary(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    """A wrong password says nothing about the message: keep it while an admin fixes the config."""
    handler = RecordingHandler()
    async with smtp_server(handler, starttls=server_tls, auth=True) as server:
        smtp = config(server.port, security="starttls", username=USERNAME, password="wrong")
        async with opened(SmtpBackend(smtp, tls_context=client_tls)) as backend:
            with pytest.raises(TemporaryDeliveryError) as refused:
                await send(backend, "an@example.org")
    assert refused.value.code == 535
    assert handler.messages == []


async def test_close_lets_the_transaction_in_flight_finish() -> None:
    handler = RecordingHandler()
    handler.gate = asyncio.Event()
    async with smtp_server(handler) as server:
        backend = SmtpBackend(config(server.port))
        await backend.open()
        async with asyncio.TaskGroup() as tg:
            sending = tg.create_task(send(backend, "an@example.org"))
            await handler.in_data.wait()
            closing = tg.create_task(backend.close())
            handler.gate.set()
            await closing
            assert sending.done()
    assert sending.result().startswith("250 ")
    assert handler.recipients() == {"an@example.org": 1}
    assert handler.connections == 1  # finished on its connection, not retried on another


async def test_send_outside_open_and_close_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        await SmtpBackend(config(25)).send(SENDER, "an@example.org", b"")


@pytest.mark.parametrize(
    ("code", "text", "kind", "throttled"),
    [
        (451, "4.7.1 Greylisted", TemporaryDeliveryError, True),
        (421, "4.7.0 Too many connections", TemporaryDeliveryError, True),
        (452, "4.5.3 Too many recipients", TemporaryDeliveryError, True),
        (441, "4.4.1 No answer from host", TemporaryDeliveryError, False),
        (471, "4.7.28 Rate limit exceeded", TemporaryDeliveryError, True),
        (450, "4.2.1 Mailbox busy", TemporaryDeliveryError, True),
        (550, "5.1.1 No such user", PermanentDeliveryError, None),
        (554, "5.7.1 Rejected: too many spam reports", PermanentDeliveryError, None),
        (None, "Connection lost", TemporaryDeliveryError, False),
    ],
)
def test_replies_are_classified_by_code(code: int | None, text: str, kind: type, throttled: bool | None) -> None:
    error = delivery_error(code, text)
    assert type(error) is kind
    assert error.code == code
    if throttled is not None:
        assert error.throttled is throttled


def test_a_multi_line_reply_is_kept_on_one_line() -> None:
    error = delivery_error(550, "5.7.1 Message rejected\nsee https://example.org/why")
    assert error.reply == "550 5.7.1 Message rejected see https://example.org/why"
    assert str(error) == error.reply
