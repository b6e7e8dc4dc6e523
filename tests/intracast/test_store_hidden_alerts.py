"""Pinned items hidden from the screens, on SQLite and PostgreSQL: hidden as they are, back once changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from intracast.store import SqlStore, open_store
from sources.item import Item

NOW = datetime(2026, 12, 8, 23, 30, tzinfo=UTC)
VPN = Item("news", "vpn", "VPN maintenance tonight", "https://intranet.example.org/vpn", pinned=True,
           published=datetime(2026, 12, 8, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam")))
DRILL = Item("news", "drill", "Fire drill", "https://intranet.example.org/drill", pinned=True,
             expires=NOW + timedelta(hours=1))


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with open_store(db_url, tmp_path) as store:
        await store.upsert_items([VPN, DRILL], NOW - timedelta(hours=1))
        yield store


async def pinned(store: SqlStore, now: datetime = NOW) -> list[str]:
    return sorted(item.guid for item in await store.list_pinned(now))


async def test_a_hidden_item_is_not_pinned_until_it_changes(store: SqlStore) -> None:
    versions = await store.pinned_versions(NOW)
    assert versions == {("news", "vpn"): VPN.content_hash(), ("news", "drill"): DRILL.content_hash()}
    await store.hide_alert("news", "vpn", versions["news", "vpn"], "admin", NOW)
    assert await pinned(store) == ["drill"]
    [hidden] = await store.hidden_alerts(NOW)
    assert (hidden.item, hidden.hidden_at, hidden.hidden_by) == (VPN, NOW, "admin")
    await store.upsert_items([replace(VPN, summary="Moved to Friday.")], NOW + timedelta(minutes=1))
    assert await pinned(store) == ["drill", "vpn"]
    assert await store.hidden_alerts(NOW) == []


async def test_a_hide_of_another_version_hides_nothing_and_a_hidden_item_can_come_back(store: SqlStore) -> None:
    await store.hide_alert("news", "vpn", replace(VPN, title="Old").content_hash(), "admin", NOW)
    assert await pinned(store) == ["drill", "vpn"]
    await store.hide_alert("news", "drill", DRILL.content_hash(), "comms", NOW)
    assert await pinned(store) == ["vpn"]
    assert await store.unhide_alert("news", "drill") is True
    assert await store.unhide_alert("news", "drill") is False
    assert await pinned(store) == ["drill", "vpn"]


async def test_an_expired_hidden_item_is_listed_nowhere(store: SqlStore) -> None:
    await store.hide_alert("news", "drill", DRILL.content_hash(), "admin", NOW)
    later = NOW + timedelta(hours=2)
    assert await pinned(store, later) == ["vpn"] and await store.hidden_alerts(later) == []
