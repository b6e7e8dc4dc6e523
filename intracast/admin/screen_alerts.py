"""The Screens page's list of what is over the screens, from any source, and hiding a pinned item.

What is over the screens is read from the screens' own builds, so the list is
what the screens have: an admin's overrides (lifted on the Screens page) and
pinned items from the sources (issue 14, item 7: a pinned maintenance notice
was a banner on every screen while the page said "No message is over the
screens"). An admin can hide a pinned item from every screen until it changes
or expires (intracast/store/hidden_alerts.py); the screens hear it at once, and
the hide and the show are audit-logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import hdrs, web

from intracast.admin.site import SITE, Site
from intracast.config import Config
from intracast.screens import Screens
from intracast.store import SqlStore
from screens.playlist import alert_key, override_key
from screens.store import Override
from sources.item import Item


@dataclass(frozen=True)
class ShownAlert:
    """One alert over the screens: an admin's override or a pinned item, and the screens that have it."""

    title: str
    text: str
    takeover: bool
    screens: tuple[str, ...]  # names, in the config's order
    every_screen: bool
    until: datetime | None
    override: Override | None = None
    item: Item | None = None
    version: str = ""  # a pinned item's, as stored: what "hide" hides


def mount(site: Site) -> None:
    site.route(hdrs.METH_POST, "/screens/alerts/hide", "admin.hide_alert", hide)
    site.route(hdrs.METH_POST, "/screens/alerts/show", "admin.show_alert", show)


async def shown_alerts(screens: Screens, store: SqlStore, config: Config, now: datetime) -> list[ShownAlert]:
    """Every alert on a screen's current playlist, overrides first, each with the screens that show it."""
    overrides = {override_key(o): o for o in await store.active_overrides(now)}
    pinned = {alert_key(item): item for item in await store.list_pinned(now)}
    where: dict[str, list[str]] = {}
    for screen in config.screens:
        for slide in (await screens.builds.peek(screen.id)).alerts:
            where.setdefault(slide.key, []).append(screen.name)
    versions = await store.pinned_versions(now)
    found = [_override(o, where[key], len(config.screens)) for key, o in overrides.items() if key in where]
    return found + [_pinned(item, where[key], len(config.screens), versions[item.source, item.guid])
                    for key, item in pinned.items() if key in where]


def _override(override: Override, screens: list[str], of: int) -> ShownAlert:
    return ShownAlert(override.title, override.text, override.mode == "takeover", tuple(screens),
                      len(screens) == of, override.until, override=override)


def _pinned(item: Item, screens: list[str], of: int, version: str) -> ShownAlert:
    return ShownAlert(item.title, item.summary, item.takeover, tuple(screens), len(screens) == of, item.expires,
                      item=item, version=version)


async def hide(request: web.Request) -> web.Response:
    """Hide the pinned item the admin saw: source, guid and the version they saw (its content hash)."""
    site, posted = request.app[SITE], await request.post()
    source, guid, seen = (str(posted.get(name, "")) for name in ("source", "guid", "version"))
    now = site.admin.clock()
    item = next((i for i in await site.admin.store.list_pinned(now) if (i.source, i.guid) == (source, guid)), None)
    if item is None:
        return site.redirect(request, site.url("admin.screens"), kind="screens_alert_gone")
    if (await site.admin.store.pinned_versions(now)).get((source, guid)) != seen:  # the admin saw another one
        return site.redirect(request, site.url("admin.screens"), kind="screens_alert_changed", title=item.title)
    await screens_pipeline(site).hide(source, guid, seen, by=site.user(request))
    site.audit(request, "hide", f"{source}:{guid}")
    return site.redirect(request, site.url("admin.screens"), kind="screens_alert_hidden", title=item.title)


async def show(request: web.Request) -> web.Response:
    site, posted = request.app[SITE], await request.post()
    source, guid = str(posted.get("source", "")), str(posted.get("guid", ""))
    shown = await screens_pipeline(site).unhide(source, guid, by=site.user(request))
    site.audit(request, "show", f"{source}:{guid}")
    kind = "screens_alert_shown" if shown else "screens_alert_gone"
    return site.redirect(request, site.url("admin.screens"), kind=kind)


def screens_pipeline(site: Site) -> Screens:
    screens = site.admin.screens
    assert screens is not None, "the Screens page is mounted only with the screens pipeline"
    return screens
