"""The screens' HTTP routes (DESIGN.md, HTTP): playlist.json, events, heartbeat, and the token rules.

Token (issue 6, "The player"): a screen's URL carries `?token=` once; a GET
with the right token answers 303 to the same URL without it, setting an
HttpOnly, SameSite=Strict cookie scoped to `/screens/{id}`, so the secret
leaves the address bar and the history. Later requests send the cookie. A
missing or wrong token is 403 (`ScreenForbidden`) with a plain text naming
the screen and saying how to get a token; an unknown screen id is 404. The
player page (`GET /screens/{id}`, screens/player.py) calls `authorise` too,
and shows the TV a 403 page of its own, legible across a room; pairing
(screens/pairing.py) gives a TV the same cookie through `hand_over`.

Screens are looked up in `Builds`, which holds the current config, so a
config reload (`Builds.reconfigure`) reaches these routes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from screens.builds import Builds
from screens.config import ScreenConfig
from screens.hub import ScreenHub
from screens.render import qr_svg
from screens.store import Heartbeat, PlaylistStore

log = logging.getLogger(__name__)

# (screen, source, guid, the item's link) -> the link its QR code carries
QrLink = Callable[[ScreenConfig, str, str, str], Awaitable[str]]

COOKIE = "intracast_screen"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie; a TV runs for months
MAX_HEARTBEAT = 4096  # bytes of JSON; the player sends about 150
MAX_USER_AGENT = 300


class HeartbeatBody(BaseModel):
    """What the player posts every 30 s; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    width: Annotated[StrictInt, Field(ge=0, le=100_000)]
    height: Annotated[StrictInt, Field(ge=0, le=100_000)]
    slide: Annotated[str, Field(max_length=300)] | None = None
    playlist_age: Annotated[StrictFloat, Field(ge=0, le=10 * 365 * 86400, allow_inf_nan=False)] | None = None
    version: Annotated[str, Field(max_length=64)] | None = None
    heap: Annotated[StrictInt, Field(ge=0, le=2**53)] | None = None


def screen_or_404(builds: Builds, request: web.Request) -> ScreenConfig:
    screen = builds.screen(request.match_info["id"])
    if screen is None:
        raise web.HTTPNotFound(text=f"No screen with id {request.match_info['id']!r}.\n")
    return screen


def authorise(request: web.Request, screen: ScreenConfig) -> None:
    """Return if the request carries the screen's token; else raise 303 (token in the URL), 403.

    Only a GET or HEAD trades a URL token for the cookie; other methods need the cookie.
    """
    given = request.query.get("token")
    if given is not None and request.method in ("GET", "HEAD"):
        if not _same(given, screen.token):
            log.warning("screen.denied screen=%s reason=wrong-url-token", screen.id)
            raise ScreenForbidden(screen, "wrong-url-token")
        clean = request.rel_url.with_query([(k, v) for k, v in request.query.items() if k != "token"])
        raise hand_over(request, screen, str(clean))
    cookie = request.cookies.get(COOKIE)
    if cookie is None:
        raise ScreenForbidden(screen, "no-token")
    if not _same(cookie, screen.token):
        log.warning("screen.denied screen=%s reason=wrong-cookie", screen.id)
        raise ScreenForbidden(screen, "wrong-cookie")


def hand_over(request: web.Request, screen: ScreenConfig, location: str) -> web.HTTPSeeOther:
    """A 303 to `location` that gives the browser the screen's token as its cookie: after a token in
    the URL, or after pairing (screens/pairing.py)."""
    redirect = web.HTTPSeeOther(location=location)
    redirect.set_cookie(
        COOKIE,
        screen.token,
        path=f"/screens/{screen.id}",
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    redirect.headers["Cache-Control"] = "no-store"
    redirect.headers["Referrer-Policy"] = "no-referrer"
    return redirect


async def playlist_response(request: web.Request, builds: Builds, screen: ScreenConfig) -> web.Response:
    """The screen's playlist.json, or 304 when the client has it: for the screen, and for the admin's preview."""
    build = await builds.get(screen.id)
    headers = {"ETag": build.etag, "Cache-Control": "no-cache"}
    match = request.if_none_match
    if match and any(tag.value == "*" or f'"{tag.value}"' == build.etag for tag in match):
        return web.Response(status=304, headers=headers)
    return web.Response(body=build.body, content_type="application/json", charset="utf-8", headers=headers)


async def qr_response(request: web.Request, builds: Builds, screen: ScreenConfig, qr_link: QrLink) -> web.Response:
    """The QR code of an item slide (`?key=`) as SVG: for the screen, and for the admin's preview."""
    found = (await builds.get(screen.id)).links.get(request.query.get("key", ""))
    if screen.qr == "off" or found is None:
        raise web.HTTPNotFound(text="No item with that key on this screen's playlist.\n")
    svg = qr_svg(await qr_link(screen, *found))
    etag = f'"{hashlib.sha256(svg.encode()).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if any(f'"{tag.value}"' == etag for tag in request.if_none_match or ()):
        return web.Response(status=304, headers=headers)
    return web.Response(text=svg, content_type="image/svg+xml", headers=headers)


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


class ScreenForbidden(web.HTTPForbidden):
    """A request without the screen's token: 403 in plain text, for whoever scripts against the routes.
    The player page shows the TV a page of its own instead, from `refusal` (screens/player.py)."""

    WHY = {
        "wrong-url-token": "The token in the address is not this screen's token.",
        "no-token": "This request carries no token.",
        "wrong-cookie": "The token this browser kept is no longer this screen's token.",
    }

    def __init__(self, screen: ScreenConfig, reason: str):
        text = (
            f"403: screen {screen.id!r} needs its token.\n\n"
            f"{self.WHY[reason]}\n\n"
            f"Open /screens/pair on the TV and type the code it shows on the admin's Screens page, or open\n"
            f"this screen once as /screens/{screen.id}?token=... with the token from the intranet admin:\n"
            f"it is the `token` of screen {screen.id!r} in intracast's config (usually an environment\n"
            f"variable such as SCREEN_{screen.id.upper().replace('-', '_')}_TOKEN).\n"
            f"The browser then keeps it, and the address no longer shows it.\n"
        )
        super().__init__(text=text, headers={"Cache-Control": "no-store"})
        self.screen, self.refusal = screen, reason


def add_screen_routes(
    app: web.Application,
    *,
    screens: list[ScreenConfig],
    builds: Builds,
    hub: ScreenHub,
    store: PlaylistStore,
    clock: Callable[[], datetime],
    qr_link: QrLink,
) -> None:
    """Mount the screens' routes; `hub.close()` runs on the app's shutdown.

    `qr_link` says where an item slide's QR code leads for a screen (`GET
    /screens/{id}/qr?key=...` draws it): the daemon's `/r/` link, which counts
    scans per item and screen, or the item's own link.

    `screens` must be the screens `builds` was made with (a check that the
    two agree); afterwards `builds` is the one source of truth.
    """
    if {s.id for s in screens} != set(builds.screens):
        raise ValueError("add_screen_routes: `screens` and `builds` disagree on the screen ids")

    async def playlist(request: web.Request) -> web.StreamResponse:
        screen = screen_or_404(builds, request)
        authorise(request, screen)
        return await playlist_response(request, builds, screen)

    async def events(request: web.Request) -> web.StreamResponse:
        screen = screen_or_404(builds, request)
        authorise(request, screen)
        return await hub.stream(request, screen.id)

    async def heartbeat(request: web.Request) -> web.Response:
        screen = screen_or_404(builds, request)
        authorise(request, screen)
        body = await _read_limited(request, MAX_HEARTBEAT)
        try:
            beat = HeartbeatBody.model_validate_json(body)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}" for err in e.errors())
            raise web.HTTPBadRequest(text=f"bad heartbeat: {problems}\n") from e
        user_agent = request.headers.get("User-Agent", "")[:MAX_USER_AGENT] or None
        await store.record_heartbeat(Heartbeat(
            screen.id, clock(), beat.width, beat.height, beat.slide, user_agent, beat.playlist_age, beat.version,
            beat.heap,
        ))
        log.debug("screen.heartbeat screen=%s size=%dx%d slide=%s age=%s version=%s heap=%s",
                  screen.id, beat.width, beat.height, beat.slide, beat.playlist_age, beat.version, beat.heap)
        return web.Response(status=204)

    async def qr(request: web.Request) -> web.Response:
        screen = screen_or_404(builds, request)
        authorise(request, screen)
        return await qr_response(request, builds, screen, qr_link)

    async def close_hub(_: web.Application) -> None:
        await hub.close()

    app.router.add_get("/screens/{id}/playlist.json", playlist)
    app.router.add_get("/screens/{id}/events", events, allow_head=False)
    app.router.add_post("/screens/{id}/heartbeat", heartbeat)
    app.router.add_get("/screens/{id}/qr", qr)
    app.on_shutdown.append(close_hub)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, or 413 when it is (or says it is) longer than `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    body = bytearray()
    while chunk := await request.content.read(limit + 1 - len(body)):
        body += chunk
        if len(body) > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return bytes(body)
