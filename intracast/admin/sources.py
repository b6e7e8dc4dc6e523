"""Sources: each one's health and latest items, and "fetch now".

"Fetch now" runs the very fetch the scheduler runs (`Ingestor.run`), with
`force` so that a source backing off after failures is tried at once, and
says what came of it on the page it returns to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import hdrs, web

from intracast.admin.i18n import N_
from intracast.admin.site import SITE, Site
from intracast.health import source_state
from intracast.ingest import FetchOutcome
from intracast.store import FetchState
from sources.item import Item
from sources.registry import SourceOptions

LATEST = 10


@dataclass(frozen=True)
class SourceView:
    options: SourceOptions
    state: str  # pending, healthy, retrying or degraded (intracast/health.py)
    fetch: FetchState | None
    held: int
    next_fetch: datetime | None
    items: list[Item]

    @property
    def per_recipient(self) -> bool:
        return per_recipient(self.options)


def mount(site: Site) -> None:
    site.page("/sources", "admin.sources", N_("Sources"), sources_page)
    site.route(hdrs.METH_POST, "/sources/{name}/fetch", "admin.fetch", fetch_now)


async def sources_page(request: web.Request) -> web.Response:
    site = request.app[SITE]
    admin = site.admin
    states, held, jobs = await admin.store.fetch_states(), await admin.store.item_counts(), admin.scheduler.jobs()
    now = admin.clock()
    views = [
        SourceView(options, source_state(options, states.get(options.name), now), states.get(options.name),
                   held.get(options.name, 0), jobs.get(f"source:{options.name}"),
                   await admin.store.get_items(options.name, LATEST))
        for options in admin.loaded.config.sources
    ]
    return site.render(request, "sources.html", sources=views)


async def fetch_now(request: web.Request) -> web.Response:
    site, name = request.app[SITE], request.match_info["name"]
    admin = site.admin
    options = next((s for s in admin.loaded.config.sources if s.name == name), None)
    if options is None or per_recipient(options) or name not in admin.ingestor.sources:
        return site.render(request, "missing.html", status=404)
    site.audit(request, "fetch", name)
    outcome = await admin.ingestor.run(name, force=True)
    if (outcome.new or outcome.updated) and admin.after_fetch is not None:
        await admin.after_fetch()
    return site.redirect(request, site.url("admin.sources"), **_flash(outcome))


def per_recipient(options: SourceOptions) -> bool:
    """Fetched for each recipient at digest time: there is nothing to fetch now."""
    return bool(getattr(options, "per_recipient", False))


def _flash(outcome: FetchOutcome) -> dict[str, str | int]:
    if outcome.error is not None:
        # Cut short: it travels in a cookie, and the whole message is in the log and on this page.
        return {"kind": "fetch_failed", "source": outcome.source, "error": str(outcome.error)[:300]}
    if outcome.skipped:  # a scheduled fetch of it is running right now
        return {"kind": "fetch_busy", "source": outcome.source}
    if outcome.not_modified:
        return {"kind": "not_modified", "source": outcome.source}
    return {"kind": "fetched", "source": outcome.source, "items": len(outcome.items), "new": outcome.new,
            "updated": outcome.updated}
