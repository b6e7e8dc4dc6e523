"""`intracast run` on the shipped config, as a real process: serves /healthz, stops cleanly on SIGTERM."""

from __future__ import annotations

import pytest

import asyncio
import os
import re
import signal
import sqlite3
import sys
from pathlib import Path

import aiohttp
import aiohttp.web

from digest.tokens import Claims, Signer

DEADLINE = 60


async def start_daemon(config: Path, *args: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCREEN_")}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "intracast", "-c", str(config), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )


async def read_until(stream: asyncio.StreamReader, pattern: str) -> tuple[re.Match[str], str]:
    seen = ""
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError(f"output ended before {pattern!r}:\n{seen}")
        seen += line
        if match := re.search(pattern, line):
            return match, seen


async def poll_health(session: aiohttp.ClientSession, url: str) -> tuple[int, dict]:
    """/healthz once the first fetch of the demo source is recorded."""
    while True:
        async with session.get(url) as response:
            body = await response.json()
            if body["sources"]["demo"]["state"] != "pending":
                return response.status, body
        await asyncio.sleep(0.05)  # polling interval, bounded by the caller's deadline


@pytest.mark.clock
async def test_shipped_config_serves_healthz_and_exits_0_on_sigterm(demo_config: Path) -> None:
    proc = await start_daemon(demo_config, "run", "--listen", "127.0.0.1:0")
    try:
        match, banner = await asyncio.wait_for(read_until(proc.stdout, r"running on (http://127\.0\.0\.1:\d+)"), DEADLINE)
        base = match.group(1)
        _, banner_rest = await asyncio.wait_for(read_until(proc.stdout, r"Stop with Ctrl\+C"), DEADLINE)
        banner += banner_rest
        assert f"{base}/screens/canteen?token=demo-canteen-token" in banner
        assert f"{base}/admin/ (user admin)" in banner
        assert str(demo_config.parent.parent / "var" / "outbox") in banner
        async with aiohttp.ClientSession(cookie_jar=browser_jar()) as session:
            status, health = await asyncio.wait_for(poll_health(session, f"{base}/healthz"), DEADLINE)
            async with session.get(f"{base}/metrics") as response:
                metrics = await response.text()
            await unsubscribe_by_the_mail_s_link(session, base, demo_config)
            async with session.get(f"{base}/screens/canteen/playlist.json?token=demo-canteen-token") as response:
                assert response.status == 200, "the token moves into a cookie and the clean URL answers"
                assert str(response.url) == f"{base}/screens/canteen/playlist.json"
                slides = (await response.json())["slides"]
            assert [s["kind"] for s in slides][-1] == "clock" and any(s["kind"] == "item" for s in slides)
        assert (status, health["status"]) == (200, "ok")
        assert health["scheduler"]["running"] is True
        jobs = set(health["scheduler"]["jobs"])
        assert "source:demo" in jobs and jobs & {"digest:daily", "digest:daily:startup"}
        assert health["store"] == {"ok": True}
        assert health["sources"]["demo"]["state"] == "healthy"
        assert health["sources"]["demo"]["items_seen"] == 6
        assert 'intracast_source_fetches_total{outcome="ok",source="demo"} 1.0' in metrics
        assert 'intracast_items{source="demo"} 6.0' in metrics
        for gauge in ('intracast_outbox_messages{state="pending"}', "intracast_screens_online ",
                      "intracast_sse_clients ", "intracast_config_loaded_timestamp_seconds "):
            assert gauge in metrics
        assert (demo_config.parent.parent / "var" / "intracast.db").exists()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), DEADLINE)
        stderr = (await proc.stderr.read()).decode()
    assert code == 0, stderr
    assert "daemon.stopped" in stderr
    assert "Traceback" not in stderr


async def unsubscribe_by_the_mail_s_link(session: aiohttp.ClientSession, base: str, config: Path) -> None:
    """GET only asks (mail scanners open every link); the one-click POST unsubscribes."""
    token = Signer("demo-secret-change-me-before-production").sign(Claims("unsubscribe", "anna@example.org"))
    db = config.parent.parent / "var" / "intracast.db"
    async with session.get(f"{base}/u/{token}") as response:
        assert response.status == 200 and 'method="post"' in await response.text()
    async with session.post(f"{base}/u/{token}", data={"List-Unsubscribe": "One-Click"}) as response:
        assert response.status == 200
    with sqlite3.connect(db) as conn:
        assert conn.execute("select unsubscribed_at is not null from preferences where email = 'anna@example.org'").fetchone() == (1,)
    async with session.post(f"{base}/u/{token[:-2]}xx") as response:
        assert response.status == 400


async def test_sigint_stops_as_gracefully_as_sigterm(demo_config: Path) -> None:
    proc = await start_daemon(demo_config, "run", "--listen", "127.0.0.1:0")
    await asyncio.wait_for(read_until(proc.stdout, r"Stop with Ctrl\+C"), DEADLINE)
    proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proc.wait(), DEADLINE) == 0


async def test_run_refuses_a_broken_config_with_its_problems(tmp_path: Path) -> None:
    config = tmp_path / "intracast.yaml"
    config.write_text("intranet:\n  name: Plek\n  url: https://intranet.example.org\nserver: {lisen: x}\n")
    proc = await start_daemon(config, "run")
    _, stderr = await asyncio.wait_for(proc.communicate(), DEADLINE)
    assert proc.returncode == 1
    assert f"{config}:4:10: server.lisen: unknown key 'lisen'; did you mean 'listen'?" in stderr.decode()


async def test_the_daemon_keeps_the_store_current_on_its_schedule(tmp_path: Path, aiohttp_server) -> None:
    titles = ["Canteen opens"]

    async def feed(request):
        items = "".join(f"<item><title>{t}</title><link>https://intranet.example.org/{i}</link></item>"
                        for i, t in enumerate(titles))
        return aiohttp.web.Response(text=f'<rss version="2.0"><channel><title>N</title>{items}</channel></rss>',
                                    content_type="application/rss+xml")

    app = aiohttp.web.Application()
    app.router.add_get("/feed", feed)
    server = await aiohttp_server(app)
    config = tmp_path / "intracast.yaml"
    config.write_text(
        "intranet: {name: Plek, url: 'https://intranet.example.org'}\n"
        f"sources: [{{name: news, type: rss, url: '{server.make_url('/feed')}', every: 1s}}]\n"
        "screens: [{id: hall, name: Hall, token: hall-token-123, playlist: main}]\n"
        "playlists: [{name: main, blocks: [{sources: [news]}]}]\n"
    )
    proc = await start_daemon(config, "run", "--listen", "127.0.0.1:0")
    try:
        match, _ = await asyncio.wait_for(read_until(proc.stdout, r"running on (http://127\.0\.0\.1:\d+)"), DEADLINE)
        db = tmp_path / "var" / "intracast.db"
        assert await asyncio.wait_for(poll_titles(db, 1), DEADLINE) == ["Canteen opens"]
        async with aiohttp.ClientSession(cookie_jar=browser_jar()) as session:
            events = await session.get(f"{match.group(1)}/screens/hall/events?token=hall-token-123")
            assert (await asyncio.wait_for(events.content.readline(), DEADLINE)).startswith(b"event: hello")
            titles.append("Roster is out")
            assert await asyncio.wait_for(poll_titles(db, 2), DEADLINE) == ["Canteen opens", "Roster is out"]
            assert await asyncio.wait_for(next_event(events.content), DEADLINE) == "playlist"
            events.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), DEADLINE) == 0


def browser_jar() -> aiohttp.CookieJar:
    """Cookies as a browser keeps them, for 127.0.0.1 too (aiohttp's default jar refuses IP hosts)."""
    return aiohttp.CookieJar(unsafe=True)


async def next_event(stream: aiohttp.StreamReader) -> str:
    """The name of the next server-sent event (keep-alive comments skipped)."""
    while True:
        line = (await stream.readline()).decode()
        if line.startswith("event: "):
            return line.removeprefix("event: ").strip()


async def poll_titles(db: Path, count: int) -> list[str]:
    """The stored titles, once there are `count` of them."""
    while True:
        if db.exists():
            with sqlite3.connect(db) as conn:
                try:
                    titles = sorted(t for (t,) in conn.execute("select title from items"))
                except sqlite3.OperationalError:  # the schema is still being created
                    titles = []
            if len(titles) >= count:
                return titles
        await asyncio.sleep(0.1)  # polling interval, bounded by the caller's deadline
