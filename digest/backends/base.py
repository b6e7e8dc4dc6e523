"""The contract every delivery backend meets (cf. Django's mail backends).

The owner calls `open()` once, then `send()` any number of times, up to
`concurrency` of them at once, then `close()` once all sends have returned.
`send()` hands one message to one recipient and returns the server's reply
(`250 2.0.0 Ok: queued as ...`), or raises a `DeliveryError` subclass
(`digest.errors`) saying whether a later attempt may succeed. Any other
exception is a bug; the sender logs it and keeps the message.
"""

from __future__ import annotations

from typing import Protocol


class Backend(Protocol):
    concurrency: int
    """How many `send()` calls may run at once (an SMTP backend's pool size)."""

    async def open(self) -> None: ...

    async def send(self, sender: str, recipient: str, message: bytes) -> str: ...

    async def close(self) -> None: ...
