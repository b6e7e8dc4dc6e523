"""Hot reload reaches every component (issue 14, item 4): a table of changes, at least one per top-level
config section, each reloaded into a running daemon (a real process, tests/intracast/reload_daemon.py)
and observed where a user would notice it: a page over HTTP, the raw bytes of a mail in the Maildir or
at the SMTP server, the log.

The settings that need a restart (intracast/restart.py) are rows too: theirs prove the log line, the
/admin text, and that the daemon runs on with the value in force.
"""

from __future__ import annotations

import asyncio
import copy
import html
import io
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from digest.links import Links
from digest.tokens import Claims, Signer
from intracast.config import Config
from screens.render import qr_svg
from tests.digest.smtpd import RecordingHandler, smtp_server
from tests.intracast.admin.conftest import Page
from tests.intracast.reload_daemon import (
    ANNA, DEADLINE, NEW_SECRET, OLD_SECRET, PUBLIC, Daemon, add, at, header, intranet_app, read_until,
    running_daemon, signed, unsubscribe_path,
)


@pytest.fixture
async def daemon(tmp_path: Path, aiohttp_server) -> AsyncIterator[Daemon]:
    server = await aiohttp_server(intranet_app())
    async with running_daemon(tmp_path, str(server.make_url("")).rstrip("/")) as running:
        yield running


# One function per row: each looks first, reloads its change, and looks again where it shows.

async def intranet(daemon: Daemon) -> None:
    """Name and language reach the employee pages, the screens' player and pairing pages and slides;
    the intranet's other hosts, where tracked links may lead."""
    preferences = f"/preferences/{signed(OLD_SECRET, 'preferences')}"
    wiki = "/r/" + Signer(OLD_SECRET).sign(Claims("click", ANNA, min(item_ids(daemon).values()),
                                                  "https://wiki.example.org/rooster"))
    assert await languages(daemon, preferences) == ["nl"] * 4
    assert (await daemon.get(wiki))[0] == 400
    await daemon.reload(at("intranet", {**daemon.config["intranet"], "name": "Stek", "locale": "en",
                                        "hosts": ["wiki.example.org"]}))
    assert await languages(daemon, preferences) == ["en"] * 4
    assert "Stek" in (await daemon.page(preferences))[1].text
    async with daemon.session.get(f"{daemon.url}{wiki}", allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (302, "https://wiki.example.org/rooster")


async def languages(daemon: Daemon, preferences: str) -> list[str]:
    """The language of the preferences page, /screens/pair, the hall's player page and its first slide."""
    pages = [(await daemon.page(path))[1] for path in (preferences, "/screens/pair")]
    player = Page((await daemon.screen("/screens/hall"))[1].decode())
    slide = re.search(r'lang="(\w+)"', (await daemon.playlist())["slides"][0]["html"])
    assert slide is not None
    return [page.lang for page in (*pages, player)] + [slide.group(1)]


async def server_secret(daemon: Daemon) -> None:
    """A rotated secret signs and verifies every link from now on (the mail's, the screens' QR codes,
    the media keys); those signed with the old one stop working, and so does the admin's session."""
    old_link = f"/u/{signed(OLD_SECRET)}"
    assert (await daemon.get(old_link))[0] == 200
    assert await daemon.login() == 303
    old_media = media_url(await daemon.playlist())
    assert (await daemon.screen(old_media))[0] == 200
    await daemon.reload(at("server.secret", NEW_SECRET))
    assert (await daemon.get(old_link))[0] == 400
    assert (await daemon.get("/admin/"))[0] == 303, "the session signed with the old secret is over"
    assert await daemon.login() == 303
    new_link = unsubscribe_path((await daemon.send_digest())[0])
    assert Signer(NEW_SECRET).verify(new_link.removeprefix("/u/"), "unsubscribe").recipient == ANNA
    assert (await daemon.get(new_link))[0] == 200
    async with daemon.session.post(f"{daemon.url}{new_link}", data={"List-Unsubscribe": "One-Click"}) as response:
        assert response.status == 200  # RFC 8058 one-click
    await qr_code_signed_with(daemon, Links(PUBLIC, Signer(NEW_SECRET)))
    new_media = media_url(await daemon.playlist())
    assert new_media != old_media and (await daemon.screen(new_media))[0] == 200
    assert (await daemon.screen(old_media))[0] == 404


async def qr_code_signed_with(daemon: Daemon, links: Links) -> None:
    """The hall's QR code shows its item's /r/ link made with `links`, under a URL that names them (a TV's
    cache keeps no old code), and the daemon follows that link."""
    slide = next(s for s in (await daemon.playlist())["slides"] if s["kind"] == "item")
    src = re.search(r'<img class="qr-code" src="([^"]+)"', slide["html"])
    assert src is not None and html.unescape(src.group(1)).endswith(f"&v={links.tag}")
    status, svg = await daemon.screen(f"/screens/hall/{html.unescape(src.group(1))}")
    link = slide["data"]["link"]
    scan = links.scan("hall", item_ids(daemon)[link], link)
    assert (status, svg.decode()) == (200, qr_svg(scan))
    assert (await daemon.get(scan.removeprefix(links.public_url)))[0] == 302


def item_ids(daemon: Daemon) -> dict[str, int]:
    """Each item's link -> its id in the daemon's store, which a QR code's link names."""
    with sqlite3.connect(daemon.folder / "var" / "intracast.db") as db:
        return {link: item for item, link in db.execute("select id, link from items")}


def media_url(playlist: dict[str, Any]) -> str:
    return next(url for slide in playlist["slides"] for url in slide["images"] if url.startswith("/media/"))


async def server_public_url(daemon: Daemon) -> None:
    """Mail links, the screens' set-up links and their QR codes lead to the new address."""
    await daemon.login()
    assert f"{PUBLIC}/screens/hall" in await daemon.admin_text("/admin/screens")
    await daemon.reload(at("server.public_url", "http://new.example.org"))
    raw = (await daemon.send_digest())[0]
    assert header(raw, "List-Unsubscribe").startswith("<http://new.example.org/u/")
    assert "http://new.example.org/screens/hall" in await daemon.admin_text("/admin/screens")
    await qr_code_signed_with(daemon, Links("http://new.example.org", Signer(OLD_SECRET)))


async def server_listen(daemon: Daemon) -> None:
    await restart_only(daemon, "server.listen", "127.0.0.1:9", in_force=daemon.url.removeprefix("http://"))


async def storage_url(daemon: Daemon) -> None:
    await restart_only(daemon, "storage.url", "postgresql://intracast:hunter2@db.example.org/intracast",
                       in_force="sqlite:///var/intracast.db",
                       shown="postgresql://intracast:***@db.example.org/intracast")


async def restart_only(daemon: Daemon, key: str, value: str, *, in_force: str, shown: str | None = None) -> None:
    """Logged and shown on /admin, one line each, with the value in force and the one configured (never a
    password); the daemon runs on as it was until a restart, or until the config puts the value back."""
    line = f"needs a restart: {key} (in force {in_force}, configured {shown or value})"
    before = copy.deepcopy(daemon.config)
    await daemon.login()
    assert line not in await daemon.admin_text()
    logged = await daemon.reload(at(key, value))
    assert f"config.needs_restart key={key} in_force={in_force} configured={shown or value}\n" in logged
    overview = await daemon.admin_text()
    assert line in overview
    assert "hunter2" not in logged + overview
    assert header((await daemon.send_digest())[0], "To") == ANNA  # on the address and the store in force
    logged = await daemon.reload(lambda config: config.update(copy.deepcopy(before)))
    assert "needs_restart" not in logged and line not in await daemon.admin_text()


async def storage_maildir(daemon: Daemon) -> None:
    await daemon.login()
    await daemon.reload(at("storage.maildir", "var/elsewhere"))
    assert header((await daemon.send_digest("var/elsewhere"))[0], "To") == ANNA
    assert not list((daemon.folder / "var" / "outbox" / "new").glob("*"))


async def smtp(daemon: Daemon) -> None:
    handler = RecordingHandler()
    async with smtp_server(handler) as server:
        await daemon.login()
        await daemon.reload(at("smtp", {"host": "127.0.0.1", "port": server.port, "security": "none"}))
        await daemon.post_send()
        await asyncio.wait_for(handler.received.wait(), DEADLINE)
    [received] = handler.messages
    assert (received.recipient, header(received.content, "To")) == (ANNA, ANNA)


async def sources(daemon: Daemon) -> None:
    """A new source is fetched, listed on /healthz, and its items are there."""
    url = daemon.config["sources"][0]["url"].replace("/news", "/agenda")
    await daemon.reload(add("sources", {"name": "agenda", "type": "rss", "url": url, "every": "1h"}))
    while (health := await healthz(daemon))["sources"].get("agenda", {}).get("state") != "healthy":
        await asyncio.sleep(0.05)  # polling interval, bounded by the test's timeout
    assert health["sources"]["agenda"]["items_held"] == 2


async def healthz(daemon: Daemon) -> dict[str, Any]:
    async with daemon.session.get(f"{daemon.url}/healthz") as response:
        return await response.json()


async def recipients(daemon: Daemon) -> None:
    await daemon.login()
    await daemon.reload(add("recipients.list", {"email": "bo@example.org", "locale": "en"}))
    mails = await daemon.send_digest(count=2)
    assert sorted(header(raw, "To") for raw in mails) == [ANNA, "bo@example.org"]


async def digests(daemon: Daemon) -> None:
    await daemon.login()
    await daemon.reload(at("digests.0.subject", "Wat er nieuw is"))
    assert header((await daemon.send_digest())[0], "Subject") == "Wat er nieuw is"


async def screens(daemon: Daemon) -> None:
    """A new screen answers to its token, and the banner printed at start is printed again with its URL."""
    lobby = "/screens/lobby/playlist.json?token=lobby-token-123"
    assert (await daemon.get(lobby))[0] == 404
    await daemon.reload(add("screens", {"id": "lobby", "name": "Lobby", "token": "lobby-token-123",
                                        "playlist": "main"}))
    assert (await daemon.get(lobby))[0] == 303  # the token goes into a cookie
    await asyncio.wait_for(read_until(daemon.proc.stdout, r"Lobby: .*/screens/lobby\?token=lobby-token-123"),
                           DEADLINE)


async def playlists(daemon: Daemon) -> None:
    assert "Koffie in de kantine" not in str(await daemon.playlist())
    await daemon.reload(add("playlists.0.blocks", {"type": "announcement", "title": "Koffie in de kantine"}))
    assert "Koffie in de kantine" in str(await daemon.playlist())


async def media(daemon: Daemon) -> None:
    """The largest side and the cache's folder apply to the next image served."""
    assert await image_size(daemon) == (640, 480)
    await daemon.reload(at("media", {"cache": "var/media-elsewhere", "max_side": 320}))
    assert await image_size(daemon) == (320, 240)
    assert list((daemon.folder / "var" / "media-elsewhere").iterdir())


async def image_size(daemon: Daemon) -> tuple[int, int]:
    status, body = await daemon.screen(media_url(await daemon.playlist()))
    assert status == 200
    return Image.open(io.BytesIO(body)).size


async def admin(daemon: Daemon) -> None:
    assert await daemon.login("chief") == 401
    await daemon.reload(at("admin.username", "chief"))
    assert await daemon.login("admin") == 401
    assert await daemon.login("chief") == 303


ROWS: dict[str, Callable[[Daemon], Awaitable[None]]] = {
    "intranet": intranet,
    "server.secret": server_secret,
    "server.public_url": server_public_url,
    "server.listen": server_listen,
    "storage.url": storage_url,
    "storage.maildir": storage_maildir,
    "smtp": smtp,
    "sources": sources,
    "recipients": recipients,
    "digests": digests,
    "screens": screens,
    "playlists": playlists,
    "media": media,
    "admin": admin,
}


def test_every_top_level_section_has_a_row() -> None:
    assert {key.partition(".")[0] for key in ROWS} == set(Config.model_fields)


@pytest.mark.parametrize("row", ROWS)
async def test_a_reload_reaches_everything_that_uses_the_setting(row: str, daemon: Daemon) -> None:
    await ROWS[row](daemon)
