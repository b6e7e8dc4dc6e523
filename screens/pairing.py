"""Pairing a new TV (issue 7): nobody types a long URL with a token on a TV remote.

- `GET /screens/pair`: the TV shows a code of 6 characters from an alphabet
  without look-alikes (no 0/O, 1/I), valid for 15 minutes. The code is bound
  to this browser by a random secret in an HttpOnly cookie scoped to
  /screens/pair; the store keeps only the secret's hash. Reloading the page
  shows the same code while it is valid. New codes are limited per client
  address, so that nobody can fill the store.
- `GET /screens/pair/status`: the page polls it (pair.js). 204 while the
  code waits; 410 when it expired or was used (the page reloads for a new
  code); once an admin claimed the code for a screen (`claim`, from the
  admin's Screens page), 303 to `/screens/{id}` with the screen's token as
  its cookie (`screens.web.hand_over`). The code is gone after that: it
  works once. A code that is not this browser's gets it nothing: the status
  asks by the secret, never by the code.

Guessing codes on the admin side is limited there (intracast/admin/screen_pairing.py).
Codes live in the store (`PairingStore`), so that several daemons can share them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web
from jinja2 import FileSystemLoader

from screens.builds import Builds
from screens.i18n import LOCALES, jinja_environment
from screens.player import ICON, PAIR_PATH, StaticFile, serve
from screens.render import TEMPLATES
from screens.store import PairingStore
from screens.web import hand_over

log = logging.getLogger(__name__)

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0, O, 1 or I: read across a room, typed without doubt
LENGTH = 6
MINUTES = 15  # a code's life
LIFETIME = timedelta(minutes=MINUTES)
COOKIE = "intracast_pairing"
PATH = PAIR_PATH
POLL_SECONDS = 3
BUSY_RETRY_SECONDS = 60  # a TV refused a code asks again after this, by itself
TRIES = 5  # new codes drawn before giving up; one collides about once in 10^9
NEW_CODES = 20  # per client address per LIFETIME: a TV makes one per LIFETIME; an office may set up many at once
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
STATIC = Path(__file__).parent / "static"
_SEPARATORS = re.compile(r"[\s-]+")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise_code(text: str) -> str | None:
    """The code an admin typed ("abc-def", "ABC DEF"), or None when it cannot be one."""
    code = _SEPARATORS.sub("", text).upper()
    return code if len(code) == LENGTH and all(c in ALPHABET for c in code) else None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def claim(store: PairingStore, text: str, screen_id: str, by: str, now: datetime) -> bool:
    """Assign the TV showing the code `text` to `screen_id`; False when no TV waits with that code."""
    code = normalise_code(text)
    return code is not None and await store.claim_pairing_code(code, screen_id, by, now)


class Quota:
    """At most `limit` events per key within `window`, in memory; at most `max_keys` keys are kept."""

    def __init__(self, limit: int = NEW_CODES, window: timedelta = LIFETIME, max_keys: int = 10_000):
        self._limit, self._window, self._max_keys = limit, window, max_keys
        self._seen: dict[str, list[datetime]] = {}

    def take(self, key: str, now: datetime) -> bool:
        """Count one event for `key`; False, counting nothing, when it has had its `limit`."""
        recent = [at for at in self._seen.pop(key, []) if now - at < self._window]
        allowed = len(recent) < self._limit
        if allowed:
            recent.append(now)
        while len(self._seen) >= self._max_keys:  # a flood of addresses: the quietest go first
            del self._seen[next(iter(self._seen))]
        self._seen[key] = recent  # last in the dict: the most recently active
        return allowed


def add_pairing_routes(app: web.Application, *, builds: Builds, store: PairingStore, clock: Callable[[], datetime],
                       locale: Callable[[], str], quota: Quota | None = None) -> None:
    """Mount /screens/pair; before the player's routes, whose `/screens/{id}` would take the path.

    `locale()`: the pages' language, asked per request (a config reload may change it)."""
    quota = quota or Quota()
    files = {name: StaticFile.read(STATIC / name) for name in ("pair.css", "pair.js", ICON)}
    environments = {language: jinja_environment(FileSystemLoader(TEMPLATES), language) for language in LOCALES}

    def render(template: str, status: int = 200, **context: object) -> web.Response:
        language = locale()
        html = environments[language].get_template(template).render(
            locale=language, files={name: f"{PATH}/{name}?v={file.tag}" for name, file in files.items()},
            status=f"{PATH}/status", **context,
        )
        headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                   "X-Content-Type-Options": "nosniff"}
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=headers)

    async def collect(request: web.Request, secret: str) -> web.HTTPSeeOther | None:
        """The handover, when an admin claimed this browser's code for a screen that still exists."""
        screen_id = await store.collect_pairing_code(secret_hash(secret), clock())
        screen = builds.screen(screen_id) if screen_id else None
        if screen is None:
            return None
        log.info("screen.paired screen=%s ip=%s", screen.id, request.remote)
        redirect = hand_over(request, screen, f"/screens/{screen.id}")
        redirect.del_cookie(COOKIE, path=PATH)
        return redirect

    async def page(request: web.Request) -> web.Response:
        secret, now = request.cookies.get(COOKIE), clock()
        if secret:
            if (redirect := await collect(request, secret)) is not None:
                raise redirect
            shown = await store.pairing_code(secret_hash(secret), now)
            if shown is not None:  # a reload: the same code, which the admin may be typing
                return render("pair.html", code=shown, minutes=MINUTES, poll=POLL_SECONDS)
        if not quota.take(request.remote or "-", now):
            log.warning("screen.pair_refused reason=too-many-codes ip=%s", request.remote)
            return render("pair_busy.html", status=429, retry=BUSY_RETRY_SECONDS)
        code, secret = await _new_code(store, now)
        log.info("screen.pair_started ip=%s", request.remote)
        response = render("pair.html", code=code, minutes=MINUTES, poll=POLL_SECONDS)
        response.set_cookie(COOKIE, secret, path=PATH, max_age=int(LIFETIME.total_seconds()), httponly=True,
                            samesite="Strict", secure=request.secure)
        return response

    async def status(request: web.Request) -> web.Response:
        secret = request.cookies.get(COOKIE)
        if secret and (redirect := await collect(request, secret)) is not None:
            raise redirect
        waiting = await store.pairing_code(secret_hash(secret), clock()) if secret else None
        return web.Response(status=204 if waiting else 410, headers={"Cache-Control": "no-store"})

    async def static(request: web.Request) -> web.Response:
        return serve(request, files[request.match_info["name"]])

    app.router.add_get(PATH, page)
    app.router.add_get(f"{PATH}/status", status)
    names = "|".join(re.escape(name) for name in files)
    app.router.add_get(f"{PATH}/{{name:{names}}}", static)


async def _new_code(store: PairingStore, now: datetime) -> tuple[str, str]:
    """A fresh code and its browser's secret."""
    secret = secrets.token_urlsafe(32)
    for _ in range(TRIES):
        code = new_code()
        if await store.add_pairing_code(code, secret_hash(secret), now, now + LIFETIME):
            return code, secret
    raise RuntimeError(f"no free pairing code in {TRIES} tries: is the store refusing every code?")
