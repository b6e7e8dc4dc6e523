"""The admin's log lines: every login and every action, one line each, `admin.login` / `admin.action`.

Values an admin or a visitor typed (a username, a search, a reason) are
quoted when they hold spaces, quotes or control characters, so that no
input can forge a second log line or a field of its own.
"""

from __future__ import annotations

import json
import logging
import re

log = logging.getLogger(__name__)

_PLAIN = re.compile(r'[^\s"=\\]{1,200}')
MAX_VALUE = 200


def field(value: object) -> str:
    text = str(value)
    return text if _PLAIN.fullmatch(text) else json.dumps(text[:MAX_VALUE])


def login(outcome: str, user: str, ip: str | None) -> None:
    """outcome: ok, failed (a wrong name or password), or locked (refused unchecked: too many failures)."""
    level = logging.INFO if outcome == "ok" else logging.WARNING
    log.log(level, "admin.login outcome=%s user=%s ip=%s", outcome, field(user), field(ip or "-"))


def action(user: str, name: str, target: str) -> None:
    log.info("admin.action user=%s action=%s target=%s", field(user), name, field(target))
