"""`add_admin_routes`: the admin pages under /admin, in the order of their nav.

    GET  /admin/                     overview
    GET  /admin/sources              sources;  POST /admin/sources/{name}/fetch: fetch now
    GET  /admin/digests              digests;  GET /admin/digests/{name}/preview?recipient=EMAIL (and
                                     preview.html: its HTML part, sandboxed);  POST /admin/digests/{name}/send,
                                     POST /admin/digests/{name}/send-to-me
    GET  /admin/screens              screens;  GET /admin/screens/{id}/preview (and its playlist.json, theme.css,
                                     qr);  POST /admin/screens/overrides, POST /admin/screens/overrides/{id}/lift,
                                     POST /admin/screens/pair (a TV's code);  only with the screens pipeline
    GET  /admin/outbox               outbox;   GET /admin/outbox/{id}: one message, as sent
    GET  /admin/recipients           search;   POST /admin/recipients/resubscribe (with a reason)
    GET, POST /admin/login;  POST /admin/logout;  GET /admin/static/admin.css, icon.svg

A page of its own (digests, screens) is a module with `mount(site)`, put in
`PAGES` where it belongs in the nav.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from intracast.admin import digests, login, outbox, overview, recipients, screens, sources
from intracast.admin.context import Admin
from intracast.admin.guard import guard
from intracast.admin.site import SITE, Site

PREFIX = "/admin"
PAGES = (overview, sources, digests, screens, outbox, recipients)


def add_admin_routes(app: web.Application, admin: Admin) -> None:
    site = Site(admin, guard)
    for page in PAGES:
        page.mount(site)
    login.mount(site)
    site.route(hdrs.METH_GET, "/static/admin.css", "admin.static", stylesheet)
    site.route(hdrs.METH_GET, "/static/icon.svg", "admin.icon", icon)
    site.route(hdrs.METH_GET, "", "admin.root", root)  # /admin, without the slash
    app.add_subapp(PREFIX, site.app)


async def root(request: web.Request) -> web.Response:
    return request.app[SITE].redirect(request, request.app[SITE].url("admin.overview"))


async def stylesheet(request: web.Request) -> web.Response:
    return _versioned(request.app[SITE].stylesheet, "text/css")


async def icon(request: web.Request) -> web.Response:
    """The screens' icon, declared by every page so that browsers do not ask for a /favicon.ico."""
    return _versioned(request.app[SITE].icon, "image/svg+xml")


def _versioned(body: bytes, content_type: str) -> web.Response:
    # Versioned by its hash in the pages' link, so it may be cached for good.
    headers = {hdrs.CACHE_CONTROL: "public, max-age=31536000, immutable"}
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)
