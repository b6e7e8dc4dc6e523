"""Deliver over SMTP, through a pool of long-lived connections (`smtp:` in the config).

Up to `smtp.max_connections` connections, each carrying many messages; a
connection opens on first use and stays open until `close()`. One `send()` is
one transaction: MAIL, RCPT for the one recipient, DATA.

Security (`smtp.security`):

- `starttls` (default): upgrade with STARTTLS when the server offers it, plain
  otherwise, so `smtp: {host, port}` works against a local relay;
- `require_starttls`: refuse to send in clear when STARTTLS is not offered
  (a misconfigured server, or someone stripping STARTTLS on the way);
- `tls`: implicit TLS from the first byte (port 465);
- `none`: plain.

With `username`, the connection logs in after TLS. Certificates are verified
against the system's CAs, or against the `tls_context` handed in.

Errors:

- a 5xx reply to MAIL, RCPT or DATA, or an address aiosmtplib refuses to send
  -> `PermanentDeliveryError`; a 4xx reply -> `TemporaryDeliveryError`;
- a connection that cannot be set up (refused, timeout, STARTTLS missing under
  `require_starttls`, login refused) -> `TemporaryDeliveryError`, whatever its
  code: it says nothing about the message, so the outbox keeps it for
  `retry_for` while an admin fixes the server or the config. One warning per
  outage says so, and for `hold_down` seconds (5) after a failure the next sends
  fail at once with the same reply instead of each trying to connect;
- a connection lost during a transaction (a server that closed an idle
  connection, a dropped link) -> retried once on a fresh connection, then
  `TemporaryDeliveryError`. A drop after the server took the message but
  before its reply reached us can duplicate it, as any SMTP client would.

After a refused transaction aiosmtplib sends RSET but ignores its outcome; we
send our own, and a connection that fails it (or that got a 421, or timed out)
is closed instead of going back to the pool, so one refused message never
poisons the next.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from digest.config import SmtpConfig
from digest.errors import (
    PermanentDeliveryError,
    TemporaryDeliveryError,
    delivery_error,
    format_reply,
)

log = logging.getLogger(__name__)

HOLD_DOWN = 5.0  # seconds a failed connection setup is answered from memory

# aiosmtplib's start_tls: None = when offered, True = or fail, False = never.
_START_TLS = {"starttls": None, "require_starttls": True, "tls": False, "none": False}


class _ConnectionLost(Exception):
    """The connection dropped during a transaction; `send()` retries once."""


class SmtpBackend:
    def __init__(
        self, config: SmtpConfig, *, tls_context: ssl.SSLContext | None = None, hold_down: float = HOLD_DOWN
    ):
        self.config = config
        self._hold_down = hold_down
        self.concurrency = config.max_connections
        self._tls_context = tls_context
        self._where = f"smtp {config.host}:{config.port}"
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[SMTP] = []
        self._local_hostname: str | None = None
        self._down: tuple[float, TemporaryDeliveryError] | None = None  # (until, why) after a failed setup

    async def open(self) -> None:
        """Ready the pool; connections open on first use, so a server that is down delays mail, not startup."""
        self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        self._slots = asyncio.Semaphore(self.concurrency)

    async def close(self) -> None:
        """Wait for the sends in flight (bounded by `smtp.timeout`), then QUIT every connection."""
        slots, self._slots = self._slots, None
        if slots is None:
            return
        for _ in range(self.concurrency):
            await slots.acquire()
        idle, self._idle = self._idle, []
        async with asyncio.TaskGroup() as tg:
            for smtp in idle:
                tg.create_task(_quit(smtp))

    async def send(self, sender: str, recipient: str, message: bytes) -> str:
        if self._slots is None:
            raise RuntimeError("SmtpBackend.send() outside open() ... close()")
        async with self._slots:
            try:
                return await self._transaction(sender, recipient, message, fresh=False)
            except _ConnectionLost as lost:
                log.debug("smtp.reconnect host=%s reason=%s", self.config.host, lost)
            try:
                return await self._transaction(sender, recipient, message, fresh=True)
            except _ConnectionLost as lost:
                raise TemporaryDeliveryError(None, f"{self._where}: connection lost: {lost}") from lost

    async def _transaction(self, sender: str, recipient: str, message: bytes, *, fresh: bool) -> str:
        smtp = await self._checkout(fresh)
        reusable = False
        try:
            refused, text = await smtp.sendmail(
                sender, [recipient], message, mail_options=_mail_options(sender, recipient)
            )
            reusable = True
        except (SMTPServerDisconnected, ConnectionError) as e:
            raise _ConnectionLost(str(e) or type(e).__name__) from e
        except SMTPRecipientsRefused as e:
            [first, *_] = e.recipients
            reusable = await _reset(smtp)
            raise delivery_error(first.code, first.message) from e
        except SMTPResponseException as e:
            reusable = e.code != 421 and await _reset(smtp)  # 421: the server is closing this connection
            raise delivery_error(e.code, e.message) from e
        except SMTPTimeoutError as e:
            raise TemporaryDeliveryError(None, f"{self._where}: timeout: {e}") from e
        except (SMTPNotSupported, ValueError) as e:
            # Nothing was sent: an address aiosmtplib cannot put on the wire (or needs
            # SMTPUTF8 that the server lacks) will never go.
            reusable = await _reset(smtp)
            raise PermanentDeliveryError(None, f"cannot send to this address: {e}") from e
        finally:
            self._checkin(smtp, reusable)
        if recipient in refused:
            response = refused[recipient]
            raise delivery_error(response.code, response.message)
        return format_reply(250, text)

    async def _checkout(self, fresh: bool) -> SMTP:
        while self._idle and not fresh:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp
            smtp.close()  # the server closed it while idle
        return await self._connect()

    def _checkin(self, smtp: SMTP, reusable: bool) -> None:
        if reusable and smtp.is_connected:
            self._idle.append(smtp)
        else:
            smtp.close()

    async def _connect(self) -> SMTP:
        if self._down is not None and time.monotonic() < self._down[0]:
            known = self._down[1]
            raise TemporaryDeliveryError(known.code, known.reply, throttled=known.throttled)
        config = self.config
        smtp = SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password if config.username else None,
            local_hostname=self._local_hostname,
            timeout=config.timeout,
            use_tls=config.security == "tls",
            start_tls=_START_TLS[config.security],
            tls_context=self._tls_context,
        )
        try:
            await smtp.connect()
        except (SMTPException, OSError) as e:
            smtp.close()
            raise self._setup_failed(e) from e
        except BaseException:
            smtp.close()
            raise
        if self._down is not None:
            log.info("smtp.connect_recovered host=%s port=%d", config.host, config.port)
            self._down = None
        log.debug("smtp.connected host=%s port=%d security=%s", config.host, config.port, config.security)
        return smtp

    def _setup_failed(self, error: Exception) -> TemporaryDeliveryError:
        code = error.code if isinstance(error, SMTPResponseException) else None
        text = error.message if isinstance(error, SMTPException) else str(error) or type(error).__name__
        reply = format_reply(code, text)
        log.log(
            logging.WARNING if self._down is None else logging.DEBUG,
            "smtp.connect_failed host=%s port=%d security=%s error=%r",
            self.config.host, self.config.port, self.config.security, reply,
        )
        failure = TemporaryDeliveryError(code, f"{self._where}: {reply}")
        self._down = (time.monotonic() + self._hold_down, failure)
        return failure


def _mail_options(sender: str, recipient: str) -> list[str]:
    """SMTPUTF8 only for an internationalised address (RFC 6531); plain ASCII needs nothing."""
    return [] if sender.isascii() and recipient.isascii() else ["SMTPUTF8"]


async def _reset(smtp: SMTP) -> bool:
    """RSET after a refused transaction; True when the connection can carry the next message."""
    if not smtp.is_connected:
        return False
    try:
        await smtp.rset()
    except (SMTPException, OSError):
        return False
    return True


async def _quit(smtp: SMTP) -> None:
    try:
        if smtp.is_connected:
            await smtp.quit()
    except (SMTPException, OSError) as e:
        log.debug("smtp.quit_failed error=%s", e)  # closing anyway; nothing is lost
    finally:
        smtp.close()
