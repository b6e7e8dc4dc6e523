"""Every admin request passes here first: pages off, login, CSRF, security headers.

- no `admin:` section: 404, in plain words saying how to turn the pages on;
- no logged-in session: 303 to the login page, which returns to the page asked for;
- a POST without its session's CSRF token: 403, and nothing is done;
- every response gets the pages' security headers (a response's own CSP stays).

It runs for every path under /admin, whether a page answers it or not, so
a stranger is sent to the login page either way: nothing shows which pages exist.
"""

from __future__ import annotations

import logging

from aiohttp import hdrs, web
from yarl import URL

from digest.web import page_locale
from intracast.admin import audit
from intracast.admin.i18n import CATALOGUE
from intracast.admin.render import HEADERS
from intracast.admin.sessions import Session
from intracast.admin.site import SESSION, SITE, Handler

log = logging.getLogger(__name__)

# Reachable without logging in.
PUBLIC = frozenset({"admin.login_form", "admin.login", "admin.static", "admin.icon"})


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    site = request.app[SITE]
    settings = site.settings()
    if settings is None:
        return _off(request, site.admin.loaded.config.intranet.locale)
    session = site.sessions(settings).read(request, site.admin.clock())
    request[SESSION] = session
    route = request.match_info.route.name
    if route not in PUBLIC and (session is None or session.user is None):
        return _to_login(request, site.url("admin.login_form"))
    if request.method == hdrs.METH_POST and not await _csrf_ok(request, session):
        log.warning("admin.csrf_refused route=%s ip=%s", route, audit.field(request.remote or "-"))
        return site.render(request, "refused.html", status=403)
    response = await handler(request)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def _csrf_ok(request: web.Request, session: Session | None) -> bool:
    form = await request.post()
    return session is not None and session.csrf_ok(form.get("csrf"))


def _to_login(request: web.Request, login: str) -> web.Response:
    # Back to the page asked for after logging in; a form's POST is not repeated.
    target = URL(login).with_query(next=request.rel_url.path_qs) if request.method == hdrs.METH_GET else URL(login)
    return web.Response(status=303, headers={hdrs.LOCATION: str(target), **HEADERS})


def _off(request: web.Request, default_locale: str) -> web.Response:
    _ = CATALOGUE.translations(page_locale(request.headers.get(hdrs.ACCEPT_LANGUAGE), default_locale)).gettext
    text = _("The admin pages are off. To turn them on, add an admin section to the config with a "
             "password_hash (make one with: intracast admin hash-password), and set server.secret.")
    return web.Response(status=404, text=text + "\n", headers=HEADERS | {hdrs.VARY: hdrs.ACCEPT_LANGUAGE})
