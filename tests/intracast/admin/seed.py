"""Real data for the dashboard, written through the store's own methods: what a day of running leaves."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from digest.store import DeliveryKey, NewDelivery
from intracast.store import RecipientRow, SqlStore
from screens.store import Heartbeat
from sources.item import Item

AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the test configs' intranet.timezone
LEASE = timedelta(minutes=5)
HTML = ('<html><body><h1>Nieuw op Plek</h1><p>Canteen closed Friday</p>'
        '<script>document.title = "ran"</script></body></html>')


def message(to: str, subject: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "Plek <digest@intranet.example.org>", to, subject
    mail["Message-ID"] = f"<{abs(hash((to, subject)))}@intranet.example.org>"
    mail.set_content(f"Hello,\n\n{subject}: Canteen closed Friday\n")
    mail.add_alternative(HTML, subtype="html")
    return mail.as_bytes()


async def seed(store: SqlStore, now: datetime) -> None:
    items = [Item(source="news", guid=f"g{i}", title=f"News item {i}", link=f"https://intranet.example.org/n/{i}",
                  published=now - timedelta(hours=i)) for i in range(12)]
    await store.upsert_items(items, now - timedelta(minutes=5))
    await store.record_fetch_success("news", now - timedelta(minutes=5), items_seen=12)
    for ago in (timedelta(hours=5), timedelta(minutes=10)):  # failing for longer than 3 intervals: degraded
        await store.record_fetch_failure("events", now - ago, "source 'events': HTTP 503", kind="http")
    await store.record_heartbeat(Heartbeat("canteen", at=now - timedelta(seconds=30), width=1920, height=1080))
    await store.record_heartbeat(Heartbeat("hall", at=now - timedelta(minutes=5)))
    await store.replace_recipients([RecipientRow("anna@example.org", "Anna Jansen", groups=("zorg",), origin="config"),
                                    RecipientRow("bram@example.org", "Bram de Vries", groups=("ict", "Team Noord"),
                                                 frequency="weekly", origin="csv"),
                                    RecipientRow("cas_1@example.org", "Cas 100%", origin="csv")], now)
    await store.set_frequency("anna@example.org", "daily", now)
    await store.unsubscribe("bram@example.org", now - timedelta(days=2))
    await _outbox(store, now)


async def _outbox(store: SqlStore, now: datetime) -> None:
    """Today: one sent, one deferred, one failed, one queued; and one sent yesterday (Amsterdam time), at any hour."""
    midnight = now.astimezone(AMSTERDAM).replace(hour=0, minute=0, second=0, microsecond=0)
    plan = [("sent@example.org", "sent", max(now - timedelta(hours=1), midnight)),
            ("later@example.org", "deferred", now), ("bounce@example.org", "failed", now),
            ("queued@example.org", "queued", now), ("yesterday@example.org", "sent", midnight - timedelta(hours=1))]
    for i, (to, outcome, created) in enumerate(plan):
        key = DeliveryKey("daily", to, now.replace(hour=7, minute=30) - timedelta(days=i))
        await store.create_delivery(NewDelivery(key, f"<m{i}@intranet.example.org>", "digest@intranet.example.org",
                                                message(to, f"Digest {outcome}"), ()), created)
        if outcome == "queued":
            continue
        [row] = await store.claim_pending(1, LEASE, created)
        if outcome == "sent":
            await store.mark_sent(row.id, "250 2.0.0 Ok: queued", created)
        elif outcome == "deferred":
            await store.mark_deferred(row.id, "421 4.7.0 Try again later", now + timedelta(minutes=10))
        else:
            await store.mark_failed(row.id, "550 5.1.1 No such user", now)
