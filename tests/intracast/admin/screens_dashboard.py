"""The dashboard with the screens pipeline beside it, as the daemon composes them: the screens' own
routes (player, heartbeat, playlist.json, pairing) and the admin pages on one app, one real store,
the test's clock. A TV is another client of the same server, with a cookie jar of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient

from digest.links import Links
from digest.tokens import Signer
from intracast.admin.context import Admin, FixedConfig
from intracast.admin.web import add_admin_routes
from intracast.config import load_config
from intracast.runtime import open_runtime
from intracast.scheduler import Scheduler
from intracast.screens import Screens
from tests.intracast.admin.conftest import SECRET, Client, Clock, Dashboard, Feed, password_hash, write_config

SCREEN_TOKEN = "a-screen-token-of-length"  # both screens', from write_config
CLOCK_ONLY = "[{type: clock}]"  # write_config's playlist


@dataclass
class ScreensDashboard:
    dashboard: Dashboard
    screens: Screens
    aiohttp_client: AiohttpClient

    async def tv(self) -> Client:
        """Another browser on the same server: a TV, with none of the admin's cookies."""
        return await self.aiohttp_client(self.dashboard.client.server)

    async def screen_client(self, screen_id: str = "canteen") -> Client:
        """A TV that opened its screen's link with the token once, and so holds the screen's cookie."""
        tv = await self.tv()
        response = await tv.get(f"/screens/{screen_id}", params={"token": SCREEN_TOKEN}, allow_redirects=False)
        assert response.status == 303
        return tv


@asynccontextmanager
async def screens_app(config: Path, clock: Callable[[], datetime]) -> AsyncIterator[tuple[web.Application, Admin]]:
    """The app the daemon would serve for `config`: the screens' routes and the admin pages; `Admin.screens` set."""
    loaded = load_config(config, env={"INTRACAST_ADMIN_PASSWORD_HASH": password_hash()})
    async with open_runtime(loaded) as runtime:
        screens = Screens(loaded, runtime.store, Links("http://tv.example.org", Signer(SECRET)), clock=clock)
        scheduler = Scheduler(runtime.metrics, loaded.config.intranet.timezone)  # not started: no page here reads it
        admin = Admin(FixedConfig(loaded, loaded_at=clock()), runtime.store, scheduler, runtime.ingestor,
                      started=clock(), clock=clock, screens=screens)
        app = web.Application()
        screens.mount(app)
        add_admin_routes(app, admin)
        yield app, admin


async def open_screens_dashboard(tmp_path: Path, aiohttp_client: AiohttpClient, feed: tuple[Feed, TestServer],
                                 clock: Clock, *, blocks: str = CLOCK_ONLY) -> AsyncIterator[ScreensDashboard]:
    """`blocks`: the screens' playlist's, as YAML (a clock alone, unless given)."""
    feeds, server = feed
    config = write_config(tmp_path, str(server.make_url("")).rstrip("/"))
    config.write_text(config.read_text(encoding="utf-8").replace(f"blocks: {CLOCK_ONLY}", f"blocks: {blocks}"))
    async with screens_app(config, clock) as (app, admin):
        assert admin.screens is not None
        client = await aiohttp_client(app, headers={"Accept-Language": "en"})
        yield ScreensDashboard(Dashboard(client, admin, admin.store, clock, feeds), admin.screens, aiohttp_client)
