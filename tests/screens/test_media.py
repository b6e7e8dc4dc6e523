"""GET /media/{key}: images made with Pillow, served by a real server on loopback, fetched through
`sources.http.Http`, cached in tmp_path."""

from __future__ import annotations

import asyncio
import io
import math
import multiprocessing
import random
import re
import struct
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from screens.media import (
    NEGATIVE_TTL,
    BadKey,
    Fetch,
    Media,
    MediaConfig,
    MediaError,
    MediaKeys,
    Rendition,
    add_media_routes,
    bucket,
    credentials_for,
)
from sources.http import Http, Limits

KEYS = MediaKeys("a-test-secret-of-32-characters!!")
DEADLINE = 5.0
ORIENTATION = 0x0112


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def halves(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Red left half, blue right half: shows which way an image was turned."""
    image = Image.new(mode, size, "blue")
    image.paste("red", (0, 0, size[0] // 2, size[1]))
    return image


def noise_jpeg(size: tuple[int, int], seed: int) -> bytes:
    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    return encode(Image.frombytes("RGB", size, pixels), "JPEG", quality=95)


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims width x height: a decompression bomb without the memory."""
    png = bytearray(encode(Image.new("1", (1, 1)), "PNG"))
    png[16:24] = struct.pack(">II", width, height)  # IHDR data follows the 8-byte signature and 8-byte chunk head
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def opened(rendition: Rendition) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.body))
    image.load()
    return image


class Upstream:
    """The intranet: serves `bodies` by name, always as image/jpeg (a lie for the garbage), counting requests."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.base = ""

    def url(self, name: str) -> str:
        return f"{self.base}/img/{name}"

    def key(self, name: str, source: str | None = "news") -> str:
        return KEYS.url(source, self.url(name)).removeprefix("/media/")

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] += 1
        if name == "slow":
            self.arrived.set()
            await self.release.wait()
        if name not in self.bodies:
            raise web.HTTPNotFound()
        return web.Response(body=self.bodies[name], content_type="image/jpeg")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def upstream(aiohttp_server: Any) -> AsyncIterator[Upstream]:
    upstream = Upstream()
    app = web.Application()
    app.router.add_get("/img/{name}", upstream.handle)
    server = await aiohttp_server(app)
    upstream.base = str(server.make_url("")).rstrip("/")
    yield upstream
    upstream.release.set()


@pytest.fixture
async def fetch(tmp_path: Path) -> AsyncIterator[Fetch]:
    async with aiohttp.ClientSession() as session:
        http = Http(session, tmp_path)

        async def fetch(source: str | None, url: str, max_bytes: int) -> bytes:
            return (await http.get(source or "media", url, limits=Limits(max_bytes=max_bytes))).body

        yield fetch


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make(tmp_path: Path, fetch: Fetch, clock: Clock) -> AsyncIterator[Callable[..., Media]]:
    made: list[Media] = []

    def make(*, cache: Path | None = None, side: int = 1920, executor: Any = None, **config: Any) -> Media:
        media = Media(KEYS, MediaConfig(**config), cache or tmp_path / "cache", fetch, lambda: side, executor,
                      clock=clock)
        made.append(media)
        return media

    yield make
    for media in made:
        await media.close()


# Keys


@given(st.none() | st.text(), st.text())
def test_a_key_round_trips_and_is_url_safe(source: str | None, url: str) -> None:
    path = KEYS.url(source, url)
    assert re.fullmatch(r"/media/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", path)
    assert KEYS.url(source, url) == path
    assert KEYS.parse(path.removeprefix("/media/")) == (source, url)


def test_changing_any_character_of_a_key_breaks_it() -> None:
    key = KEYS.url("news", "https://intranet.example.org/a.jpg").removeprefix("/media/")
    for i, char in enumerate(key):
        tampered = key[:i] + ("A" if char != "A" else "B") + key[i + 1:]
        with pytest.raises(BadKey):
            KEYS.parse(tampered)


@pytest.mark.parametrize("key", ["", ".", "abc", "abc.", ".abc", "a.b.c", "é.x", "a b.c", "YQ==.x"])
def test_a_garbled_key_is_refused(key: str) -> None:
    with pytest.raises(BadKey):
        KEYS.parse(key)


def test_a_key_signed_with_another_secret_is_refused() -> None:
    key = MediaKeys("another-secret-of-32-characters!").url(None, "https://x.example/a.png")
    with pytest.raises(BadKey):
        KEYS.parse(key.removeprefix("/media/"))


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        MediaKeys("too-short")


# Sizes and formats


@pytest.mark.parametrize(("side", "max_side", "expected"), [
    (0, 3840, 720), (720, 3840, 720), (1000, 3840, 1080), (1920, 3840, 1920), (1921, 3840, 2560),
    (9999, 3840, 3840), (1920, 1280, 1280), (3000, 2000, 2000),
])
def test_the_side_is_rounded_up_to_a_bucket(side: int, max_side: int, expected: int) -> None:
    assert bucket(side, max_side) == expected


async def test_a_large_photo_is_turned_upright_shrunk_to_the_bucket_and_stripped(upstream: Upstream, make) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # stored on its side: turn 90 degrees clockwise to show
    upstream.bodies["photo"] = encode(halves((4000, 3000)), "JPEG", exif=exif)
    rendition = await make(side=1800).get(upstream.key("photo"))
    image = opened(rendition)
    assert (rendition.content_type, image.format, image.size) == ("image/jpeg", "JPEG", (1440, 1920))
    assert image.info.get("progressive")
    assert "exif" not in image.info and not image.getexif()
    red, blue = image.getpixel((720, 100)), image.getpixel((720, 1820))
    assert red[0] > 200 > red[2] and blue[2] > 200 > blue[0]  # the left half is now on top


async def test_a_small_image_is_not_enlarged(upstream: Upstream, make) -> None:
    upstream.bodies["small"] = encode(halves((300, 200)), "PNG")
    image = opened(await make(side=3840).get(upstream.key("small")))
    assert (image.format, image.size) == ("JPEG", (300, 200))


async def test_transparency_keeps_png_and_opaque_png_becomes_jpeg(upstream: Upstream, make) -> None:
    clear = halves((2000, 1000), "RGBA")
    clear.paste((0, 0, 0, 0), (0, 0, 100, 100))
    upstream.bodies["clear"] = encode(clear, "PNG")
    upstream.bodies["opaque"] = encode(halves((2000, 1000), "RGBA"), "PNG")
    media = make(side=1280)
    rendition = await media.get(upstream.key("clear"))
    image = opened(rendition)
    assert rendition.content_type == "image/png"
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (1280, 640))
    assert image.getpixel((0, 0))[3] == 0
    assert opened(await media.get(upstream.key("opaque"))).format == "JPEG"


async def test_an_animated_gif_becomes_its_first_frame(upstream: Upstream, make) -> None:
    frames = [Image.new("P", (64, 64), colour) for colour in (1, 2, 3)]
    upstream.bodies["anim"] = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    image = opened(await make().get(upstream.key("anim")))
    assert (image.format, image.size) == ("JPEG", (64, 64))


# Refusals


REFUSED = {
    "html": (b"<!doctype html><html><body>Please log in</body></html>", "not an image: looks like HTML"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "not an image: looks like HTML or XML"),
    "text": (b"GIF89a? no, just text", "not an image: unknown or unsupported"),
    "tiff": (encode(halves((10, 10)), "TIFF"), "not an image: unknown or unsupported"),
    "truncated": (noise_jpeg((200, 200), 1)[:3000], "not an image: truncated or corrupt"),
    "64mp": (png_claiming(8000, 8000), "not an image: 8000x8000 pixels, more than 50 megapixels"),
    "100mp": (png_claiming(10_000, 10_000), "not an image: more than 50 megapixels"),  # Pillow's warning
    "400mp": (png_claiming(20_000, 20_000), "not an image: more than 50 megapixels"),  # Pillow's error
}


@pytest.mark.parametrize("name", REFUSED)
async def test_a_non_image_is_refused_and_remembered_for_a_while(
    upstream: Upstream, make, clock: Clock, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.bodies[name], reason = REFUSED[name]
    media = make()
    with pytest.raises(MediaError, match=f"^{re.escape(reason)}"):
        await media.get(upstream.key(name))
    assert f"media.failed source=news url={upstream.url(name)} reason={reason}" in caplog.text
    clock.now += NEGATIVE_TTL - 1
    with pytest.raises(MediaError, match=f"^{re.escape(reason)}"):
        await media.get(upstream.key(name))
    assert upstream.hits[name] == 1
    clock.now += 2
    with pytest.raises(MediaError):
        await media.get(upstream.key(name))
    assert upstream.hits[name] == 2


async def test_an_image_over_max_download_is_refused(upstream: Upstream, make) -> None:
    upstream.bodies["big"] = noise_jpeg((200, 200), 2)
    with pytest.raises(MediaError, match=r"^fetch failed: body larger than 1000 bytes \(Content-Length: \d+\)$"):
        await make(max_download="1KB").get(upstream.key("big"))


async def test_a_failed_fetch_is_refused_and_remembered(upstream: Upstream, make) -> None:
    media = make()
    for _ in range(3):
        with pytest.raises(MediaError, match="^fetch failed: HTTP 404 Not Found$"):
            await media.get(upstream.key("missing"))
    assert upstream.hits["missing"] == 1


async def test_only_http_urls_are_fetched(make, tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(encode(halves((10, 10)), "PNG"))
    for url in [(tmp_path / "secret.png").as_uri(), str(tmp_path / "secret.png")]:
        with pytest.raises(MediaError, match="^fetch failed: not an http or https URL$"):
            await make().get(KEYS.url("news", url).removeprefix("/media/"))


# The disk cache


def cached_files(folder: Path) -> dict[bytes, int]:
    return {path.read_bytes(): path.stat().st_size for path in folder.iterdir()}


async def test_a_cached_image_is_served_without_fetching_again_even_after_a_restart(
    upstream: Upstream, make, tmp_path: Path
) -> None:
    upstream.bodies["a"] = noise_jpeg((500, 400), 3)
    first = await make().get(upstream.key("a"))
    assert await make().get(upstream.key("a")) == first
    assert await make().get(upstream.key("a")) == first
    assert upstream.hits["a"] == 1
    assert list(cached_files(tmp_path / "cache")) == [first.body]


async def test_each_bucket_is_cached_apart(upstream: Upstream, make) -> None:
    upstream.bodies["a"] = encode(halves((4000, 1000)), "PNG")
    assert opened(await make(side=1000).get(upstream.key("a"))).size == (1080, 270)
    assert opened(await make(side=2000).get(upstream.key("a"))).size == (2560, 640)
    assert opened(await make(side=1000).get(upstream.key("a"))).size == (1080, 270)
    assert upstream.hits["a"] == 2


async def test_a_corrupt_cache_file_is_replaced_and_stray_temp_files_removed(
    upstream: Upstream, make, tmp_path: Path
) -> None:
    upstream.bodies["a"] = noise_jpeg((300, 300), 4)
    good = await make().get(upstream.key("a"))
    (path,) = (tmp_path / "cache").iterdir()
    path.write_bytes(b"half a file")
    (tmp_path / "cache" / ".tmp-crashed").write_bytes(b"half")
    assert await make().get(upstream.key("a")) == good
    assert upstream.hits["a"] == 2
    assert cached_files(tmp_path / "cache") == {good.body: len(good.body)}


async def test_the_least_recently_used_images_are_evicted_beyond_the_cap(
    upstream: Upstream, make, tmp_path: Path
) -> None:
    for seed, name in enumerate("abcd"):
        upstream.bodies[name] = noise_jpeg((240, 240), seed)
    probe = make(cache=tmp_path / "probe")
    body = {name: (await probe.get(upstream.key(name))).body for name in "abcd"}
    size = {name: len(b) for name, b in body.items()}
    cap = max(size["a"] + size["b"] + size["c"], math.ceil((size["a"] + size["c"] + size["d"]) / 0.9)) + 1
    assert cap < sum(size.values())  # else the test proves nothing

    media = make(cache_size=cap)
    for name in "abca":  # a used last among the three
        await media.get(upstream.key(name))
    assert set(cached_files(tmp_path / "cache")) == {body["a"], body["b"], body["c"]}
    await media.get(upstream.key("d"))
    on_disk = cached_files(tmp_path / "cache")
    assert set(on_disk) == {body["a"], body["c"], body["d"]}
    assert sum(on_disk.values()) <= cap


# Concurrency and shutdown


async def test_concurrent_requests_fetch_and_resize_once(upstream: Upstream, make) -> None:
    upstream.bodies["a"] = noise_jpeg((1000, 800), 5)
    media = make()
    renditions = await asyncio.gather(*(media.get(upstream.key("a")) for _ in range(20)))
    assert len(set(renditions)) == 1
    assert upstream.hits["a"] == 1


async def test_close_cancels_work_in_flight(upstream: Upstream, make) -> None:
    media = make()
    waiting = asyncio.create_task(media.get(upstream.key("slow")))
    await asyncio.wait_for(upstream.arrived.wait(), DEADLINE)
    await media.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_resizing_can_run_in_a_process_pool(upstream: Upstream, make) -> None:
    upstream.bodies["a"] = encode(halves((3000, 2000)), "JPEG")
    upstream.bodies["html"] = REFUSED["html"][0]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        media = make(side=1280, executor=pool)
        assert opened(await media.get(upstream.key("a"))).size == (1280, 853)
        with pytest.raises(MediaError, match="^not an image: looks like HTML"):
            await media.get(upstream.key("html"))


# Credentials


SOURCE = "https://intranet.example.org/feed?token=x"


@pytest.mark.parametrize(("image_url", "source_url", "same"), [
    ("https://intranet.example.org/files/a.jpg", SOURCE, True),
    ("https://INTRANET.example.org:443/a.jpg", SOURCE, True),
    ("http://intranet.example.org:8080/a.jpg", "http://intranet.example.org:8080/feed", True),
    ("https://cdn.example.org/a.jpg", SOURCE, False),
    ("https://intranet.example.org.evil.test/a.jpg", SOURCE, False),
    ("https://intranet.example.org:8443/a.jpg", SOURCE, False),
    ("http://intranet.example.org/a.jpg", SOURCE, False),
    ("https://intranet.example.org/a.jpg", None, False),
    ("https://intranet.example.org:99999/a.jpg", SOURCE, False),
    ("ftp://intranet.example.org/a.jpg", "ftp://intranet.example.org/feed", False),
])
def test_credentials_go_only_to_the_sources_origin(image_url: str, source_url: str | None, same: bool) -> None:
    headers, auth = {"Authorization": "Bearer t"}, ("user", "pass")
    expected = (headers, auth) if same else ({}, None)
    assert credentials_for(image_url, source_url, headers, auth) == expected


# The route


async def test_the_route(upstream: Upstream, make, aiohttp_client: Any) -> None:
    upstream.bodies["a"] = encode(halves((800, 600)), "JPEG")
    upstream.bodies["html"] = REFUSED["html"][0]
    app = web.Application()
    add_media_routes(app, make())
    client = await aiohttp_client(app)

    response = await client.get(f"/media/{upstream.key('a')}")
    assert response.status == 200
    etag = response.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(await response.read())).size == (800, 600)

    for match in [etag, f"W/{etag}", f'"other", {etag}', "*"]:
        response = await client.get(f"/media/{upstream.key('a')}", headers={"If-None-Match": match})
        assert (response.status, response.headers["ETag"], await response.read()) == (304, etag, b"")
    response = await client.get(f"/media/{upstream.key('a')}", headers={"If-None-Match": '"other"'})
    assert response.status == 200

    response = await client.get(f"/media/{upstream.key('a')[:-1]}x")
    assert (response.status, await response.text()) == (404, "unknown media key\n")

    response = await client.get(f"/media/{upstream.key('html')}")
    assert response.status == 502
    assert (await response.text()).startswith("not an image: looks like HTML")
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Cache-Control"] == "no-store"
    assert upstream.hits == Counter({"a": 1, "html": 1})
