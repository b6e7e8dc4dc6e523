"""Screens: each screen's health from its heartbeats, a live preview, how to set up its TV, and overrides.

A screen is online while its player's heartbeats come (none for two
minutes: offline, as on the overview). The preview frames the screen's own
player page (intracast/admin/screen_preview.py). A TV is set up by pairing
(intracast/admin/screen_pairing.py) or by opening the screen's link with
its token once; the token shows only when asked for.

An override puts a message over the rotation of the chosen screens (none
chosen: all) until it is lifted or until its end, typed in the intranet's
time zone; `Screens.override` pushes it to the screens at once. The page
lists every alert over the screens, overrides and pinned items alike
(intracast/admin/screen_alerts.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, cast
from zoneinfo import ZoneInfo

from aiohttp import hdrs, web

from intracast.admin import screen_alerts, screen_pairing, screen_preview
from intracast.admin.screen_alerts import screens_pipeline, shown_alerts
from intracast.health import is_online
from intracast.admin.i18n import N_
from intracast.admin.render import FRAMING_CSP
from intracast.admin.site import SITE, Site
from intracast.screens import Screens
from screens.config import ScreenConfig
from screens.store import Heartbeat

MAX_TITLE = 120
MAX_TEXT = 500
MODES = ("banner", "takeover")
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # what an <input type="datetime-local"> shows and sends


@dataclass(frozen=True)
class ScreenView:
    config: ScreenConfig
    beat: Heartbeat | None
    online: bool
    link: str  # its page, without the token
    titles: Mapping[str, str] = field(default_factory=dict)  # the names of its current slides, by key

    @property
    def playlist_age(self) -> timedelta | None:
        """How old the playlist the player last had was, as it said in its heartbeat; None when unknown,
        as it is once the screen is offline (its last word says nothing about what it has now)."""
        age = self.beat.playlist_age if self.beat and self.online else None
        return timedelta(seconds=age) if age is not None else None

    @property
    def slide_title(self) -> str | None:
        """The name of the slide it said it shows, when its current playlist has that slide."""
        return self.titles.get(self.beat.slide) if self.beat and self.beat.slide else None

    @property
    def slide_kind(self) -> str:
        """What kind of slide it said it shows (item, clock, ...): the first part of the slide's key."""
        return (self.beat.slide or "").split(":", 1)[0] if self.beat else ""


@dataclass(frozen=True)
class OverrideForm:
    """The override form as typed, kept to show again with what is wrong."""

    title: str = ""
    text: str = ""
    mode: str = "banner"
    screens: tuple[str, ...] = ()
    until: str = ""  # datetime-local, in the intranet's time zone; empty: until lifted


def mount(site: Site) -> None:
    if site.admin.screens is None:
        return  # a daemon without the screens pipeline has no Screens page
    site.page("/screens", "admin.screens", N_("Screens"), screens_page)
    site.route(hdrs.METH_POST, "/screens/overrides", "admin.override", override)
    site.route(hdrs.METH_POST, r"/screens/overrides/{id:\d+}/lift", "admin.lift", lift)
    screen_alerts.mount(site)
    screen_pairing.mount(site)
    screen_preview.mount(site)


async def screens_page(request: web.Request) -> web.Response:
    return await _page(request, OverrideForm())


async def override(request: web.Request) -> web.Response:
    site, posted = request.app[SITE], await request.post()
    config = site.admin.loaded.config
    form = OverrideForm(
        title=" ".join(str(posted.get("title", "")).split()), text=str(posted.get("text", "")).strip(),
        mode=str(posted.get("mode", "")), screens=tuple(str(s) for s in posted.getall("screens", [])),
        until=str(posted.get("until", "")).strip(),
    )
    until, problem = _until(form.until, config.intranet.timezone, site.admin.clock())
    problems = _problems(form, {s.id for s in config.screens}) + ([problem] if problem else [])
    if problems:
        return await _page(request, form, problems, status=400)
    override_id = await screens_pipeline(site).override(
        form.title, form.text, mode=cast(Literal["banner", "takeover"], form.mode), screens=list(form.screens),
        until=until, by=site.user(request),
    )
    site.audit(request, "override", f"{override_id} {form.mode} {','.join(form.screens) or 'all'}")
    return site.redirect(request, site.url("admin.screens"), kind="screens_override_set", title=form.title)


async def lift(request: web.Request) -> web.Response:
    site, override_id = request.app[SITE], int(request.match_info["id"])
    lifted = await screens_pipeline(site).lift(override_id, by=site.user(request))
    site.audit(request, "lift", str(override_id))
    kind = "screens_override_lifted" if lifted else "screens_override_gone"
    return site.redirect(request, site.url("admin.screens"), kind=kind)


def _until(typed: str, zone: ZoneInfo, now: datetime) -> tuple[datetime | None, str | None]:
    """The override's end as typed in the intranet's time zone (empty: none), or what is wrong with it."""
    if not typed:
        return None, None
    try:
        until = datetime.fromisoformat(typed)
    except ValueError:
        return None, N_("The end is not a date and time.")
    until = until if until.tzinfo else until.replace(tzinfo=zone)
    return (until, None) if until > now else (None, N_("The end has passed; give one in the future, or none."))


def _problems(form: OverrideForm, screen_ids: set[str]) -> list[str]:
    """What is wrong with the form, as msgids the page words with `title` and `text`, the longest of each."""
    problems = []
    if not form.title or len(form.title) > MAX_TITLE:
        problems.append(N_("Give the message a title of at most %(title)d characters."))
    if len(form.text) > MAX_TEXT:
        problems.append(N_("The text is longer than %(text)d characters."))
    if form.mode not in MODES or not set(form.screens) <= screen_ids:
        problems.append(N_("Choose a way to show it and screens from the list."))
    return problems


async def _page(request: web.Request, form: OverrideForm, problems: Sequence[str] = (), status: int = 200
                ) -> web.Response:
    site = request.app[SITE]
    admin, screens = site.admin, screens_pipeline(site)
    config, now = admin.loaded.config, admin.clock()
    beats = await admin.store.last_heartbeats()
    views = [await _view(screens, screen, beats.get(screen.id), now) for screen in config.screens]
    return site.render(
        request, "screens.html", status=status, csp=FRAMING_CSP, screens=views, now=now,
        alerts=await shown_alerts(screens, admin.store, config, now), hidden=await admin.store.hidden_alerts(now),
        form=form, problems=problems, modes=MODES, max_title=MAX_TITLE, max_text=MAX_TEXT,
        public_url=screens.public_url, earliest=now.astimezone(config.intranet.timezone).strftime(LOCAL_MINUTE),
    )


async def _view(screens: Screens, screen: ScreenConfig, beat: Heartbeat | None, now: datetime) -> ScreenView:
    link = f"{screens.public_url}/screens/{screen.id}"
    titles = (await screens.builds.peek(screen.id)).titles
    return ScreenView(screen, beat, is_online(beat, now), link, titles)


