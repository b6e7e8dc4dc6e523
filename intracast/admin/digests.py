"""Digests: each one's schedule, next run and last run; a preview for one recipient; "send now" and "send to me".

Everything goes through the daemon's own `Digests`, the pipeline the
scheduler runs, so that what the page shows and does is what the schedule
shows and does:

- a preview is `intracast digest preview`: `DigestRun.preview` renders what
  the recipient would get if their window ended now, and records nothing.
  Its HTML part comes from a URL of its own, in the outbox's mail sandbox
  (intracast/admin/outbox.py);
- "send now" is `intracast digest send NAME`: a manual run, whose windows end
  now, into the same outbox, drained by the same sender. A second one finds
  nothing new: what the first queued is recorded as delivered;
- "send to me" mails the digest to the admin's own address (`admin.email`), as
  they would get it now: the preview rendered for them, put in the outbox
  under a delivery key of its own (digest, their address, now) with no items
  recorded as delivered, no window advanced and no outcome recorded. So it
  changes nothing for any recipient, the admin included if they are one.
  `digest send --to` would not do: it advances the recipient's window and
  marks the items delivered, so their next real digest would lack them.

Without a `Digests` (an `Admin` made without one) the page is not mounted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from aiohttp import hdrs, web
from yarl import URL

from digest.config import DigestConfig
from digest.recipients import Recipient
from digest.run import RunStats
from digest.store import DeliveryKey, NewDelivery, Outcome
from digest.windows import parse_schedule
from intracast.admin.i18n import N_
from intracast.admin.outbox import html_response, mail_parts
from intracast.admin.render import FRAMING_CSP
from intracast.admin.site import SITE, Site
from intracast.config import Config
from intracast.digests import Digests
from intracast.store.admin import DigestRunTally

LISTED = 500  # recipients offered in the preview's picker; any other address can be typed
NOT_SENT = (Outcome.UNSUBSCRIBED, Outcome.FREQUENCY_OFF, Outcome.NOT_IN_AUDIENCE, Outcome.NOT_DUE, Outcome.CAUGHT_UP)


@dataclass(frozen=True, slots=True)
class Rhythm:
    """A schedule that fires once a day at `time` ("08:30"), on every day, on weekdays, or on one weekday."""

    time: str
    days: str  # daily, weekdays or weekly
    weekday: int = 0  # weekly: the day, Sunday = 0 as cron counts


@dataclass(frozen=True)
class DigestView:
    config: DigestConfig
    rhythm: Rhythm | None  # None: the cron says it best
    next_run: datetime | None
    last_run: DigestRunTally | None

    @property
    def tally(self) -> list[tuple[Outcome, int]]:
        """The last run's counts, in the order of `Outcome`."""
        counts = self.last_run.outcomes if self.last_run else {}
        return [(outcome, counts[outcome]) for outcome in Outcome if outcome in counts]


@dataclass(frozen=True)
class Preview:
    digest: DigestConfig
    recipient: Recipient | None  # None: no such recipient
    message: EmailMessage | None  # None: nothing new for them now, or no such recipient

    @property
    def outside_audience(self) -> bool:
        """The schedule skips them; the preview shows what they would get all the same, as the CLI's does."""
        return self.recipient is not None and not self.digest.reaches(self.recipient.groups)


def mount(site: Site) -> None:
    if site.admin.digests is None:
        return
    site.page("/digests", "admin.digests", N_("Digests"), digests_page)
    site.route(hdrs.METH_GET, "/digests/{name}/preview", "admin.digests_preview", preview_page)
    site.route(hdrs.METH_GET, "/digests/{name}/preview.html", "admin.digests_preview_html", preview_html)
    site.route(hdrs.METH_POST, "/digests/{name}/send", "admin.digests_send", send_now)
    site.route(hdrs.METH_POST, "/digests/{name}/send-to-me", "admin.digests_send_to_me", send_to_me)


async def digests_page(request: web.Request) -> web.Response:
    site = request.app[SITE]
    admin, digests = site.admin, _digests(site)
    runs, jobs, now = await admin.store.last_digest_runs(), admin.scheduler.jobs(), admin.clock()
    views = [
        DigestView(config, rhythm(config.schedule),
                   jobs.get(f"digest:{config.name}") or digests.next_due(config.name, now), runs.get(config.name))
        for config in admin.loaded.config.digests
    ]
    return site.render(request, "digests.html", digests=views, recipients=digests.recipients()[:LISTED],
                       admin_email=site.enabled_settings().email)


async def preview_page(request: web.Request) -> web.Response:
    site = request.app[SITE]
    email = request.query.get("recipient", "").strip()
    preview = await _preview(request, email)
    if preview is None:
        return site.render(request, "missing.html", status=404)
    html_url = URL(site.url("admin.digests_preview_html", name=preview.digest.name)).with_query(recipient=email)
    parts = mail_parts(preview.message, str(html_url)) if preview.message else {}
    status = 404 if email and preview.recipient is None else 200
    return site.render(request, "digests_preview.html", status=status, csp=FRAMING_CSP, preview=preview, email=email,
                       recipients=_digests(site).recipients()[:LISTED], **parts)


async def preview_html(request: web.Request) -> web.Response:
    site = request.app[SITE]
    preview = await _preview(request, request.query.get("recipient", ""))
    response = html_response(preview.message) if preview and preview.message else None
    return site.render(request, "missing.html", status=404) if response is None else response


async def send_now(request: web.Request) -> web.Response:
    site = request.app[SITE]
    digest = _digest(site, request.match_info["name"])
    if digest is None:
        return site.render(request, "missing.html", status=404)
    site.audit(request, "digest.send", digest.name)
    stats = await _digests(site).run(digest.name, site.admin.clock(), manual=True)
    return site.redirect(request, site.url("admin.digests"), **_sent(digest.name, stats))


async def send_to_me(request: web.Request) -> web.Response:
    site = request.app[SITE]
    digest = _digest(site, request.match_info["name"])
    if digest is None:
        return site.render(request, "missing.html", status=404)
    email = site.enabled_settings().email
    if email is None:  # the button is off; a form from before a reload may still come
        return site.redirect(request, site.url("admin.digests"), kind="digest_no_email")
    site.audit(request, "digest.send_to_me", digest.name)
    queued = await _send_to(site, digest, email)
    kind = "digest_sent_to_me" if queued else "digest_nothing_for_me"
    return site.redirect(request, site.url("admin.digests"), kind=kind, digest=digest.name, email=email)


def rhythm(cron: str) -> Rhythm | None:
    """The schedule in words, when it fires once a day on every day, on weekdays, or on one weekday."""
    schedule = parse_schedule(cron)
    every_date = schedule.days == frozenset(range(1, 32)) and schedule.months == frozenset(range(1, 13))
    if len(schedule.minutes) != 1 or len(schedule.hours) != 1 or schedule.either_day or not every_date:
        return None
    time = f"{schedule.hours[0]:02d}:{schedule.minutes[0]:02d}"
    if schedule.weekdays == frozenset(range(7)):
        return Rhythm(time, "daily")
    if schedule.weekdays == frozenset(range(1, 6)):
        return Rhythm(time, "weekdays")
    if len(schedule.weekdays) == 1:
        return Rhythm(time, "weekly", min(schedule.weekdays))
    return None


async def _preview(request: web.Request, email: str) -> Preview | None:
    """The digest named in the URL rendered for `email`; None when there is no such digest."""
    site = request.app[SITE]
    digest = _digest(site, request.match_info["name"])
    if digest is None:
        return None
    digests = _digests(site)
    recipient = digests.recipient(email) if email else None
    message = await digests.run_for(digest).preview(recipient, site.admin.clock()) if recipient else None
    return Preview(digest, recipient, message)


async def _send_to(site: Site, digest: DigestConfig, email: str) -> bool:
    """Queue the digest as `email` would get it now, for that address alone; False when it would be empty."""
    digests, now = _digests(site), site.admin.clock()
    recipient = digests.recipient(email) or _newcomer(site.admin.loaded.config, digest, email)
    message = await digests.run_for(digest).preview(recipient, now)
    if message is None:
        return False
    # The key and Message-ID `preview` used; no item ids, so nothing counts as delivered to anyone.
    key = DeliveryKey(digest.name, recipient.key, now)
    await site.admin.store.create_delivery(
        NewDelivery(key, message["Message-ID"], digests.mailing.sender, message.as_bytes(), ()), now)
    digests.wake.set()
    return True


def _newcomer(config: Config, digest: DigestConfig, email: str) -> Recipient:
    """An admin who is no recipient gets what a new recipient in the digest's audience would get."""
    intranet = config.intranet
    return Recipient(email=email, name="", locale=intranet.locale, timezone=intranet.timezone,
                     groups=tuple(digest.audience), frequency="daily", id=None)


def _sent(name: str, stats: RunStats) -> dict[str, str | int]:
    counts = stats.outcomes
    return {"kind": "digest_sent", "digest": name, "queued": counts.get(Outcome.QUEUED, 0),
            "empty": counts.get(Outcome.EMPTY, 0), "failed": counts.get(Outcome.FAILED, 0),
            "not_sent": sum(counts.get(outcome, 0) for outcome in NOT_SENT)}


def _digest(site: Site, name: str) -> DigestConfig | None:
    return next((d for d in site.admin.loaded.config.digests if d.name == name), None)


def _digests(site: Site) -> Digests:
    digests = site.admin.digests
    assert digests is not None, "the digests page is mounted only with a Digests"
    return digests
