"""The player page and its files (issue 6, "The player"): what a TV opens once and runs for months.

- `GET /screens/{id}`: the page, after `authorise` (the token trade for a
  cookie is `screens.web`'s). It inlines the screen's current playlist, so
  the first slide paints without another round trip, and sets
  `<base href="/screens/{id}/">` because slides refer to per-screen things
  by relative URLs (the QR codes). Its Content-Security-Policy allows no
  inline script or style at all: the playlist travels in a
  `<script type="application/json">`, which the browser never runs, escaped
  so that no text in it can close the element. The admin's preview of a
  screen is the same page (`PlayerPage.page`) with a base under /admin and
  `data-preview`, on which player.js sends no heartbeat and opens no event
  stream: it polls the playlist instead.
- `GET /screens/{id}/theme.css`: the screen's colours and font.
- `GET /screens/static/{name}`: slides.css, player.css and player.js, with
  ETags and `no-cache`, so a daemon upgrade reaches TVs on their next load.
  The page links them with `?v=<their hash>`, so a service worker's cache
  cannot hand an upgraded page last version's script.
- `GET /screens/sw.js`: the service worker that keeps a reload during an
  outage working (where the browser allows one: HTTPS or localhost).
- Without the screen's token the page is a 403 the TV shows across a room
  (`denied.html`, issue 14): large type in viewport units, white on near
  black, and the address of the pairing page, `/screens/pair`.
- Every page declares its icon (`icon.svg`), so that the browser does not ask
  for /favicon.ico, which nothing serves.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from jinja2 import FileSystemLoader
from markupsafe import Markup

from screens.builds import Builds
from screens.config import ScreenConfig
from screens.i18n import LOCALES, jinja_environment
from screens.render import STYLESHEET, TEMPLATES
from screens.web import ScreenForbidden, authorise, screen_or_404

STATIC = Path(__file__).parent / "static"
ICON = "icon.svg"
PAIR_PATH = "/screens/pair"  # screens/pairing.py's page, which imports this module
HEARTBEAT_SECONDS = 30
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
# `<`, `>` and `&` as JSON escapes: JSON has them only inside strings, where
# `\u003c` means the same, and without them nothing can end the script element.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
_CONTENT_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str  # quoted, strong

    @classmethod
    def read(cls, path: Path) -> StaticFile:
        body = path.read_bytes()
        return cls(body, _CONTENT_TYPES[path.suffix], f'"{hashlib.sha256(body).hexdigest()[:32]}"')

    @property
    def tag(self) -> str:
        """A short name for this content, for `?v=` in the page's links."""
        return self.etag.strip('"')[:12]


def content_security_policy(frame_hosts: list[str]) -> str:
    """The page's policy: its own origin only; frames only from the screen's allowed webpage hosts."""
    for host in frame_hosts:
        if not _HOST.fullmatch(host):  # the config checks this too; here a bad host would rewrite the policy
            raise ValueError(f"not a host name for frame-src: {host!r}")
    frames = " ".join(f"https://{host}" for host in sorted(set(frame_hosts))) or "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        f"font-src 'self'; frame-src {frames}; worker-src 'self'; manifest-src 'self'; base-uri 'self'; "
        "form-action 'none'; frame-ancestors 'self'"
    )


def script_json(body: bytes) -> Markup:
    """JSON text that is safe as the content of a `<script>` element."""
    return Markup(body.decode("utf-8").translate(_SCRIPT_SAFE))


class PlayerPage:
    """The player page of a screen, and its theme: for the TV, and for the admin's preview of it.

    `locale()` is its language, `theme(screen)` its CSS (`render.theme_css`), `frame_hosts(screen)` the
    hosts its webpage slides may frame; all are asked per request, so a config reload reaches them.
    """

    def __init__(self, builds: Builds, *, version: str, locale: Callable[[], str],
                 theme: Callable[[ScreenConfig], str], frame_hosts: Callable[[ScreenConfig], list[str]]):
        self.builds, self._version, self._locale = builds, version, locale
        self._theme, self._frame_hosts = theme, frame_hosts
        self.files = {
            "slides.css": StaticFile.read(STYLESHEET),
            "player.css": StaticFile.read(STATIC / "player.css"),
            "player.js": StaticFile.read(STATIC / "player.js"),
            "denied.css": StaticFile.read(STATIC / "denied.css"),
            ICON: StaticFile.read(STATIC / ICON),
        }
        environments = {language: jinja_environment(FileSystemLoader(TEMPLATES), language) for language in LOCALES}
        self._templates = {language: env.get_template("player.html") for language, env in environments.items()}
        self._denied = {language: env.get_template("denied.html") for language, env in environments.items()}

    async def page(self, screen: ScreenConfig, *, base: str | None = None, preview: bool = False) -> web.Response:
        """The page; `base` is where its playlist, theme and QR codes are (the screen's own URL by default).

        A `preview` is the admin's look at the screen: it sends no heartbeat and opens no event stream,
        so it neither counts as the screen nor takes one of the screen's streams (screens/hub.py).
        """
        build, locale = await self.builds.get(screen.id), self._locale()
        html = self._templates[locale].render(
            locale=locale,
            screen=screen,
            base=base or f"/screens/{screen.id}/",
            preview=preview,
            version=self._version,
            heartbeat=HEARTBEAT_SECONDS,
            files=self.links(),
            theme=f"theme.css?v={hashlib.sha256(self._theme(screen).encode()).hexdigest()[:12]}",
            playlist=script_json(build.body),
            etag=build.etag,
            generated=round(time.time() * 1000),  # ms, as the player's clock counts; for playlist_age
        )
        return _html(html, content_security_policy(self._frame_hosts(screen)))

    def denied(self, request: web.Request, refused: ScreenForbidden) -> web.Response:
        """The 403 a TV shows when it lacks the screen's token: what happened, and the way to pairing."""
        locale = self._locale()
        html = self._denied[locale].render(locale=locale, screen=refused.screen, reason=refused.refusal,
                                           files=self.links(), host=request.host, pair_path=PAIR_PATH)
        response = _html(html, content_security_policy([]), status=403)
        response.headers["Cache-Control"] = "no-store"
        return response

    def links(self) -> dict[str, str]:
        """The static files' URLs, each with its content's tag."""
        return {name: f"/screens/static/{name}?v={file.tag}" for name, file in self.files.items()}

    def theme(self, screen: ScreenConfig) -> web.Response:
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        return web.Response(text=self._theme(screen), content_type="text/css", charset="utf-8", headers=headers)


def add_player_routes(app: web.Application, player: PlayerPage) -> None:
    """Mount the player's routes."""
    builds = player.builds
    worker = StaticFile.read(STATIC / "sw.js")

    async def page(request: web.Request) -> web.Response:
        screen = screen_or_404(builds, request)
        try:
            authorise(request, screen)
        except ScreenForbidden as refused:
            return player.denied(request, refused)
        return await player.page(screen)

    async def theme_css(request: web.Request) -> web.Response:
        screen = screen_or_404(builds, request)
        authorise(request, screen)
        return player.theme(screen)

    async def static(request: web.Request) -> web.Response:
        return serve(request, player.files[request.match_info["name"]])

    async def service_worker(request: web.Request) -> web.Response:
        return serve(request, worker)

    names = "|".join(re.escape(name) for name in player.files)
    app.router.add_get("/screens/sw.js", service_worker)
    app.router.add_get(f"/screens/static/{{name:{names}}}", static)
    app.router.add_get("/screens/{id:[a-z0-9][a-z0-9_-]*}", page)
    app.router.add_get("/screens/{id:[a-z0-9][a-z0-9_-]*}/theme.css", theme_css)


def _html(html: str, policy: str, status: int = 200) -> web.Response:
    headers = {"Content-Security-Policy": policy, "Cache-Control": "no-cache", "Referrer-Policy": "no-referrer",
               "X-Content-Type-Options": "nosniff"}
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=headers)


def serve(request: web.Request, file: StaticFile) -> web.Response:
    """A static file with its ETag, or 304 when the client has it."""
    headers = {"ETag": file.etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    match = request.if_none_match
    if match and any(tag.value == "*" or f'"{tag.value}"' == file.etag for tag in match):
        return web.Response(status=304, headers=headers)
    return web.Response(body=file.body, content_type=file.content_type, charset="utf-8", headers=headers)
