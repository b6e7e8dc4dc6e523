"""The live preview on the Screens page: the screen's own player page, framed and scaled down by CSS.

The admin is not the TV and holds no screen cookie, so the page and what it
loads by relative URL (its playlist, theme and QR codes) are served here,
behind the admin login, under /admin/screens/{id}/preview/, which the page
takes as its base. It is rendered as a preview (screens/player.py): it polls
its playlist instead of holding an event stream and sends no heartbeat, so
it neither counts as the screen nor takes one of the screen's streams. Its
Content-Security-Policy is the player's, whose `frame-ancestors 'self'` lets
the Screens page frame it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from intracast.admin.site import SITE, Handler, Site
from intracast.screens import Screens
from screens.config import ScreenConfig
from screens.web import playlist_response, qr_response

PREFIX = "/screens/{id:[a-z0-9][a-z0-9_-]*}/preview"

PreviewHandler = Callable[[web.Request, Screens, ScreenConfig], Awaitable[web.StreamResponse]]


def mount(site: Site) -> None:
    site.route(hdrs.METH_GET, PREFIX, "admin.screen_preview", _for_screen(page))
    site.route(hdrs.METH_GET, f"{PREFIX}/playlist.json", "admin.screen_preview_playlist", _for_screen(playlist))
    site.route(hdrs.METH_GET, f"{PREFIX}/theme.css", "admin.screen_preview_theme", _for_screen(theme))
    site.route(hdrs.METH_GET, f"{PREFIX}/qr", "admin.screen_preview_qr", _for_screen(qr))


async def page(request: web.Request, screens: Screens, screen: ScreenConfig) -> web.StreamResponse:
    base = request.app[SITE].url("admin.screen_preview", id=screen.id) + "/"
    return await screens.player.page(screen, base=base, preview=True)


async def playlist(request: web.Request, screens: Screens, screen: ScreenConfig) -> web.StreamResponse:
    return await playlist_response(request, screens.builds, screen)


async def theme(request: web.Request, screens: Screens, screen: ScreenConfig) -> web.StreamResponse:
    return screens.player.theme(screen)


async def qr(request: web.Request, screens: Screens, screen: ScreenConfig) -> web.StreamResponse:
    return await qr_response(request, screens.builds, screen, screens.qr_link)


def _for_screen(handler: PreviewHandler) -> Handler:
    """`handler` for the screen the path names; the admin's 404 page for an unknown one."""

    async def found(request: web.Request) -> web.StreamResponse:
        site = request.app[SITE]
        screens = site.admin.screens
        screen = screens.builds.screen(request.match_info["id"]) if screens else None
        if screens is None or screen is None:
            return site.render(request, "missing.html", status=404)
        return await handler(request, screens, screen)

    return found
