"""The digest pipeline composed as the daemon runs it: real store, real Maildir, a controlled clock."""

from __future__ import annotations

import asyncio
import mailbox
import textwrap
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from digest.store import Outcome
from intracast.config import LoadedConfig, load_config
from intracast.digests import WAKE_EVERY, Digests
from intracast.runtime import open_runtime
from sources.item import Item
from tests.digest.smtpd import RecordingHandler, smtp_server

# Tuesday 24 November 2026, 08:30 in Amsterdam (CET, +01:00).
AMS_0830 = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)


def write_config(tmp_path: Path, recipients: str, digest: str = "") -> Path:
    path = tmp_path / "intracast.yaml"
    path.write_text(textwrap.dedent("""\
        intranet: {name: Plek, url: "https://intranet.example.org", locale: nl, timezone: Europe/Amsterdam}
        server: {public_url: "https://mail.example.org", secret: "a-test-secret-of-enough-length"}
        storage: {url: "sqlite:///var/test.db", maildir: var/outbox}
        sources:
          - {name: news, type: static, items: [{title: placeholder}]}
        digests:
          - {name: daily, schedule: "30 8 * * 1-5", sources: [news]%s}
        recipients:
          list:
        """ % digest) + textwrap.indent(textwrap.dedent(recipients), "    "))
    return path


def news(guid: str, published: datetime, **fields: object) -> Item:
    return Item(source="news", guid=guid, title=f"Nieuws {guid}", link=f"https://intranet.example.org/{guid}",
                summary=f"Over {guid}.", published=published, updated=published, **fields)


def delivered(tmp_path: Path) -> list:
    box = mailbox.Maildir(tmp_path / "var" / "outbox", create=False)
    return [message_from_bytes(box.get_bytes(key), policy=policy.default) for key in sorted(box.keys())]


class Clock:
    """The test's time: runs happen at chosen instants, and the sender sees the same."""

    def __init__(self) -> None:
        self.now = AMS_0830

    def __call__(self) -> datetime:
        return self.now


def make_digests(loaded, runtime) -> tuple[Digests, Clock]:
    clock = Clock()
    return Digests(loaded, runtime.store, runtime.ingestor, clock=clock), clock


async def run_and_send(digests: Digests, clock: Clock, now: datetime):
    clock.now = now
    stats = await digests.run("daily", now)
    await digests.backend.open()
    try:
        await digests.sender.drain()
    finally:
        await digests.backend.close()
    return stats


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, """\
        - {email: an@example.org, name: An, locale: nl}
        - {email: bo@example.org, name: Bo, locale: en, groups: [zorg]}
        - {email: cy@example.org, name: Cy, frequency: "off"}
        """)


async def test_a_run_mails_each_recipient_their_items_once(tmp_path: Path, config: Path) -> None:
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        store = runtime.store
        await store.upsert_items([
            news("canteen", AMS_0830 - timedelta(hours=2)),
            news("roster", AMS_0830 - timedelta(hours=3), audience=("zorg",)),
            news("later", AMS_0830 + timedelta(minutes=5)),
        ], AMS_0830 - timedelta(hours=1))
        digests, clock = make_digests(loaded, runtime)
        stats = await run_and_send(digests, clock, AMS_0830 + timedelta(minutes=1))
        assert stats.outcomes == {Outcome.QUEUED: 2, Outcome.FREQUENCY_OFF: 1}
        mails = {m["To"].addresses[0].addr_spec: m for m in delivered(tmp_path)}
        assert set(mails) == {"an@example.org", "bo@example.org"}
        an, bo = mails["an@example.org"], mails["bo@example.org"]
        assert "Nieuws canteen" in an.get_body(("plain",)).get_content()
        assert "Nieuws roster" not in an.get_body(("plain",)).get_content()
        assert "Nieuws roster" in bo.get_body(("plain",)).get_content()
        assert "Nieuws later" not in an.get_body(("plain",)).get_content()
        assert an["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert an["Message-ID"] != bo["Message-ID"]

        again = await run_and_send(digests, clock, AMS_0830 + timedelta(minutes=2))
        assert Outcome.QUEUED not in again.outcomes, "a replayed window sends nothing"
        assert len(delivered(tmp_path)) == 2

        next_day = AMS_0830 + timedelta(days=1, minutes=1)
        await run_and_send(digests, clock, next_day)
        texts = [m.get_body(("plain",)).get_content() for m in delivered(tmp_path)
                 if m["To"].addresses[0].addr_spec == "an@example.org"]
        assert len(texts) == 2
        assert [("Nieuws canteen" in t, "Nieuws later" in t) for t in texts].count((False, True)) == 1
        why = await store.outcomes_for("cy@example.org")
        assert [o.outcome for o in why] == [Outcome.FREQUENCY_OFF] * 3


async def test_nothing_new_is_not_sent_and_says_why(tmp_path: Path, config: Path) -> None:
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        digests, clock = make_digests(loaded, runtime)
        stats = await run_and_send(digests, clock, AMS_0830 + timedelta(minutes=1))
        assert stats.outcomes == {Outcome.EMPTY: 2, Outcome.FREQUENCY_OFF: 1}
        assert not (tmp_path / "var" / "outbox").exists() or delivered(tmp_path) == []
        assert (await runtime.store.outcomes_for("an@example.org"))[0].outcome is Outcome.EMPTY


async def test_unsubscribed_and_catchup(tmp_path: Path, config: Path) -> None:
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        store = runtime.store
        await store.upsert_items([news("old", AMS_0830 - timedelta(days=2))], AMS_0830 - timedelta(days=2))
        digests, clock = make_digests(loaded, runtime)
        await store.unsubscribe("bo@example.org", AMS_0830)
        caught = await digests.run("daily", AMS_0830 + timedelta(minutes=1), catchup=True)
        assert caught.outcomes == {Outcome.CAUGHT_UP: 1, Outcome.UNSUBSCRIBED: 1, Outcome.FREQUENCY_OFF: 1}
        await store.upsert_items([news("fresh", AMS_0830 + timedelta(hours=1))], AMS_0830 + timedelta(hours=1))
        await run_and_send(digests, clock, AMS_0830 + timedelta(days=1, minutes=1))
        (mail,) = delivered(tmp_path)
        text = mail.get_body(("plain",)).get_content()
        assert "Nieuws fresh" in text and "Nieuws old" not in text, "catch-up did not flood old news"


async def test_recipients_in_two_time_zones_get_their_own_0830(tmp_path: Path) -> None:
    config = write_config(tmp_path, """\
        - {email: an@example.org, timezone: Europe/Amsterdam}
        - {email: ny@example.org, timezone: America/New_York}
        """)
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        digests, clock = make_digests(loaded, runtime)
        await runtime.store.upsert_items([news("n", AMS_0830 - timedelta(hours=1))], AMS_0830 - timedelta(hours=1))
        assert digests.next_due("daily", AMS_0830 - timedelta(minutes=1)) == AMS_0830
        first = await run_and_send(digests, clock, AMS_0830)
        assert first.outcomes == {Outcome.QUEUED: 1, Outcome.NOT_DUE: 1}
        ny_0830 = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)  # EST, -05:00
        assert digests.next_due("daily", AMS_0830) == ny_0830
        second = await run_and_send(digests, clock, ny_0830)
        assert second.outcomes == {Outcome.NOT_DUE: 1, Outcome.QUEUED: 1}
        assert sorted(m["To"].addresses[0].addr_spec for m in delivered(tmp_path)) == ["an@example.org", "ny@example.org"]


async def test_a_per_user_unread_source_lists_only_what_that_user_has_not_read(tmp_path: Path, aiohttp_server) -> None:
    from aiohttp import web

    unread = {"1001": ["welcome", "roster"], "1002": ["welcome"]}

    async def feed(request: web.Request) -> web.Response:
        entries = "".join(
            f"<item><title>Ongelezen {slug}</title><link>https://intranet.example.org/{slug}</link>"
            f"<guid>{slug}</guid><pubDate>Tue, 24 Nov 2026 06:00:00 GMT</pubDate></item>"
            for slug in unread[request.match_info["user"]]
        )
        return web.Response(text=f'<rss version="2.0"><channel><title>U</title>{entries}</channel></rss>',
                            content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/users/{user}/unread", feed)
    server = await aiohttp_server(app)
    path = tmp_path / "intracast.yaml"
    path.write_text(textwrap.dedent(f"""\
        intranet: {{name: Plek, url: "https://intranet.example.org", locale: nl}}
        server: {{public_url: "https://mail.example.org", secret: "a-test-secret-of-enough-length"}}
        storage: {{url: "sqlite:///var/test.db", maildir: var/outbox}}
        sources:
          - name: unread
            type: rss
            url: "{server.make_url('/users/')}{{recipient.id}}/unread"
            per_recipient: true
            max_items: 1                 # counts every employee's items together: must not prune theirs
        digests:
          - {{name: daily, schedule: "30 8 * * 1-5", sources: [unread]}}
        recipients:
          list:
            - {{email: an@example.org, id: "1001"}}
            - {{email: bo@example.org, id: "1002"}}
        """))
    loaded = load_config(path, env={})
    async with open_runtime(loaded) as runtime:
        digests, clock = make_digests(loaded, runtime)
        stats = await run_and_send(digests, clock, AMS_0830 + timedelta(minutes=1))
        assert stats.outcomes == {Outcome.QUEUED: 2}
    texts = {m["To"].addresses[0].addr_spec: m.get_body(("plain",)).get_content() for m in delivered(tmp_path)}
    assert "Ongelezen roster" in texts["an@example.org"] and "Ongelezen welcome" in texts["an@example.org"]
    assert "Ongelezen welcome" in texts["bo@example.org"]
    assert "Ongelezen roster" not in texts["bo@example.org"], "another employee's unread item leaked"


async def test_one_click_unsubscribe_stops_the_next_digest(tmp_path: Path, aiohttp_client) -> None:
    from aiohttp import web

    from digest.web import add_employee_routes

    config = write_config(tmp_path, "- {email: an@example.org, name: An}\n",
                          ", unsubscribe_mailto: unsubscribe@example.org")
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        store = runtime.store
        digests, clock = make_digests(loaded, runtime)
        await store.upsert_items([news("one", AMS_0830 - timedelta(hours=1))], AMS_0830 - timedelta(hours=1))
        await run_and_send(digests, clock, AMS_0830 + timedelta(minutes=1))
        (mail,) = delivered(tmp_path)
        https, mailto = [target.strip(" <>") for target in mail["List-Unsubscribe"].split(",")]
        assert mailto == "mailto:unsubscribe@example.org?subject=unsubscribe"
        app = web.Application()
        add_employee_routes(app, store, digests.mailing.links.signer, intranet_url="https://intranet.example.org",
                            allowed_hosts=frozenset({"intranet.example.org"}), locale="nl", clock=clock)
        client = await aiohttp_client(app)
        path = https.removeprefix("https://mail.example.org")
        assert (await client.get(path)).status == 200  # a mail scanner opening the link
        await store.upsert_items([news("two", AMS_0830 + timedelta(hours=1))], AMS_0830 + timedelta(hours=1))
        after_get = await run_and_send(digests, clock, AMS_0830 + timedelta(days=1, minutes=1))
        assert after_get.outcomes == {Outcome.QUEUED: 1}, "a GET unsubscribes nobody"
        response = await client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert response.status == 200
        await store.upsert_items([news("three", AMS_0830 + timedelta(days=1, hours=1))], AMS_0830 + timedelta(days=1))
        after_post = await run_and_send(digests, clock, AMS_0830 + timedelta(days=2, minutes=1))
        assert after_post.outcomes == {Outcome.UNSUBSCRIBED: 1}
        assert len(delivered(tmp_path)) == 2


async def test_per_recipient_fetches_run_side_by_side_within_a_bound(tmp_path: Path, aiohttp_server) -> None:
    """A digest fetches each employee's unread feed at run time: in parallel, but the intranet never
    gets more than the fetcher's per-host limit (4) at once."""
    from aiohttp import web

    active, most, full, release = 0, 0, asyncio.Event(), asyncio.Event()

    async def feed(request: web.Request) -> web.Response:
        nonlocal active, most
        active += 1
        most = max(most, active)
        if active == 4:
            full.set()
        await release.wait()
        active -= 1
        user = request.match_info["user"]
        return web.Response(text=f'<rss version="2.0"><channel><title>U</title><item><title>Voor {user}</title>'
                                 f'<link>https://intranet.example.org/{user}</link>'
                                 f'<pubDate>Tue, 24 Nov 2026 06:00:00 GMT</pubDate></item></channel></rss>',
                            content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/users/{user}/unread", feed)
    server = await aiohttp_server(app)
    people = "".join(f"- {{email: p{i}@example.org, id: 'u{i}'}}\n" for i in range(20))
    config = write_config(tmp_path, people)
    config.write_text(config.read_text().replace(
        "- {name: news, type: static, items: [{title: placeholder}]}",
        f"- {{name: news, type: rss, url: '{server.make_url('/users/')}{{recipient.id}}/unread', per_recipient: true}}",
    ))
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        digests, clock = make_digests(loaded, runtime)
        run = asyncio.create_task(run_and_send(digests, clock, AMS_0830 + timedelta(minutes=1)))
        await asyncio.wait_for(full.wait(), 30)  # 4 fetches in flight at once: they do run side by side
        release.set()
        stats = await asyncio.wait_for(run, 60)
    assert stats.outcomes == {Outcome.QUEUED: 20}
    assert most <= 4


async def test_a_reload_that_changes_the_mail_server_mid_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    people = [f"user{n}@example.org" for n in range(40)]
    first, second = RecordingHandler(), RecordingHandler()
    first.gate = asyncio.Event()  # the old server holds its replies: messages are in flight at the reload
    async with smtp_server(first) as old_server, smtp_server(second) as new_server:
        def config(port: int) -> LoadedConfig:
            path = write_config(tmp_path, "".join(f"- {{email: {p}}}\n" for p in people))
            path.write_text(path.read_text() + f"smtp: {{host: 127.0.0.1, port: {port}, security: none, "
                                               f"sender: digest@intranet.example.org, max_connections: 2}}\n")
            return load_config(path)

        loaded = config(old_server.port)
        async with open_runtime(loaded) as runtime, AsyncExitStack() as stack:
            await runtime.store.upsert_items([news("a", AMS_0830 - timedelta(hours=1))], AMS_0830)
            digests, clock = make_digests(loaded, runtime)
            await digests.serve(stack)
            await digests.run("daily", AMS_0830)
            await asyncio.wait_for(first.in_data.wait(), 10)
            reload = asyncio.create_task(digests.reconfigure(config(new_server.port)))
            first.gate.set()  # the messages in flight finish on the old server; the rest go to the new one
            await asyncio.wait_for(reload, 10)
            while sum((first.recipients() + second.recipients()).values()) < len(people):
                await asyncio.sleep(0.01)  # polling interval, bounded by the test's timeout
    both = first.recipients() + second.recipients()
    assert both == {p: 1 for p in people}
    assert first.recipients() and second.recipients()


async def test_a_long_run_wakes_the_sender_before_it_ends(tmp_path: Path) -> None:
    """Mail starts going out while a large run is still queueing, not after it (or at the next poll)."""
    config = write_config(tmp_path, "".join(f"- {{email: r{n}@example.org}}\n" for n in range(WAKE_EVERY + 1)))
    loaded = load_config(config, env={})
    async with open_runtime(loaded) as runtime:
        await runtime.store.upsert_items([news("canteen", AMS_0830 - timedelta(hours=2))], AMS_0830)
        digests, clock = make_digests(loaded, runtime)
        clock.now = AMS_0830 + timedelta(minutes=1)
        digests.wake.clear()
        woken_at: list[int] = []

        def progress(done: int, total: int) -> None:
            if digests.wake.is_set() and not woken_at:
                woken_at.append(done)

        stats = await digests.run("daily", clock.now, progress=progress)
    assert stats.outcomes == {Outcome.QUEUED: WAKE_EVERY + 1}
    assert woken_at == [WAKE_EVERY]
