"""Logging in and out of the admin pages.

A login is refused with one message whatever went wrong (an unknown name, a
wrong password, too many failures), so the page tells a guesser nothing.
The password is checked even for an unknown name, so the time a refusal
takes tells nothing either. A successful login starts a new session (a
fresh CSRF secret), so a session planted before login is worth nothing after.
"""

from __future__ import annotations

import asyncio
import functools
import hmac

from aiohttp import hdrs, web
from yarl import URL

from intracast.admin import audit
from intracast.admin.config import AdminConfig
from intracast.admin.passwords import hash_password, verify_password
from intracast.admin.sessions import end_session
from intracast.admin.site import SESSION, SITE, Site


def mount(site: Site) -> None:
    site.route(hdrs.METH_GET, "/login", "admin.login_form", login_form)
    site.route(hdrs.METH_POST, "/login", "admin.login", login)
    site.route(hdrs.METH_POST, "/logout", "admin.logout", logout)


async def login_form(request: web.Request) -> web.Response:
    site, session = request.app[SITE], request[SESSION]
    if session is not None and session.user is not None:
        return site.redirect(request, _next(request, site))
    settings = site.enabled_settings()
    sessions = site.sessions(settings)
    if session is None:  # the login form's own CSRF secret, against login CSRF
        session = sessions.new(None, site.admin.clock())
    response = site.render(request, "login.html", session=session, next=_next(request, site), failed=False)
    sessions.write(response, request, session)
    return response


async def login(request: web.Request) -> web.Response:
    site, form = request.app[SITE], await request.post()
    settings = site.enabled_settings()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    ip, now = request.remote or "-", site.admin.clock()
    keys = [f"ip:{ip}", f"user:{username.strip().lower()}"]
    if site.attempts.locked_until(keys, now):
        audit.login("locked", username, ip)
        return _refused(request, site, status=429)
    if not await asyncio.to_thread(_matches, settings, username, password):
        site.attempts.failed(keys, now)
        audit.login("failed", username, ip)
        return _refused(request, site, status=401)
    site.attempts.succeeded(keys)
    audit.login("ok", username, ip)
    sessions = site.sessions(settings)
    response = site.redirect(request, _next(request, site))
    sessions.write(response, request, sessions.new(settings.username, now))
    return response


async def logout(request: web.Request) -> web.Response:
    site = request.app[SITE]
    site.audit(request, "logout", "-")
    response = site.redirect(request, site.url("admin.login_form"))
    end_session(response)
    return response


def _matches(settings: AdminConfig, username: str, password: str) -> bool:
    name_ok = hmac.compare_digest(username.encode(), settings.username.encode())
    password_ok = verify_password(password, settings.password_hash if name_ok else _decoy())
    return name_ok and password_ok


@functools.cache
def _decoy() -> str:
    """Checked when the name is wrong, so that a refusal takes as long either way."""
    return hash_password("decoy")


def _refused(request: web.Request, site: Site, status: int) -> web.Response:
    return site.render(request, "login.html", status=status, next=_next(request, site), failed=True)


def _next(request: web.Request, site: Site) -> str:
    """Where to go after logging in: the admin page asked for, never anywhere else."""
    home = site.url("admin.overview")
    wanted = request.query.get("next", "")
    try:
        url = URL(wanted)
    except ValueError:
        return home
    if url.is_absolute() or not url.path.startswith(home) or "//" in wanted or "\\" in wanted:
        return home
    return wanted
