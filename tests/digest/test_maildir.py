"""MaildirBackend: messages land as files any Maildir reader reads back."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.backends import MaildirBackend, SmtpBackend, backend_for
from digest.config import SmtpConfig
from digest.errors import TemporaryDeliveryError
from digest.sender import DrainStats, Sender
from digest.store import DeliveryKey, NewDelivery, OutboxState
from intracast.store import open_store
from tests.digest.smtpd import SENDER, make_message, opened

T0 = datetime(2025, 3, 10, 8, 30, tzinfo=UTC)


async def test_messages_land_as_files_with_their_message_id(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "outbox"
    async with opened(MaildirBackend(outbox)) as backend:
        replies = [
            await backend.send(SENDER, f"user{n}@example.org", make_message(f"user{n}@example.org", f"<{n}@intracast.test>"))
            for n in range(3)
        ]
    box = mailbox.Maildir(outbox, create=False)
    assert len(list((outbox / "new").iterdir())) == 3
    for n, reply in enumerate(replies):
        assert reply.startswith("maildir: ")
        message = box[reply.removeprefix("maildir: ")]
        assert message["Message-ID"] == f"<{n}@intracast.test>"
        assert message["To"] == f"user{n}@example.org"
        assert message.get_content_type() == "text/plain"


async def test_the_sender_drains_the_outbox_into_the_maildir(tmp_path: Path) -> None:
    recipients = [f"user{n}@example.org" for n in range(5)]
    async with open_store("sqlite:///var/t.db", tmp_path) as store:
        for recipient in recipients:
            mid = f"<daily.{recipient}>"
            key = DeliveryKey("daily", recipient, T0)
            await store.create_delivery(NewDelivery(key, mid, SENDER, make_message(recipient, mid), ()), T0)
        async with opened(MaildirBackend(tmp_path / "var" / "outbox")) as backend:
            assert await Sender(store, backend, rate=1000, clock=lambda: T0).drain() == DrainStats(sent=5)
        rows = await store.outbox()
    assert {row.state for row in rows} == {OutboxState.SENT}
    box = mailbox.Maildir(tmp_path / "var" / "outbox", create=False)
    assert sorted(message["Message-ID"] for message in box) == sorted(f"<daily.{r}>" for r in recipients)


async def test_an_unwritable_maildir_is_temporary(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    async with opened(MaildirBackend(tmp_path / "file" / "outbox")) as backend:  # opens: mail waits, not the daemon
        with pytest.raises(TemporaryDeliveryError) as error:
            await backend.send(SENDER, "an@example.org", make_message("an@example.org", "<1@intracast.test>"))
    assert error.value.reply.startswith(f"maildir {tmp_path / 'file' / 'outbox'}: ")


async def test_send_outside_open_and_close_is_a_bug(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        await MaildirBackend(tmp_path).send(SENDER, "an@example.org", b"")


def test_maildir_is_the_default_without_smtp(tmp_path: Path) -> None:
    assert isinstance(backend_for(None, tmp_path), MaildirBackend)
    smtp = backend_for(SmtpConfig(host="mail.example.org"), tmp_path)
    assert isinstance(smtp, SmtpBackend) and smtp.concurrency == 4
