"""Pairing a new TV from the Screens page: the admin types the code the TV shows and picks its screen.

The TV's side is screens/pairing.py. Wrong codes are counted per admin and
per client address, as failed logins are (`LoginAttempts`): after five, a
claim is refused unchecked for a minute, doubling up to fifteen, so the
codes (32^6 of them, each alive fifteen minutes) cannot be guessed from here.
"""

from __future__ import annotations

import math
from datetime import timedelta

from aiohttp import hdrs, web

from intracast.admin.attempts import LoginAttempts
from intracast.admin.site import SITE, Site
from screens.pairing import MINUTES

MAX_CODE = 20  # as typed, with spaces or dashes; longer is no code, and the flash cookie stays small

ATTEMPTS = web.AppKey("admin.pair_attempts", LoginAttempts)


def mount(site: Site) -> None:
    site.app[ATTEMPTS] = LoginAttempts()
    site.route(hdrs.METH_POST, "/screens/pair", "admin.pair", pair)


async def pair(request: web.Request) -> web.Response:
    site, form = request.app[SITE], await request.post()
    screens, config = site.admin.screens, site.admin.loaded.config
    code, screen_id = str(form.get("code", ""))[:MAX_CODE].strip(), str(form.get("screen", ""))
    screen = next((s for s in config.screens if s.id == screen_id), None)
    if screens is None or screen is None:
        return site.render(request, "missing.html", status=404)
    attempts, now, user = site.app[ATTEMPTS], site.admin.clock(), site.user(request)
    keys, back = [f"ip:{request.remote or '-'}", f"user:{user}"], site.url("admin.screens")
    if (locked := attempts.locked_until(keys, now)) is not None:
        site.audit(request, "pair_locked", screen.id)
        minutes = math.ceil((locked - now) / timedelta(minutes=1))
        return site.redirect(request, back, kind="screens_pair_locked", num=minutes)
    if not await screens.pair(code, screen.id, by=user):
        attempts.failed(keys, now)
        site.audit(request, "pair_refused", screen.id)
        return site.redirect(request, back, kind="screens_pair_refused", code=code, minutes=MINUTES)
    attempts.succeeded(keys)
    site.audit(request, "pair", screen.id)
    return site.redirect(request, back, kind="screens_paired", screen=screen.name)
