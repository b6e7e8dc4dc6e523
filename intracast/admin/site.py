"""The admin site: pages register into it (the nav shows only pages that exist), and it renders,
redirects and carries flash messages for them.

A page module has `mount(site)`, which calls `site.page(...)` for a page in
the nav and `site.route(...)` for everything else (a detail page, a form's
POST). Every route sits behind `guard` (intracast/admin/guard.py): login,
CSRF and the security headers come with registering.

A flash message ("fetched 3 new items") survives the redirect after a POST
in a short-lived sealed cookie; it names a kind and its values, and the
template words it in the reader's language.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from digest.web import page_locale
from intracast import __version__
from intracast.admin import audit
from intracast.admin.attempts import LoginAttempts
from intracast.admin.config import AdminConfig
from intracast.admin.context import Admin
from intracast.admin.render import CSP, HEADERS, environments
from intracast.admin.seal import Seal
from intracast.admin.sessions import PATH, Session, Sessions
from screens import player

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

FLASH = "intracast_admin_flash"
FLASH_SECONDS = 60
STYLESHEET = Path(__file__).parent / "static" / "admin.css"
ICON = player.STATIC / player.ICON  # one icon for every page intracast serves
SESSION = web.RequestKey("admin.session", Session | None)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class NavEntry:
    title: str  # an English msgid, translated when shown
    route: str


class Site:
    def __init__(self, admin: Admin, guard: Middleware):
        self.admin = admin
        self.nav: list[NavEntry] = []
        self.attempts = LoginAttempts()
        self.app = web.Application(middlewares=[guard])
        self.app[SITE] = self
        self._environments = environments()
        self.stylesheet = STYLESHEET.read_bytes()
        self.stylesheet_tag = hashlib.sha256(self.stylesheet).hexdigest()[:12]
        self.icon = ICON.read_bytes()
        self.icon_tag = hashlib.sha256(self.icon).hexdigest()[:12]

    def page(self, path: str, name: str, title: str, handler: Handler) -> None:
        """A page in the nav; `title` an English msgid (marked with `N_`)."""
        self.route(hdrs.METH_GET, path, name, handler)
        self.nav.append(NavEntry(title, name))

    def route(self, method: str, path: str, name: str, handler: Handler) -> None:
        self.app.router.add_route(method, path, handler, name=name)

    def settings(self) -> AdminConfig | None:
        return self.admin.loaded.config.admin

    def enabled_settings(self) -> AdminConfig:
        """The settings, for a handler: the guard answers every request while the pages are off."""
        settings = self.settings()
        assert settings is not None, "a handler ran while the admin pages are off"
        return settings

    def sessions(self, settings: AdminConfig) -> Sessions:
        return Sessions(self._secret(), settings)

    def url(self, route: str, /, **parts: str) -> str:
        return str(self.app.router[route].url_for(**parts))

    def user(self, request: web.Request) -> str:
        session = request[SESSION]
        assert session is not None and session.user is not None, "guard lets no anonymous request through"
        return session.user

    def audit(self, request: web.Request, action: str, target: str) -> None:
        audit.action(self.user(request), action, target)

    def render(self, request: web.Request, template: str, *, status: int = 200, csp: str = CSP,
               session: Session | None = None, **context: Any) -> web.Response:
        config = self.admin.loaded.config
        locale = page_locale(request.headers.get(hdrs.ACCEPT_LANGUAGE), config.intranet.locale)
        session = session or request.get(SESSION)
        flash = self._flash().open(request.cookies.get(FLASH))
        html = self._environments[locale].get_template(f"admin/{template}").render(
            locale=locale, zone=config.intranet.timezone, intranet=config.intranet.name, version=__version__,
            nav=self.nav, current=request.match_info.route.name or "", flash=flash, url=self.url,
            user=session.user if session else None, csrf=session.csrf_token if session else "",
            stylesheet=f"{self.url('admin.static')}?v={self.stylesheet_tag}",
            icon=f"{self.url('admin.icon')}?v={self.icon_tag}", **context,
        )
        response = web.Response(text=html, status=status, content_type="text/html")
        response.headers.update(HEADERS | {"Content-Security-Policy": csp, hdrs.VARY: hdrs.ACCEPT_LANGUAGE})
        if FLASH in request.cookies:
            response.del_cookie(FLASH, path=PATH)
        return response

    def redirect(self, request: web.Request, location: str, **flash: str | int) -> web.Response:
        """303 See Other to `location` (after a POST), with a flash message when `flash` has a `kind`."""
        response = web.Response(status=303, headers={hdrs.LOCATION: location, **HEADERS})
        if flash:
            response.set_cookie(FLASH, self._flash().seal(flash), path=PATH, httponly=True, samesite="Strict",
                                secure=request.secure, max_age=FLASH_SECONDS)
        return response

    def _flash(self) -> Seal:
        return Seal(self._secret(), "flash")

    def _secret(self) -> str:
        secret = self.admin.loaded.config.server.secret
        # The config check refuses an admin section without a secret (intracast/config/references.py).
        assert secret is not None, "admin pages without server.secret"
        return secret


SITE = web.AppKey("admin.site", Site)
