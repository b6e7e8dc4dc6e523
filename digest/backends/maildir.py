"""Deliver into a Maildir: the default when the config has no `smtp:`.

Each message becomes one file in `<path>/new/`, written in a worker thread by
the standard library's `mailbox.Maildir` (a unique name, written under `tmp/`
and renamed, so a reader never sees half a message). Any mail client, or
`mailbox.Maildir(path)`, reads them; the admin pages list them. Nothing is
sent anywhere: this is the demo's and the developer's outbox.

A failure to write (disk full, permissions) is a `TemporaryDeliveryError`: the
outbox keeps the message and retries it. That includes the Maildir's folders:
when `open()` cannot make them, it warns and `send()` tries again, so a full
disk delays mail, not the daemon's start (as a mail server that is down does
for the SMTP backend; issue 8's fault suite, tests/faults/test_disk_full.py).
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
from pathlib import Path

from digest.errors import TemporaryDeliveryError

log = logging.getLogger(__name__)


class MaildirBackend:
    concurrency = 1  # one writer: mailbox.Maildir's unique-name counter is not thread-safe

    def __init__(self, path: Path):
        self.path = path
        self._open = False
        self._box: mailbox.Maildir | None = None  # None while its folders could not be made

    async def open(self) -> None:
        self._open = True
        try:
            self._box = await asyncio.to_thread(_maildir, self.path)
        except OSError as e:
            log.warning("maildir.unavailable path=%s error=%s", self.path, e)

    async def send(self, sender: str, recipient: str, message: bytes) -> str:
        if not self._open:
            raise RuntimeError("MaildirBackend.send() outside open() ... close()")
        try:
            if self._box is None:
                self._box = await asyncio.to_thread(_maildir, self.path)
            key = await asyncio.to_thread(self._box.add, message)
        except OSError as e:
            raise TemporaryDeliveryError(None, f"maildir {self.path}: {e}") from e
        return f"maildir: {key}"

    async def close(self) -> None:
        self._open = False
        self._box = None


def _maildir(path: Path) -> mailbox.Maildir:
    path.parent.mkdir(parents=True, exist_ok=True)  # Maildir(create=True) makes only the last folder
    return mailbox.Maildir(path, create=True)
