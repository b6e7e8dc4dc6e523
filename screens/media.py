"""`GET /media/{key}`: intranet images fetched, checked, resized and cached for screens (issue 6).

TVs cannot log in to the intranet, so the daemon fetches an item's image
with the source's credentials and serves it itself. The URL the player gets
is `/media/<key>`, where the key is the (source, image URL) pair signed with
HMAC: nobody can make the daemon fetch a URL it did not sign itself.

- The body is decoded with Pillow (never trusting Content-Type or the
  extension), refused beyond `MAX_PIXELS` (decompression bombs), turned
  upright (EXIF orientation), stripped of metadata (EXIF carries GPS
  positions and camera serials) and shrunk, never enlarged, to fit the
  largest screen that shows it, rounded up to one of `BUCKETS` so that the
  cache holds few variants. Output is JPEG, or PNG when the image has
  transparency. Decoding runs in an executor: the event loop never blocks.
- Renditions live on disk, one file per (source, URL, bucket), written
  atomically, least recently used evicted beyond `cache_size`.
- Concurrent requests for one rendition fetch and resize it once; a failed
  fetch or a non-image is remembered for `NEGATIVE_TTL`, so that a wall of
  TVs does not hammer the intranet with a broken link.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import hashlib
import hmac
import io
import json
import logging
import os
import re
import tempfile
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ByteSize, ConfigDict, Field

from sources.errors import SourceError
from sources.http import redact

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

BUCKETS = (720, 1080, 1280, 1920, 2560, 3840)  # longest side of a rendition, px
MAX_PIXELS = 50_000_000  # refused before decoding: a 50 MP RGB image alone is 150 MB in memory
NEGATIVE_TTL = 300.0  # seconds a failure is answered from memory
# What intranets serve. Fewer decoders, less attack surface: Pillow would also open EPS, through Ghostscript.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
JPEG_QUALITY = 85
CACHE_CONTROL = "public, max-age=86400"
_DOMAIN = b"intracast-media\0"  # so the media key never equals an HMAC made with the same secret elsewhere
_SIGNATURE_BYTES = 16
_KEY = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_CACHE_NAME = re.compile(r"[0-9a-f]{64}")
_TEMP_PREFIX = ".tmp-"


class MediaConfig(BaseModel):
    """`media`: how images for screens are fetched and cached."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cache: Path = Field(Path("var/media"), description="Folder of the image cache (relative to this file)")
    cache_size: ByteSize = Field(
        "500MB", validate_default=True,
        description="Cap of the image cache, e.g. 500MB; least recently used images are deleted beyond it",
    )
    max_download: ByteSize = Field(
        "20MB", validate_default=True, description="Largest image fetched from the intranet, e.g. 20MB"
    )
    max_side: int = Field(3840, ge=320, description="Longest side in pixels an image is ever resized to (4K)")


class BadKey(ValueError):
    """A media key that this daemon did not sign: forged, tampered with or garbled."""


class MediaError(Exception):
    """An image that cannot be served; the message is short and fit for the 502 body."""


class NotAnImage(ValueError):
    """Raised by `render`, possibly in another process (so: plain, picklable)."""


@dataclass(frozen=True)
class Rendition:
    body: bytes
    content_type: str  # image/jpeg or image/png
    etag: str  # strong, quoted: a hash of the body


Fetch = Callable[[str | None, str, int], Awaitable[bytes]]
"""(source, url, max_bytes) -> body; raises MediaError or SourceError."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class MediaKeys:
    """Signs and checks `/media/<key>` keys: base64url(JSON [source, url]) "." base64url(HMAC-SHA256[:16])."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the media secret needs at least 16 characters")
        self._key = hmac.digest(secret.encode(), _DOMAIN, "sha256")

    def url(self, source: str | None, image_url: str) -> str:
        payload = _b64(json.dumps([source, image_url], separators=(",", ":")).encode("ascii"))
        return f"/media/{payload}.{self._sign(payload)}"

    def parse(self, key: str) -> tuple[str | None, str]:
        if not _KEY.fullmatch(key):
            raise BadKey("malformed media key")
        payload, signature = key.split(".")
        # Compared as text, not as decoded bytes: base64 has several spellings of the same bytes.
        if not hmac.compare_digest(self._sign(payload), signature):
            raise BadKey("media key with a wrong signature")
        try:
            value = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError) as e:
            raise BadKey("media key with an unreadable payload") from e
        match value:
            case [str() | None as source, str() as url]:
                return source, url
        raise BadKey("media key with an unexpected payload")

    def _sign(self, payload: str) -> str:
        return _b64(hmac.digest(self._key, payload.encode("ascii"), "sha256")[:_SIGNATURE_BYTES])


def credentials_for(
    image_url: str, source_url: str | None, headers: Mapping[str, str], auth: tuple[str, str] | None
) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The source's credentials if the image is on the source's origin, else none.

    So that a feed cannot make the daemon send the intranet's credentials to another host.
    """
    if source_url is None or _origin(image_url) is None or _origin(image_url) != _origin(source_url):
        return {}, None
    return dict(headers), auth


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    if port is None or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def bucket(side: int, max_side: int) -> int:
    """`side` rounded up to a bucket, at most `max_side`."""
    return min(next((b for b in BUCKETS if b >= side), BUCKETS[-1]), max_side)


def render(body: bytes, side: int) -> Rendition:
    """Decode `body`, refuse what is not a sane image, and fit it in side x side; raises `NotAnImage`."""
    # Imported here: renders run in the worker processes, so the daemon itself never loads Pillow.
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(body), formats=FORMATS) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise NotAnImage(f"{width}x{height} pixels, more than {MAX_PIXELS // 10**6} megapixels")
            icc = image.info.get("icc_profile")
            mode = image.mode
            image.thumbnail((side, side))  # never enlarges; decodes JPEGs at a reduced scale when it can
            image = ImageOps.exif_transpose(image)
            return _encode(image, icc if image.mode == mode else None)
    except NotAnImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Pillow's own bound (a warning unless warnings are errors, as in the tests): ours is lower anyway.
        raise NotAnImage(f"more than {MAX_PIXELS // 10**6} megapixels") from e
    except Image.UnidentifiedImageError as e:
        raise NotAnImage(_unknown(body)) from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise NotAnImage(f"truncated or corrupt ({e})") from e


def _encode(image: Image.Image, icc: bytes | None) -> Rendition:
    out = io.BytesIO()
    # The ICC profile is colour, not metadata: without it wide-gamut photos look washed out.
    if _transparent(image):
        if image.mode != "RGBA":
            image, icc = image.convert("RGBA"), None
        image.save(out, "PNG", icc_profile=icc)
        content_type = "image/png"
    else:
        if image.mode not in ("RGB", "L"):
            image, icc = image.convert("RGB"), None
        image.save(out, "JPEG", quality=JPEG_QUALITY, progressive=True, optimize=True, icc_profile=icc)
        content_type = "image/jpeg"
    return _rendition(out.getvalue(), content_type)


def _transparent(image: Image.Image) -> bool:
    if image.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and "transparency" not in image.info:
        return False
    return image.convert("RGBA").getchannel("A").getextrema()[0] < 255


def _unknown(body: bytes) -> str:
    if body.lstrip()[:1] == b"<":
        return "looks like HTML or XML (SVG is not supported)"
    return "unknown or unsupported image format"


def _rendition(body: bytes, content_type: str) -> Rendition:
    return Rendition(body, content_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def _sniff(body: bytes) -> str | None:
    if body.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


class _Disk:
    """The cache folder's file operations; blocking, so they run in threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def scan(self) -> list[tuple[str, int]]:
        """(name, size) of the cached files, least recently used first; deletes temp files a crash left."""
        self.folder.mkdir(parents=True, exist_ok=True)
        found = []
        for entry in os.scandir(self.folder):
            if entry.name.startswith(_TEMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
            elif _CACHE_NAME.fullmatch(entry.name) and entry.is_file():
                stat = entry.stat()
                found.append((stat.st_mtime_ns, entry.name, stat.st_size))
        return [(name, size) for _, name, size in sorted(found)]

    def read(self, name: str) -> Rendition | None:
        path = self.folder / name
        try:
            body = path.read_bytes()
            os.utime(path)  # the mtime orders eviction after a restart
        except FileNotFoundError:
            return None
        content_type = _sniff(body)
        return None if content_type is None else _rendition(body, content_type)

    def write(self, name: str, body: bytes) -> None:
        # A temp file and a rename: a reader sees the whole file or none, even after a crash.
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=_TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.folder / name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def delete(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.folder / name)


class _Lru:
    """Sizes of the cached files in use order, with their running total; lives on the event loop."""

    def __init__(self, files: list[tuple[str, int]]) -> None:
        self._sizes: OrderedDict[str, int] = OrderedDict(files)
        self.total = sum(self._sizes.values())

    def touch(self, name: str, size: int) -> None:
        self.total += size - self._sizes.pop(name, 0)
        self._sizes[name] = size

    def evict(self, cap: int) -> list[str]:
        """Past `cap`, forget the least recently used until under 90% of it (so not on every write)."""
        victims: list[str] = []
        if self.total > cap:
            while self._sizes and self.total > cap * 0.9:
                name, size = self._sizes.popitem(last=False)
                self.total -= size
                victims.append(name)
        return victims


class _Cache:
    """One cache folder: its files, and their use order (scanned on first use, in a thread)."""

    def __init__(self, folder: Path) -> None:
        self.disk = _Disk(folder)
        self._lru: _Lru | None = None
        self._scan_lock = asyncio.Lock()

    async def lru(self) -> _Lru:
        async with self._scan_lock:
            if self._lru is None:
                self._lru = _Lru(await asyncio.to_thread(self.disk.scan))
            return self._lru


class Media:
    """Renditions by media key; see the module docstring."""

    keys: MediaKeys
    _config: MediaConfig
    _failed: dict[tuple[str | None, str], tuple[float, str]]  # -> (until, reason)

    def __init__(self, keys: MediaKeys, config: MediaConfig, cache_dir: Path, fetch: Fetch,
                 side: Callable[[], int], executor: concurrent.futures.Executor | None = None,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._side = side
        self._executor = executor  # None: the loop's default thread pool
        self._clock = clock
        self._inflight: dict[str, asyncio.Task[Rendition]] = {}
        self._cache = _Cache(cache_dir)
        self.configure(keys, config, cache_dir)

    def configure(self, keys: MediaKeys, config: MediaConfig, cache_dir: Path) -> None:
        """New keys (the old ones stop working), limits and folder, from a reloaded config.

        Failures are forgotten: an image refused under the old limits may pass the new ones. Another
        folder is a new, empty cache; a rendition in progress finishes in the folder it started in.
        """
        self.keys, self._config, self._failed = keys, config, {}
        if self._cache.disk.folder != cache_dir:
            self._cache = _Cache(cache_dir)

    def url(self, source: str | None, image_url: str) -> str:
        """The `/media/<key>` path of an image, signed with the keys in force."""
        return self.keys.url(source, image_url)

    async def get(self, key: str) -> Rendition:
        """The rendition for the current screen size; raises `BadKey` or `MediaError`."""
        source, url = self.keys.parse(key)
        failed = self._failed.get((source, url))
        if failed is not None and failed[0] > self._clock():
            raise MediaError(failed[1])
        side = bucket(self._side(), self._config.max_side)
        name = hashlib.sha256(json.dumps([source, url, side]).encode()).hexdigest()
        task = self._inflight.get(name)
        if task is None:
            task = asyncio.create_task(self._load(name, source, url, side), name=f"media {name[:12]}")
            self._inflight[name] = task
            task.add_done_callback(partial(self._settled, name))
        # Shielded: a TV that hangs up must not cancel the work the other TVs wait for.
        return await asyncio.shield(task)

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _settled(self, name: str, task: asyncio.Task[Rendition]) -> None:
        self._inflight.pop(name, None)
        if not task.cancelled():
            task.exception()  # retrieved, even when every waiter hung up

    async def _load(self, name: str, source: str | None, url: str, side: int) -> Rendition:
        cache = self._cache
        lru = await cache.lru()
        cached = await asyncio.to_thread(cache.disk.read, name)
        if cached is not None:
            lru.touch(name, len(cached.body))
            return cached
        started = time.monotonic()
        body = await self._download(source, url)
        try:
            rendition = await asyncio.get_running_loop().run_in_executor(self._executor, render, body, side)
        except NotAnImage as e:
            raise self._failure(source, url, f"not an image: {e}") from e
        log.info("media.rendered source=%s url=%s side=%d bytes=%d->%d ms=%d", source, redact(url), side,
                 len(body), len(rendition.body), (time.monotonic() - started) * 1000)
        await self._store(cache.disk, lru, name, rendition.body)
        return rendition

    async def _download(self, source: str | None, url: str) -> bytes:
        limit = self._config.max_download
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise self._failure(source, url, "fetch failed: not an http or https URL")
        try:
            body = await self._fetch(source, url, limit)
        except SourceError as e:
            # Its text starts with the source and URL, which the log line names already.
            raise self._failure(source, url, "fetch failed: " + str(e).removeprefix(
                f"source {e.source!r}: {e.where}: ")) from e
        except MediaError as e:
            raise self._failure(source, url, f"fetch failed: {e}") from e
        if len(body) > limit:
            raise self._failure(source, url, f"fetch failed: larger than {limit.human_readable(decimal=True)}")
        return body

    async def _store(self, disk: _Disk, lru: _Lru, name: str, body: bytes) -> None:
        try:
            await asyncio.to_thread(disk.write, name, body)
        except OSError as e:  # a full disk costs the cache, not the image
            log.warning("media.cache_failed folder=%s reason=%s", disk.folder, e.strerror or e)
            return
        lru.touch(name, len(body))
        victims = lru.evict(self._config.cache_size)
        if victims:
            await asyncio.to_thread(disk.delete, victims)
            log.info("media.evicted files=%d total=%d", len(victims), lru.total)

    def _failure(self, source: str | None, url: str, reason: str) -> MediaError:
        now = self._clock()
        self._failed = {k: v for k, v in self._failed.items() if v[0] > now}
        self._failed[(source, url)] = (now + NEGATIVE_TTL, reason)
        log.warning("media.failed source=%s url=%s reason=%s", source, redact(url), reason)
        return MediaError(reason)


def add_media_routes(app: web.Application, media: Media) -> None:
    """Mount `GET /media/{key}`; `media.close()` runs on the app's cleanup."""

    async def serve(request: web.Request) -> web.Response:
        headers = {"X-Content-Type-Options": "nosniff"}
        try:
            rendition = await media.get(request.match_info["key"])
        except BadKey:
            return web.Response(status=404, text="unknown media key\n", headers=headers)
        except MediaError as e:
            return web.Response(status=502, text=f"{e}\n", headers={**headers, "Cache-Control": "no-store"})
        headers |= {"ETag": rendition.etag, "Cache-Control": CACHE_CONTROL}
        match = request.if_none_match
        if match and any(tag.value == "*" or f'"{tag.value}"' == rendition.etag for tag in match):
            return web.Response(status=304, headers=headers)
        return web.Response(body=rendition.body, content_type=rendition.content_type, headers=headers)

    async def close(_: web.Application) -> None:
        await media.close()

    app.router.add_get("/media/{key}", serve)
    app.on_cleanup.append(close)
