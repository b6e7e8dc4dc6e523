"""Outbox: the latest messages and how their delivery goes; one message as it was sent.

A message is shown from the stored bytes, the very ones handed to SMTP or
the Maildir: its headers, its text part, and its HTML part in an iframe.
The HTML comes from a URL of its own whose Content-Security-Policy puts it
in a sandbox (no scripts, no forms, an origin of its own), so a mail,
whatever it holds, cannot act as the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Any

from aiohttp import hdrs, web

from digest.store import OutboxRow, OutboxState
from intracast.admin.i18n import N_
from intracast.admin.render import FRAMING_CSP
from intracast.admin.site import SITE, Site

LATEST = 100
# Inline styles and remote images, as a mail client shows them; nothing that runs.
MAIL_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'self'"


@dataclass(frozen=True)
class MessageView:
    row: OutboxRow
    subject: str

    @property
    def state(self) -> str:
        """The outbox state, and `deferred` for a pending message that has failed before."""
        return "deferred" if self.row.state == OutboxState.PENDING and self.row.attempts else self.row.state.value


def mount(site: Site) -> None:
    site.page("/outbox", "admin.outbox", N_("Outbox"), outbox_page)
    site.route(hdrs.METH_GET, r"/outbox/{id:\d+}", "admin.message", message_page)
    site.route(hdrs.METH_GET, r"/outbox/{id:\d+}/html", "admin.message_html", message_html)


async def outbox_page(request: web.Request) -> web.Response:
    site = request.app[SITE]
    parser = BytesHeaderParser(policy=policy.default)
    rows = [MessageView(row, str(parser.parsebytes(row.message)["Subject"] or ""))
            for row in await site.admin.store.outbox(LATEST)]
    return site.render(request, "outbox.html", messages=rows)


async def message_page(request: web.Request) -> web.Response:
    site = request.app[SITE]
    row = await site.admin.store.delivery(int(request.match_info["id"]))
    if row is None:
        return site.render(request, "missing.html", status=404)
    message = _parse(row)
    view = MessageView(row, str(message["Subject"] or ""))
    return site.render(request, "message.html", csp=FRAMING_CSP, message=view,
                       **mail_parts(message, site.url("admin.message_html", id=str(row.id))))


async def message_html(request: web.Request) -> web.Response:
    site = request.app[SITE]
    row = await site.admin.store.delivery(int(request.match_info["id"]))
    response = html_response(_parse(row)) if row else None
    return site.render(request, "missing.html", status=404) if response is None else response


def mail_parts(message: EmailMessage, html_url: str) -> dict[str, Any]:
    """What `_mail.html` shows of a message: its headers, its text part, and the URL its HTML part
    is framed from (None when it has none), which answers with `html_response`."""
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    return {"headers": [(name, str(value)) for name, value in message.items()],
            "text": text.get_content() if text else None, "html_url": html_url if html else None}


def html_response(message: EmailMessage) -> web.Response | None:
    """The message's HTML part, in the mail sandbox; None when it has none."""
    html = message.get_body(("html",))
    if html is None:
        return None
    return web.Response(text=html.get_content(), content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": MAIL_CSP})


def _parse(row: OutboxRow) -> EmailMessage:
    message = message_from_bytes(row.message, policy=policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default makes
    return message
