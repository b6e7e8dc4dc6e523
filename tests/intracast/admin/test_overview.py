"""The overview shows the recipients' problems of the config in force (issue 14, item 5), in English and Dutch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpClient

from intracast.config import load_config
from intracast.digests import Digests
from tests.intracast.admin.conftest import Clock, Dashboard, Feed, open_dashboard, password_hash

DIGESTS = "digests: [{name: daily, sources: [news]}]\n"


@pytest.fixture
async def dashboard(tmp_path: Path, aiohttp_client: AiohttpClient, feed: tuple[Feed, TestServer],
                    clock: Clock) -> AsyncIterator[Dashboard]:
    async for dashboard in open_dashboard(tmp_path, aiohttp_client, feed, clock, extra=DIGESTS):
        assert (await dashboard.login()).status == 303
        yield dashboard


async def reload_with_csv(dashboard: Dashboard, rows: str) -> Digests:
    """The config again, now naming `people.csv` with `rows`, applied to the digests as a reload does."""
    digests, loaded = dashboard.admin.digests, dashboard.admin.loaded
    assert digests is not None
    (loaded.base_dir / "people.csv").write_text("email;name\n" + rows)
    text = loaded.path.read_text().replace("recipients:\n  list:", "recipients:\n  file: people.csv\n  list:")
    loaded.path.write_text(text)
    await digests.reconfigure(load_config(loaded.path, env={"INTRACAST_ADMIN_PASSWORD_HASH": password_hash()}))
    return digests


async def test_the_overview_shows_the_recipients_problems_and_who_is_kept_until_they_are_fixed(
    dashboard: Dashboard,
) -> None:
    assert "Problems with the recipients" not in (await dashboard.page("/admin/")).text
    await reload_with_csv(dashboard, "dewi@example.org;Dewi\n")
    await reload_with_csv(dashboard, "".join(f"x{n}@;X\n" for n in range(60)))  # Dewi is gone: a save gone wrong
    page = await dashboard.page("/admin/")
    assert "Problems with the recipients" in page.text
    assert "people.csv:2: email: not a valid address: There must be something after the @-sign." in page.text
    assert "people.csv:51: email:" in page.text and "people.csv:52: email:" not in page.text
    assert "And 10 more: intracast check lists them all." in page.text
    assert "Until the errors are fixed, 1 recipient of the file's last good load keeps getting the digest." in page.text
    dutch = await dashboard.page("/admin/", locale="nl")
    assert "Problemen met de ontvangers" in dutch.text and "En nog 10: intracast check toont ze allemaal." in dutch.text

    digests = await reload_with_csv(dashboard, "eva@example.org;Eva\n")
    assert "Problems with the recipients" not in (await dashboard.page("/admin/")).text
    assert [r.email for r in digests.recipients()] == ["anna@example.org", "bram@example.org", "eva@example.org"]
