"""Recipients: find someone, see how often they get the digest and whether they unsubscribed.

An unsubscribe is the employee's own decision, so an admin may undo it only
with a reason (they asked by phone, the click was a mail scanner's), which
is kept with the admin's name and shown as history.
"""

from __future__ import annotations

from typing import Any

from aiohttp import hdrs, web
from yarl import URL

from intracast.admin.i18n import N_
from intracast.admin.site import SITE, Site

SHOWN = 100
HISTORY = 50
MAX_REASON = 500


def mount(site: Site) -> None:
    site.page("/recipients", "admin.recipients", N_("Recipients"), recipients_page)
    site.route(hdrs.METH_POST, "/recipients/resubscribe", "admin.resubscribe", resubscribe)


async def recipients_page(request: web.Request) -> web.Response:
    return await _page(request, request.query.get("q", ""))


async def resubscribe(request: web.Request) -> web.Response:
    site, form = request.app[SITE], await request.post()
    email, reason = str(form.get("email", "")).strip(), " ".join(str(form.get("reason", "")).split())
    if not email or not reason or len(reason) > MAX_REASON:
        return await _page(request, email, status=400, reason_for=email, reason=reason)
    done = await site.admin.store.resubscribe_with_reason(email, site.user(request), reason, site.admin.clock())
    if done:
        site.audit(request, "resubscribe", email)
    back = str(URL(site.url("admin.recipients")).with_query(q=email))
    return site.redirect(request, back, kind="resubscribed" if done else "not_unsubscribed", email=email)


async def _page(request: web.Request, query: str, status: int = 200, **context: Any) -> web.Response:
    site = request.app[SITE]
    store = site.admin.store
    found = await store.find_recipients(query, SHOWN + 1)
    history = await store.resubscriptions(limit=HISTORY)
    return site.render(request, "recipients.html", status=status, query=query, recipients=found[:SHOWN],
                       more=len(found) > SHOWN, history=history, max_reason=MAX_REASON,
                       **{"reason_for": None, "reason": ""} | context)
