"""The employee's side of a digest: unsubscribe, preferences and tracked links.

    GET  /u/{token}            asks to confirm; never unsubscribes anyone
    POST /u/{token}            unsubscribes: RFC 8058 one-click, and the confirmation button
    GET  /preferences/{token}  daily, weekly, off, or as the organisation set it
    POST /preferences/{token}  saves the choice, then 303 to the GET (Post/Redirect/Get)
    GET  /r/{token}            records the item as read (a screen's QR code: as scanned there), then 302 to it

The signed token (digest/tokens.py) is the whole capability: there is no
session, and no CSRF token either, because a forged form would have to know
the token it posts to. A token must be for the route's action; a forged,
tampered or wrongly scoped one gets a 400 page and changes nothing.

Corporate mail scanners open every link in a mail, so a GET changes nothing
but the read mark behind /r/, which is what that link is for.

Pages speak the browser's Accept-Language when it is nl or en, else the
intranet's locale. Every response forbids scripts, frames and caching, and
sends no Referer: the token in the URL would leak to the next site. Logs name
the event, never the employee: a token or an address in a log is personal data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web
from jinja2 import Environment, FileSystemLoader
from yarl import URL

from digest.i18n import LOCALES, jinja_environment
from digest.recipients import FREQUENCIES
from digest.store import EmployeeStore, PreferenceView
from digest.tokens import Action, BadToken, Claims, Signer

log = logging.getLogger(__name__)

PAGES = Path(__file__).parent / "templates" / "pages"
# "default": no choice of their own, so the frequency in the config or CSV applies.
CHOICES: tuple[str, ...] = ("default", *FREQUENCIES)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
# RFC 9110 12.4.2: a qvalue is 0 to 1 with at most three decimals.
_QVALUE = re.compile(r"0(\.\d{0,3})?|1(\.0{0,3})?")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_employee_routes(app: web.Application, store: EmployeeStore, signer: Signer, *, intranet_url: str,
                        allowed_hosts: frozenset[str], locale: str, clock: Callable[[], datetime],
                        intranet_name: str | None = None) -> EmployeePages:
    """Mount the employee's routes on `app`; the pages' `configure` takes a reloaded config's values
    (the signer among them).

    `allowed_hosts`: the only hosts /r/ redirects to (the intranet's own);
    `locale`: the pages' language when the browser asks for neither nl nor en;
    `clock`: now, UTC-aware.
    """
    pages = EmployeePages(store, signer, intranet_url=intranet_url, allowed_hosts=allowed_hosts,
                          locale=locale, clock=clock, intranet_name=intranet_name)
    routes = {
        ("/u/{token}", "digest.unsubscribe"): (pages.confirm_unsubscribe, pages.unsubscribe),
        ("/preferences/{token}", "digest.preferences"): (pages.preferences, pages.save_preferences),
        ("/r/{token}", "digest.follow"): (pages.follow, None),
    }
    for (path, name), (get, post) in routes.items():
        resource = app.router.add_resource(path, name=name)
        for method in (hdrs.METH_GET, hdrs.METH_HEAD):  # HEAD: link checkers and previewers
            resource.add_route(method, pages.guarded(get))
        if post is not None:
            resource.add_route(hdrs.METH_POST, pages.guarded(post))
    return pages


def page_locale(accept_language: str | None, default: str) -> str:
    """The first of LOCALES the browser prefers (RFC 9110 12.5.4), else `default`.

    Ranges are tried by falling q, in written order among equals; `*` and a
    language we do not have give way to `default`, which is the intranet's.
    """
    ranges = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, *params = (piece.strip() for piece in part.split(";"))
        quality = _quality(params)
        if tag and quality > 0:
            ranges.append((-quality, position, tag.lower()))
    for _, _, tag in sorted(ranges):
        language = re.split("[-_]", tag)[0]
        if language in LOCALES:
            return language
        if tag == "*":
            return default
    return default


def _quality(params: list[str]) -> float:
    """A range's q (1 without one); 0, so that the range is skipped, when q is malformed."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            return float(value) if _QVALUE.fullmatch(value.strip()) else 0.0
    return 1.0


def redirect_target(link: str, allowed_hosts: frozenset[str]) -> str | None:
    """`link` as a Location header, when it is http(s) on one of `allowed_hosts`; None otherwise.

    The check and the redirect use the same parse, so that a browser cannot be
    sent anywhere the check did not see; userinfo is refused outright, because
    `https://intranet@elsewhere/` is how a link hides where it goes.
    """
    try:
        url = URL(link)
    except ValueError:
        return None
    host = (url.raw_host or "").rstrip(".")
    if url.scheme not in ("http", "https") or url.raw_user is not None or url.raw_password is not None:
        return None
    return str(url) if host in allowed_hosts else None


def _normal_host(host: str) -> str:
    """The form `redirect_target` compares: lowercase, IDNA-encoded, no trailing dot."""
    return (URL.build(scheme="https", host=host.strip()).raw_host or "").rstrip(".")


class EmployeePages:
    """The route handlers; `add_employee_routes` makes one and mounts its methods."""

    def __init__(self, store: EmployeeStore, signer: Signer, *, intranet_url: str,
                 allowed_hosts: frozenset[str], locale: str, clock: Callable[[], datetime],
                 intranet_name: str | None = None):
        self._store, self._clock = store, clock
        self._environments: dict[str, Environment] = {
            language: jinja_environment(FileSystemLoader(PAGES), language) for language in LOCALES
        }
        self.configure(signer=signer, intranet_url=intranet_url, allowed_hosts=allowed_hosts, locale=locale,
                       intranet_name=intranet_name)

    def configure(self, *, signer: Signer, intranet_url: str, allowed_hosts: frozenset[str], locale: str,
                  intranet_name: str | None = None) -> None:
        """A reloaded config's values. The signer too: a rotated `server.secret` verifies the links signed
        with it from now on, and those signed with the old one no more (issue 14)."""
        if locale not in LOCALES:
            raise ValueError(f"employee pages: no locale {locale!r}; expected one of {', '.join(LOCALES)}")
        self._signer = signer
        self._allowed_hosts = frozenset(_normal_host(host) for host in allowed_hosts)
        self._locale = locale
        # The intranet's name as employees know it, else what they see in the address bar.
        self._context = {"intranet": intranet_name or URL(intranet_url).host or intranet_url,
                         "intranet_url": intranet_url}

    async def confirm_unsubscribe(self, request: web.Request) -> web.Response:
        claims = self._claims(request, "unsubscribe")
        if claims is None:
            return self.problem(request, "link")
        return self._page(request, "unsubscribe.html", preferences_url=self._preferences_url(request, claims))

    async def unsubscribe(self, request: web.Request) -> web.Response:
        # The body is not read: mail providers send RFC 8058's `List-Unsubscribe=One-Click`,
        # our confirmation form sends the same, some clients send nothing. The token decides.
        claims = self._claims(request, "unsubscribe")
        if claims is None:
            return self.problem(request, "link")
        await self._store.unsubscribe(claims.recipient, self._clock())
        log.info("digest.unsubscribed")
        return self._page(request, "unsubscribed.html", preferences_url=self._preferences_url(request, claims))

    async def preferences(self, request: web.Request) -> web.Response:
        claims = self._claims(request, "preferences")
        if claims is None:
            return self.problem(request, "link")
        preference = await self._store.get_preference(claims.recipient)
        return self._page(
            request, "preferences.html", choices=CHOICES, current=_current(preference),
            unsubscribed=preference is not None and preference.unsubscribed_at is not None,
            saved="saved" in request.query,
        )

    async def save_preferences(self, request: web.Request) -> web.Response:
        claims = self._claims(request, "preferences")
        if claims is None:
            return self.problem(request, "link")
        choice = (await request.post()).get("frequency")
        if not isinstance(choice, str) or choice not in CHOICES:
            return self.problem(request, "choice")
        now = self._clock()
        await self._store.set_frequency(claims.recipient, None if choice == "default" else choice, now)
        if choice != "off":
            # Asking for the digest undoes an unsubscribe; "off" leaves one in place.
            await self._store.resubscribe(claims.recipient, now)
        log.info("digest.frequency_chosen frequency=%s", choice)
        return _redirect(303, str(request.rel_url.with_query(saved="1")))

    async def follow(self, request: web.Request) -> web.Response:
        claims = self._claims(request, "click") or self._claims(request, "scan")
        if claims is None or not isinstance(claims.item_id, int) or not isinstance(claims.link, str):
            return self.problem(request, "link")
        target = redirect_target(claims.link, self._allowed_hosts)
        if target is None:
            # A digest listed an item whose link leaves the intranet: its links do not work.
            log.warning("digest.redirect_refused item=%d", claims.item_id)
            return self.problem(request, "host")
        if request.method == hdrs.METH_HEAD:  # a link checker, not a reader: redirect, record nothing
            return _redirect(302, target)
        try:
            record = self._store.record_read if claims.action == "click" else self._store.record_scan
            await record(claims.recipient, claims.item_id, claims.link, self._clock())
        except Exception as e:  # a lost read mark costs a repeat in a digest; a lost page costs the reader
            log.warning("digest.read_not_recorded item=%d error=%s", claims.item_id, type(e).__name__)
        return _redirect(302, target)

    def guarded(self, handler: Callable[[web.Request], Awaitable[web.Response]]) -> Handler:
        """`handler`, answering a localised 503 page when the store fails, not a bare 500."""
        async def guarded(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except web.HTTPException:
                raise
            except Exception as e:
                # Type and message only: a store error's chained SQLAlchemy error lists
                # the statement's parameters, which are addresses.
                log.error("digest.page_failed route=%s error=%s: %s",
                          request.match_info.route.resource.canonical, type(e).__name__, e)
                return self.problem(request, "failure", status=503)
        return guarded

    def problem(self, request: web.Request, reason: str, status: int = 400) -> web.Response:
        """A page saying what went wrong: link, host, choice or failure (problem.html)."""
        if reason != "failure":
            log.info("digest.refused route=%s reason=%s", request.match_info.route.resource.canonical, reason)
        return self._page(request, "problem.html", status=status, reason=reason, back_url=request.path)

    def _claims(self, request: web.Request, action: Action) -> Claims | None:
        try:
            return self._signer.verify(request.match_info["token"], action)
        except BadToken:
            return None

    def _preferences_url(self, request: web.Request, claims: Claims) -> str:
        """The verified recipient's own preferences page, to change their mind on."""
        token = self._signer.sign(Claims("preferences", claims.recipient))
        return str(request.app.router["digest.preferences"].url_for(token=token))

    def _page(self, request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
        locale = page_locale(request.headers.get(hdrs.ACCEPT_LANGUAGE), self._locale)
        page = self._environments[locale].get_template(template)
        html = page.render(locale=locale, **self._context, **context)
        response = web.Response(text=html, status=status, content_type="text/html")
        response.headers.update(SECURITY_HEADERS)
        response.headers[hdrs.VARY] = hdrs.ACCEPT_LANGUAGE
        return response


def _current(preference: PreferenceView | None) -> str:
    """The choice to show as selected: an unsubscribe reads as off, whatever the frequency."""
    if preference is None:
        return "default"
    if preference.unsubscribed_at is not None:
        return "off"
    return preference.frequency or "default"


def _redirect(status: int, location: str) -> web.Response:
    response = web.Response(status=status, headers={hdrs.LOCATION: location})
    response.headers.update(SECURITY_HEADERS)
    return response
