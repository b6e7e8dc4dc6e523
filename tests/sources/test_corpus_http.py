"""The whole corpus fetched the way the daemon fetches it: over HTTP, through `Http` and
`RemoteSource`, parsed in a spawned worker process, and giving the reviewed items.

Each feed is served on loopback at the path and query of its recorded URL,
with its recorded media type and charset; the loopback origin is then mapped
back to the recorded one, so relative links are resolved as in the reviewed items.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientSession, web

from sources import registry
from sources.http import Http
from sources.registry import FetchContext, Services
from tests.sources.test_corpus import EXPECTED, SUFFIX, body_file


def serve(spec: dict, body: bytes) -> web.Application:
    """The feed's body at its recorded path, with its recorded media type and charset."""
    content_type = spec["page"]["content_type"]
    if spec["page"]["charset"]:
        content_type += f"; charset={spec['page']['charset']}"
    path = urlsplit(spec["page"]["url"]).path

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get(path, handler)
    return app


@pytest.fixture(scope="module")
def executor():
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda path: path.name.removesuffix(SUFFIX))
async def test_fetched_over_http_the_feed_gives_its_reviewed_items(expected: Path, aiohttp_server, executor) -> None:
    spec = json.loads(expected.read_text(encoding="utf-8"))
    recorded = urlsplit(spec["page"]["url"])
    server = await aiohttp_server(serve(spec, body_file(expected).read_bytes()))
    loopback = str(server.make_url("")).rstrip("/")
    options_model, adapter = registry.adapter(spec["options"]["type"])
    url = loopback + recorded.path + (f"?{recorded.query}" if recorded.query else "")
    options = options_model.model_validate({**spec["options"], "url": url, "max_pages": 1}
                                           if spec["options"]["type"] == "json" else {**spec["options"], "url": url})
    async with ClientSession() as session:
        source = adapter(options, Services(Http(session, Path(".")), executor))
        result = await source.fetch(FetchContext(datetime.fromisoformat(spec["fetched_at"])))
    origin = f"{recorded.scheme}://{recorded.netloc}"
    items = [json.loads(json.dumps(item.as_json()).replace(loopback, origin)) for item in result.items]
    assert items == spec["items"]
