"""A daemon to reload, for tests/intracast/test_reload_applies.py: `intracast run` as a real process on a
config kept as a dict, with an intranet (two feeds and an image) on loopback, a browser's session, its
log as it comes, and the admin's "send now" with the mails it puts in the Maildir.

The digest's schedule (29 February, with a grace of one second) never fires while a test runs, at
any hour: every mail is one a test sent.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web
import yaml
from PIL import Image

from digest.tokens import Action, Claims, Signer
from tests.intracast.admin.conftest import Page
from tests.intracast.test_daemon import DEADLINE, browser_jar, read_until, start_daemon
from tests.intracast.test_reload import PASSWORD, password_hash

OLD_SECRET, NEW_SECRET = "the-secret-at-the-start-of-a-test", "the-secret-after-its-rotation"
PUBLIC = "http://old.example.org"
ANNA = "an@example.org"
HALL = "/screens/hall?token=hall-token-123"

Change = Callable[[dict[str, Any]], None]


def base_config(feed: str) -> dict[str, Any]:
    return {
        "intranet": {"name": "Plek", "url": "https://intranet.example.org", "locale": "nl",
                     "timezone": "Europe/Amsterdam"},
        "server": {"secret": OLD_SECRET, "public_url": PUBLIC},
        "storage": {"url": "sqlite:///var/intracast.db", "maildir": "var/outbox"},
        "admin": {"password_hash": password_hash(), "email": "comms@example.org"},
        "recipients": {"list": [{"email": ANNA}]},
        "digests": [{"name": "daily", "schedule": "0 8 29 2 *", "grace": "1s", "skip_empty": False}],
        "sources": [{"name": "news", "type": "rss", "url": f"{feed}/news", "every": "1h"}],
        "screens": [{"id": "hall", "name": "Hall", "token": "hall-token-123", "playlist": "main"}],
        "playlists": [{"name": "main", "blocks": [{"sources": ["news"]}]}],
        "media": {"cache": "var/media"},
    }


def intranet_app() -> aiohttp.web.Application:
    """The intranet: two feeds of two items each (the news with a 640x480 image), and the image."""
    def feed(name: str, image: str) -> str:
        items = "".join(f"<item><title>{name} {n}</title><link>https://intranet.example.org/{name}/{n}</link>"
                        f"<guid>{name}-{n}</guid>{image}</item>" for n in (1, 2))
        return f'<rss version="2.0"><channel><title>{name}</title>{items}</channel></rss>'

    async def news(request: aiohttp.web.Request) -> aiohttp.web.Response:
        image = f'<enclosure url="{request.url.with_path("/image.png")}" type="image/png" length="1"/>'
        return aiohttp.web.Response(text=feed("news", image), content_type="application/rss+xml")

    async def agenda(request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(text=feed("agenda", ""), content_type="application/rss+xml")

    async def image(request: aiohttp.web.Request) -> aiohttp.web.Response:
        out = io.BytesIO()
        Image.new("RGB", (640, 480), "teal").save(out, "PNG")
        return aiohttp.web.Response(body=out.getvalue(), content_type="image/png")

    app = aiohttp.web.Application()
    app.router.add_get("/news", news)
    app.router.add_get("/agenda", agenda)
    app.router.add_get("/image.png", image)
    return app


@dataclass
class Daemon:
    """A running `intracast run`, its config as a dict, one browser's session, and its log as it comes."""

    proc: asyncio.subprocess.Process
    url: str
    folder: Path
    config: dict[str, Any]
    session: aiohttp.ClientSession
    logged: list[str] = field(default_factory=list)
    _line: asyncio.Event = field(default_factory=asyncio.Event)

    async def reload(self, change: Change) -> str:
        """Write the config with `change` made, wait until it is applied; what was logged meanwhile."""
        change(self.config)
        start = len(self.logged)
        (self.folder / "intracast.yaml").write_text(yaml.safe_dump(self.config))
        await self.log(r"config\.reloaded", start)
        return "".join(self.logged[start:])

    async def log(self, pattern: str, start: int = 0) -> str:
        """The first line from `start` on that matches `pattern`, once it is logged."""
        async def seen() -> str:
            while not (found := [line for line in self.logged[start:] if re.search(pattern, line)]):
                self._line.clear()
                await self._line.wait()
            return found[0]
        try:
            return await asyncio.wait_for(seen(), DEADLINE)
        except TimeoutError:
            raise AssertionError(f"no {pattern!r} in the log:\n{''.join(self.logged[start:])}") from None

    async def read_log(self) -> None:
        while line := (await self.proc.stderr.readline()).decode():
            self.logged.append(line)
            self._line.set()

    async def get(self, path: str, **headers: str) -> tuple[int, bytes]:
        async with self.session.get(f"{self.url}{path}", headers=headers, allow_redirects=False) as response:
            return response.status, await response.read()

    async def page(self, path: str, **headers: str) -> tuple[int, Page]:
        status, body = await self.get(path, **headers)
        return status, Page(body.decode())

    async def screen(self, path: str) -> tuple[int, bytes]:
        """A GET as the hall's TV, with its token in a cookie."""
        async with self.session.get(f"{self.url}{HALL}") as response:
            assert response.status == 200, "the token moves into a cookie"
        return await self.get(path)

    async def playlist(self) -> dict[str, Any]:
        status, body = await self.screen("/screens/hall/playlist.json")
        assert status == 200
        return json.loads(body)

    async def login(self, username: str = "admin") -> int:
        _, form = await self.page("/admin/login")
        data = {"username": username, "password": PASSWORD, "csrf": form.csrf}
        async with self.session.post(f"{self.url}/admin/login", data=data, allow_redirects=False) as response:
            return response.status

    async def admin_text(self, path: str = "/admin/") -> str:
        status, page = await self.page(path, **{"Accept-Language": "en"})
        assert status == 200, (path, status)
        return page.text

    async def send_digest(self, maildir: str = "var/outbox", count: int = 1) -> list[bytes]:
        """Send now (the admin's button); the new mails' raw bytes, once `count` are in `maildir`."""
        folder = self.folder / maildir / "new"
        before = set(folder.glob("*"))
        await self.post_send()
        return await asyncio.wait_for(_new_files(folder, before, count), DEADLINE)

    async def post_send(self) -> None:
        csrf = (await self.page("/admin/digests"))[1].csrf
        async with self.session.post(f"{self.url}/admin/digests/daily/send", data={"csrf": csrf},
                                     allow_redirects=False) as response:
            assert response.status == 303, await response.text()


async def _new_files(folder: Path, before: set[Path], count: int) -> list[bytes]:
    while len(new := sorted(set(folder.glob("*")) - before)) < count:
        await asyncio.sleep(0.05)  # polling interval, bounded by the caller's deadline
    return [path.read_bytes() for path in new]


@asynccontextmanager
async def running_daemon(folder: Path, feed: str) -> AsyncIterator[Daemon]:
    """`intracast run` on `base_config(feed)` in `folder`, once the hall's playlist shows the news;
    stopped with SIGTERM, which it must survive with exit 0 and no traceback."""
    config = base_config(feed)
    (folder / "intracast.yaml").write_text(yaml.safe_dump(config))
    proc = await start_daemon(folder / "intracast.yaml", "run", "--listen", "127.0.0.1:0")
    async with aiohttp.ClientSession(cookie_jar=browser_jar()) as session:
        daemon = Daemon(proc, "", folder, config, session)
        reader = asyncio.create_task(daemon.read_log())
        try:
            match, _ = await asyncio.wait_for(read_until(proc.stdout, r"running on (http://127\.0\.0\.1:\d+)"),
                                              DEADLINE)
            daemon.url = match.group(1)
            await daemon.log(r"config\.watching")
            await asyncio.wait_for(_slides_with_images(daemon), DEADLINE)
            yield daemon
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), DEADLINE)
            await reader
    assert code == 0, "".join(daemon.logged)
    assert "Traceback" not in "".join(daemon.logged)


async def _slides_with_images(daemon: Daemon) -> None:
    """Once the news is fetched and on the hall's playlist (the screens rebuild after the fetch is logged)."""
    while not any(slide["images"] for slide in (await daemon.playlist())["slides"]):
        await asyncio.sleep(0.05)  # polling interval, bounded by the caller's deadline


def header(raw: bytes, name: str) -> str:
    """A header of a mail as it was stored or sent, decoded: the raw form of List-Unsubscribe is item 2 of
    issue 14, tested on its own; here it is where its link leads that counts."""
    value = message_from_bytes(raw, policy=policy.default)[name]
    assert value is not None, f"no {name} in\n{raw[:600]!r}"
    return str(value)


def unsubscribe_path(raw: bytes) -> str:
    url = re.search(r"<https?://[^>]+(/u/[^>]+)>", header(raw, "List-Unsubscribe"))
    assert url is not None
    return url.group(1)


def signed(secret: str, action: Action = "unsubscribe") -> str:
    return Signer(secret).sign(Claims(action, ANNA))


def at(key: str, value: Any) -> Change:
    """Set the dotted `key` (list items by their index) to `value`."""
    def change(config: dict[str, Any]) -> None:
        *path, last = key.split(".")
        _walk(config, path)[last] = value
    return change


def add(key: str, entry: dict[str, Any]) -> Change:
    """Append `entry` to the list at the dotted `key`."""
    def change(config: dict[str, Any]) -> None:
        _walk(config, key.split(".")).append(entry)
    return change


def _walk(config: Any, path: list[str]) -> Any:
    for name in path:
        config = config[int(name)] if isinstance(config, list) else config.setdefault(name, {})
    return config
