"""Delivery backends: one module each, all meeting `base.Backend`.

`smtp` when the config has an `smtp:` section, else `maildir` into the
outbox folder (DESIGN.md: a fresh machine needs no mail server).
"""

from __future__ import annotations

from pathlib import Path

from digest.backends.base import Backend
from digest.backends.maildir import MaildirBackend
from digest.backends.smtp import SmtpBackend
from digest.config import SmtpConfig

__all__ = ["Backend", "MaildirBackend", "SmtpBackend", "backend_for"]


def backend_for(smtp: SmtpConfig | None, maildir: Path) -> Backend:
    """The backend the config asks for: SMTP when configured, else a Maildir at `maildir`."""
    return SmtpBackend(smtp) if smtp is not None else MaildirBackend(maildir)
