"""Overview: is everything healthy? Version, uptime, config (and what waits for a restart), recipients' problems,
sources, screens, today's mail."""

from __future__ import annotations

from aiohttp import web

from intracast.admin.facts import SOURCE_STATES, gather
from intracast.admin.i18n import N_
from intracast.admin.site import SITE, Site
from intracast.roster import Roster

PROBLEMS_SHOWN = 50  # of the recipients'; a CSV of thousands may have as many, and `intracast check` lists all


def mount(site: Site) -> None:
    site.page("/", "admin.overview", N_("Overview"), overview)


async def overview(request: web.Request) -> web.Response:
    site = request.app[SITE]
    admin, state = site.admin, site.admin.config
    facts = await gather(state.loaded.config, state.loaded.path, admin.store, admin.clock(), problems=state.problems,
                         loaded_at=state.loaded_at, started=admin.started)
    roster = admin.digests.roster if admin.digests else Roster()
    return site.render(request, "overview.html", facts=facts, states=SOURCE_STATES,
                       scheduler_running=admin.scheduler.running, unapplied=state.unapplied, roster=roster,
                       shown=PROBLEMS_SHOWN)
