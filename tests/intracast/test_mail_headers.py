"""The headers a mailbox provider parses, read from the raw bytes it receives, never through Python's decoding.

Gmail, Yahoo and Outlook read List-Unsubscribe, List-Id and Message-ID by
their RFC's syntax: an RFC 2047 encoded word there is taken literally, and
one-click unsubscribe (RFC 8058) silently stops working. Python's email
package decodes encoded words on the way back in, so only a regex on the
bytes, as the SMTP server's DATA and the Maildir file hold them, can tell.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from digest.web import add_employee_routes
from intracast.config import load_config
from intracast.runtime import open_runtime
from tests.digest.smtpd import RecordingHandler, smtp_server
from tests.intracast.test_digests import AMS_0830, make_digests, news, run_and_send, write_config

PUBLIC_URLS = [
    "http://127.0.0.1:8080",
    # Long enough that the signed link alone is wider than a 78-character line.
    "https://intracast.communicatie.gemeente-voorbeeldstad.example.org/nieuwsbrief/digest",
]
MAILTO = "afmelden@intranet.example.org"


def header_block(raw: bytes) -> bytes:
    """The raw header section, line ends as stored (CRLF on the wire, LF in a Maildir file)."""
    return re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]


def raw_header(head: bytes, name: bytes) -> bytes:
    """One header as written: its lines, folding included, without the name."""
    [found] = re.findall(rb"^" + name + rb": ([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", head, flags=re.MULTILINE | re.IGNORECASE)
    return found


async def send_digest(tmp_path: Path, public_url: str, smtp_port: int | None) -> None:
    """One digest to An through the daemon's pipeline, to the mail server on `smtp_port` or into the Maildir."""
    config = write_config(tmp_path, "- {email: an@example.org, name: An}\n", f", unsubscribe_mailto: {MAILTO}")
    text = config.read_text().replace('public_url: "https://mail.example.org"', f'public_url: "{public_url}"')
    if smtp_port is not None:
        text += f"smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, sender: digest@intranet.example.org}}\n"
    config.write_text(text)
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        await runtime.store.upsert_items([news("one", AMS_0830 - timedelta(hours=1))], AMS_0830 - timedelta(hours=1))
        digests, clock = make_digests(loaded, runtime)
        await run_and_send(digests, clock, AMS_0830 + timedelta(minutes=1))


def assert_machine_readable(raw: bytes, public_url: str) -> str:
    """The three headers in their RFC's plain syntax; the web unsubscribe URL as a provider reads it."""
    head = header_block(raw)
    head.decode("ascii")
    assert b"=?" not in raw_header(head, b"List-Unsubscribe") + raw_header(head, b"Message-ID")
    # RFC 2369: `<url>, <mailto:...>`, folded (if at all) only after the comma between the entries.
    unsubscribe = raw_header(head, b"List-Unsubscribe").decode()
    match = re.fullmatch(r"<(https?://[!-~]+?)>,(?:\r?\n)? <(mailto:[!-~]+)>", unsubscribe)
    assert match, f"List-Unsubscribe is not <url>, <mailto:...>: {unsubscribe!r}"
    web_url, mailto = match.groups()
    assert web_url.startswith(f"{public_url}/u/")
    assert mailto == f"mailto:{MAILTO}?subject=unsubscribe"
    assert re.fullmatch(rb"<digest\.daily\.20261124T073000Z\.[0-9a-f]{16}@intranet\.example\.org>",
                        raw_header(head, b"Message-ID"))
    assert raw_header(head, b"List-Id") == b'"Plek daily" <daily.intranet.example.org>'
    one_click = re.findall(rb"^List-Unsubscribe-Post: (.*?)\r?$", head, flags=re.MULTILINE)
    assert one_click == ([b"List-Unsubscribe=One-Click"] if public_url.startswith("https:") else [])
    return web_url


@pytest.mark.parametrize("public_url", PUBLIC_URLS)
async def test_the_mail_server_receives_plain_list_headers(tmp_path: Path, public_url: str) -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server:
        await send_digest(tmp_path, public_url, server.port)
    [received] = handler.messages
    assert_machine_readable(received.content, public_url)


@pytest.mark.parametrize("public_url", PUBLIC_URLS)
async def test_the_maildir_file_holds_plain_list_headers_whose_link_unsubscribes(
    tmp_path: Path, public_url: str, aiohttp_client,
) -> None:
    await send_digest(tmp_path, public_url, None)
    [mail] = (tmp_path / "var" / "outbox" / "new").iterdir()
    raw = mail.read_bytes()
    web_url = assert_machine_readable(raw, public_url)
    # What a provider does with it: POST `List-Unsubscribe=One-Click` to the URL exactly as written.
    loaded = load_config(tmp_path / "intracast.yaml", env={})
    async with open_runtime(loaded) as runtime:
        digests, clock = make_digests(loaded, runtime)
        app = web.Application()
        add_employee_routes(app, runtime.store, digests.mailing.links.signer, intranet_url="https://intranet.example.org",
                            allowed_hosts=frozenset({"intranet.example.org"}), locale="nl", clock=clock)
        client = await aiohttp_client(app)
        response = await client.post(web_url.removeprefix(public_url), data={"List-Unsubscribe": "One-Click"})
        assert response.status == 200
        preference = await runtime.store.get_preference("an@example.org")
        assert preference is not None and preference.unsubscribed_at is not None
