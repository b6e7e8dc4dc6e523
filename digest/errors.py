"""Errors raised by the digest pipeline.

A delivery backend raises a `DeliveryError` subclass, and the sender decides
on its class (and `throttled`), never on the message text:

- `TemporaryDeliveryError`: a 4xx reply, a lost connection, a timeout, or a
  connection that cannot be set up (refused, STARTTLS missing, login refused).
  The row is deferred with backoff until `smtp.retry_for` runs out.
- `PermanentDeliveryError`: a 5xx reply to the message (MAIL, RCPT, DATA), or
  an address that cannot be sent at all. The row fails.
"""

from __future__ import annotations

import re

# Replies that ask us to slow down: 421 (closing, often "too many
# connections"), 450/451/452/454 (local trouble, quotas), or any text naming
# a rate, throttling or "too many".
THROTTLING_CODES = frozenset({421, 450, 451, 452, 454})
_THROTTLING_TEXT = re.compile(r"rate|throttl|too many", re.IGNORECASE)


class DigestError(Exception):
    """Base of the digest pipeline's errors."""


class DeliveryError(DigestError):
    """A message was not delivered: `code` is the SMTP code (None without a reply)."""

    def __init__(self, code: int | None, reply: str):
        super().__init__(reply)
        self.code = code
        self.reply = reply


class TemporaryDeliveryError(DeliveryError):
    """Try again later; `throttled` when the server asked us to slow down."""

    def __init__(self, code: int | None, reply: str, *, throttled: bool | None = None):
        super().__init__(code, reply)
        self.throttled = is_throttling(code, reply) if throttled is None else throttled


class PermanentDeliveryError(DeliveryError):
    """The server refused this message for good (5xx), or the address is invalid."""


def is_throttling(code: int | None, reply: str) -> bool:
    return code in THROTTLING_CODES or bool(_THROTTLING_TEXT.search(reply))


def format_reply(code: int | None, text: str) -> str:
    """`451 4.7.1 Greylisted` on one line (multi-line replies joined by spaces)."""
    text = " ".join(text.split())
    return text if code is None else f"{code} {text}".rstrip()


def delivery_error(code: int | None, text: str) -> DeliveryError:
    """The error for a server's refusal: 5xx permanent, anything else temporary."""
    reply = format_reply(code, text)
    if code is not None and 500 <= code <= 599:
        return PermanentDeliveryError(code, reply)
    return TemporaryDeliveryError(code, reply)
