"""Fetching for sources: http(s) and local files, with limits, conditional GET and errors that say what failed.

Every URL-based source fetches through one `Http`, built around the daemon's
single `ClientSession` (the daemon owns it and closes it; `Http` never does).
What this adds to aiohttp, and why:

- `Limits`: a connect and a total timeout per request, a cap on the bytes
  received (enforced while streaming, and up front from Content-Length), a
  cap on the decompressed size, and a redirect cap. One slow, huge or
  hostile feed must not stall or sink the daemon.
- We inflate gzip and deflate ourselves, in steps bounded by `max_length`,
  so that a gzip bomb (1 MB on the wire, 1 GB inflated) stops at the cap
  instead of filling memory first.
- At most `per_host` requests in flight per host:port: a digest run fetches
  one per-user feed per employee, and must not hammer the intranet. The
  timeout starts when a request does, not while it waits for its host.
- Conditional GET with ETag / Last-Modified; for files, with the mtime as an
  HTTP-date (one-second resolution, as HTTP has).
- Every failure is one `SourceError` whose `kind` and `transient` the
  scheduler decides on, and whose `where` has no credentials and no query
  string (per-user tokens live there).

`file:` URLs and plain paths (relative ones against `base_dir`, the config's
folder) are read in a thread, so that the demo and tests need no server.
"""

from __future__ import annotations

import asyncio
import logging
import math
import mimetypes
import os
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from urllib.request import url2pathname

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from sources.errors import TRANSIENT_STATUSES, ErrorKind, SourceError

log = logging.getLogger(__name__)

CHUNK = 64 * 1024  # read from the wire at a time
INFLATE_STEP = 2**20  # inflated at a time: one wire chunk of a bomb can inflate to 64 MiB
# The built-in table lacks these, and mimetypes' system files differ from machine to machine.
FEED_TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml", ".ics": "text/calendar"}


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 10 * 2**20  # bytes received on the wire (compressed), enforced while streaming
    max_decompressed: int = 50 * 2**20  # decompressed body cap (gzip bombs)
    max_redirects: int = 5
    connect_timeout: float = 10.0
    total_timeout: float = 30.0


@dataclass(frozen=True)
class Response:
    url: str  # final URL after redirects, without user:password@ (file: the file's URL)
    status: int  # 200, or 304 for not modified
    body: bytes  # b"" when not_modified
    not_modified: bool
    etag: str | None
    last_modified: str | None
    content_type: str | None  # media type only, lowercased, e.g. "application/rss+xml"
    charset: str | None  # from the Content-Type header, if any


class Http:
    """Fetches http(s) URLs, file: URLs and paths for sources; raises `SourceError`."""

    def __init__(self, session: aiohttp.ClientSession, base_dir: Path, *, per_host: int = 4):
        self._session = session
        self._base_dir = base_dir
        self._per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._mime = mimetypes.MimeTypes()  # the built-in table only: the same answer on every machine
        for extension, media_type in FEED_TYPES.items():
            self._mime.add_type(media_type, extension)

    async def get(self, source: str, url: str, *, params: Mapping[str, str] | None = None,
                  headers: Mapping[str, str] | None = None, auth: tuple[str, str] | None = None,
                  etag: str | None = None, last_modified: str | None = None,
                  limits: Limits = Limits()) -> Response:
        """Fetch `url`; `source` only names the source in errors and logs."""
        started = time.monotonic()
        if _scheme(source, url) == "file":
            response = await self._get_file(source, self._path(source, url), last_modified, limits)
        else:
            target, url_auth = _http_url(source, url)
            send = CIMultiDict(headers or {})
            send["Accept-Encoding"] = "gzip, deflate"  # what Inflater decodes
            if auth is not None:
                send["Authorization"] = aiohttp.encode_basic_auth(*auth)
            elif url_auth is not None and "Authorization" not in send:
                send["Authorization"] = url_auth
            if etag is not None:
                send["If-None-Match"] = etag
            if last_modified is not None:
                send["If-Modified-Since"] = last_modified
            response = await self._get_http(source, target, params, send, limits)
            if response.not_modified:  # a 304 need not repeat the validators
                response = _validators(response, etag, last_modified)
        log.debug("http.fetched source=%s url=%s status=%d bytes=%d ms=%d", source, redact(response.url),
                  response.status, len(response.body), (time.monotonic() - started) * 1000)
        return response

    async def _get_http(self, source: str, url: URL, params: Mapping[str, str] | None,
                        headers: CIMultiDict[str], limits: Limits) -> Response:
        where = redact(str(url))
        timeout = aiohttp.ClientTimeout(total=limits.total_timeout, connect=limits.connect_timeout)
        async with self._slot(url):
            try:
                async with self._session.get(
                    url, params=params, headers=headers, timeout=timeout, raise_for_status=False,
                    max_redirects=limits.max_redirects + 1,  # aiohttp counts the redirect that trips its cap
                    auto_decompress=False,  # Inflater decodes, under max_decompressed
                ) as resp:
                    return await _receive(source, where, resp, limits)
            except aiohttp.ConnectionTimeoutError as e:
                raise SourceError(source, where, f"connect timed out after {limits.connect_timeout:g}s",
                                  kind=ErrorKind.TIMEOUT, transient=True) from e
            except TimeoutError as e:
                raise SourceError(source, where, f"timed out after {limits.total_timeout:g}s",
                                  kind=ErrorKind.TIMEOUT, transient=True) from e
            except aiohttp.TooManyRedirects as e:
                raise SourceError(source, where, f"more than {limits.max_redirects} redirects (a redirect loop?)",
                                  kind=ErrorKind.REDIRECTS) from e
            except aiohttp.RedirectClientError as e:
                raise SourceError(source, where, "redirected to an invalid or non-HTTP URL",
                                  kind=ErrorKind.REDIRECTS) from e
            except aiohttp.ClientError as e:
                raise SourceError(source, where, _connection_failure(e), kind=ErrorKind.CONNECTION,
                                  transient=True) from e

    def _slot(self, url: URL) -> asyncio.Semaphore:
        key = f"{url.host}:{url.port}"
        slot = self._hosts.get(key)
        if slot is None:
            slot = self._hosts[key] = asyncio.Semaphore(self._per_host)
        return slot

    def _path(self, source: str, url: str) -> Path:
        parts = urlsplit(url)
        if parts.scheme != "file":
            return (self._base_dir / url).absolute()
        if parts.netloc not in ("", "localhost"):
            raise SourceError(source, redact(url), "a file: URL names a local file, not a host",
                              kind=ErrorKind.CONFIG)
        return (self._base_dir / url2pathname(parts.path)).absolute()

    async def _get_file(self, source: str, path: Path, last_modified: str | None, limits: Limits) -> Response:
        url = path.as_uri()
        stamp, body = await asyncio.to_thread(_read_file, source, path, limits.max_bytes, last_modified)
        if body is None:
            return Response(url, 304, b"", True, None, stamp, None, None)
        media_type, _ = self._mime.guess_type(path.name)
        return Response(url, 200, body, False, None, stamp, media_type, None)


async def _receive(source: str, where: str, resp: aiohttp.ClientResponse, limits: Limits) -> Response:
    if resp.status == 304:
        return Response(str(resp.url), 304, b"", True, resp.headers.get("ETag"), resp.headers.get("Last-Modified"),
                        None, None)
    if not 200 <= resp.status < 300:
        raise _status_error(source, where, resp)
    body = await _read_body(source, where, resp, limits)
    media_type, charset = (resp.content_type, resp.charset) if "Content-Type" in resp.headers else (None, None)
    return Response(str(resp.url), resp.status, body, False, resp.headers.get("ETag"),
                    resp.headers.get("Last-Modified"), media_type, charset)


async def _read_body(source: str, where: str, resp: aiohttp.ClientResponse, limits: Limits) -> bytes:
    too_large = f"body larger than {_size(limits.max_bytes)}"
    if resp.content_length is not None and resp.content_length > limits.max_bytes:
        raise SourceError(source, where, f"{too_large} (Content-Length: {resp.content_length})",
                          kind=ErrorKind.TOO_LARGE)
    try:
        inflater = Inflater(resp.headers.get("Content-Encoding"), limits.max_decompressed)
        received = 0
        async for chunk in resp.content.iter_chunked(CHUNK):
            received += len(chunk)
            if received > limits.max_bytes:
                raise SourceError(source, where, too_large, kind=ErrorKind.TOO_LARGE)
            inflater.feed(chunk)
        return inflater.finish()
    except BodyError as e:
        raise SourceError(source, where, str(e), kind=e.kind) from e


def _validators(response: Response, etag: str | None, last_modified: str | None) -> Response:
    return Response(response.url, response.status, response.body, True, response.etag or etag,
                    response.last_modified or last_modified, None, None)


def _status_error(source: str, where: str, resp: aiohttp.ClientResponse) -> SourceError:
    status = resp.status
    try:
        phrase = resp.reason or HTTPStatus(status).phrase
    except ValueError:  # a status Python has no name for
        phrase = ""
    message = f"HTTP {status} {phrase}".rstrip()
    if resp.history:
        message += f" (redirected to {redact(str(resp.url))})"
    retry_after = None
    if status in (429, 503) and "Retry-After" in resp.headers:
        retry_after = parse_retry_after(resp.headers["Retry-After"], datetime.now(timezone.utc))
    return SourceError(source, where, message, kind=ErrorKind.HTTP, transient=status in TRANSIENT_STATUSES,
                       status=status, retry_after=retry_after)


def _connection_failure(e: aiohttp.ClientError) -> str:
    """The cause in a few words; never str(e), which may carry the full URL."""
    match e:
        case aiohttp.ClientConnectorDNSError():
            return f"cannot resolve host {e.host}"
        case aiohttp.ClientConnectorCertificateError():
            return f"TLS certificate rejected: {e.certificate_error}"
        case aiohttp.ClientSSLError():
            return f"TLS error: {e.os_error}"
        case aiohttp.ClientConnectorError():
            return f"cannot connect to {e.host}:{e.port}: {_reason(e.os_error)}"
        case aiohttp.ServerDisconnectedError():
            return "the server closed the connection"
        case aiohttp.ClientPayloadError():
            return "the connection broke off mid-body"
        case aiohttp.ClientOSError():
            return f"connection error: {_reason(e)}"
    return f"request failed: {type(e).__name__}"


def _reason(error: OSError) -> str:
    # asyncio's strerror reads "Connect call failed ('10.0.0.1', 443)"; the errno says it in two words.
    return os.strerror(error.errno) if error.errno else (error.strerror or type(error).__name__)


class BodyError(Exception):
    """A body we refuse; `kind` says why (TOO_LARGE, PARSE, HTTP)."""

    def __init__(self, message: str, kind: ErrorKind):
        super().__init__(message)
        self.kind = kind


class Inflater:
    """Decodes a Content-Encoding chunk by chunk, never holding more than `limit` + 1 decoded bytes.

    Raises `BodyError`; the caller knows the source and URL to name.
    """

    def __init__(self, encoding: str | None, limit: int):
        self.encoding = (encoding or "identity").strip().lower()
        if self.encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            # We only ever send Accept-Encoding: gzip, deflate; anything else is the server's mistake.
            raise BodyError(f"unsupported Content-Encoding {encoding!r}", ErrorKind.HTTP)
        self._limit = limit
        self._body = bytearray()
        self._zlib: zlib._Decompress | None = None

    def feed(self, data: bytes) -> None:
        if self.encoding == "identity":
            self._body += data  # the wire cap bounds it
            return
        if self._zlib is None and data:
            self._zlib = zlib.decompressobj(self._wbits(data[0]))
        while data and not self._zlib.eof:
            try:
                self._body += self._zlib.decompress(data, min(INFLATE_STEP, self._limit - len(self._body) + 1))
            except zlib.error as e:
                raise BodyError(f"corrupt {self.encoding} body ({e})", ErrorKind.PARSE) from e
            if len(self._body) > self._limit:
                raise BodyError(f"decompressed body larger than {_size(self._limit)}", ErrorKind.TOO_LARGE)
            data = self._zlib.unconsumed_tail

    def finish(self) -> bytes:
        if self._zlib is not None and not self._zlib.eof:
            raise BodyError(f"corrupt {self.encoding} body (truncated)", ErrorKind.PARSE)
        return bytes(self._body)

    def _wbits(self, first: int) -> int:
        if self.encoding != "deflate":
            return 16 + zlib.MAX_WBITS  # gzip header and trailer
        # "deflate" means zlib-wrapped (RFC 9110), but some servers send raw deflate; the first byte tells
        # (a zlib header's low nibble is 8), as browsers and aiohttp tell it.
        return zlib.MAX_WBITS if first & 0x0F == 8 else -zlib.MAX_WBITS


def _read_file(source: str, path: Path, max_bytes: int, last_modified: str | None) -> tuple[str, bytes | None]:
    """Runs in a thread: the mtime as an HTTP-date, and the body, or None when it equals `last_modified`."""
    where = path.as_uri()
    try:
        with path.open("rb") as file:
            stamp = formatdate(os.fstat(file.fileno()).st_mtime, usegmt=True)
            if stamp == last_modified:
                return stamp, None
            body = file.read(max_bytes + 1)
    except OSError as e:
        message = "no such file" if isinstance(e, FileNotFoundError) else f"cannot read: {e.strerror or e}"
        raise SourceError(source, where, message, kind=ErrorKind.HTTP) from e
    if len(body) > max_bytes:
        raise SourceError(source, where, f"file larger than {_size(max_bytes)}", kind=ErrorKind.TOO_LARGE)
    return stamp, body


def _scheme(source: str, url: str) -> str:
    try:
        scheme = urlsplit(url).scheme
    except ValueError as e:
        raise SourceError(source, redact(url), f"invalid URL ({e})", kind=ErrorKind.CONFIG) from e
    if scheme in ("http", "https"):
        return scheme
    if scheme in ("file", ""):
        return "file"
    raise SourceError(source, redact(url), f"unsupported URL scheme {scheme!r}: use http, https, file or a path",
                      kind=ErrorKind.CONFIG)


def _http_url(source: str, url: str) -> tuple[URL, str | None]:
    """The URL without user:password@, and those credentials as an Authorization value."""
    try:
        parsed = URL(url)
        if not parsed.host:
            raise ValueError("no host")
        if parsed.user is None:
            return parsed, None
        return parsed.with_user(None), aiohttp.encode_basic_auth(parsed.user, parsed.password or "")
    except ValueError as e:
        raise SourceError(source, redact(url), f"invalid URL ({e})", kind=ErrorKind.CONFIG) from e


def redact(url: str) -> str:
    """`url` without user:password@, query string and fragment: fit for errors and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Retry-After as seconds from `now` (RFC 9110 10.2.3): delta-seconds or an HTTP-date; None if unreadable."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, with no claim about the local zone
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _size(n: int) -> str:
    if n % 2**20 == 0:
        return f"{n // 2**20} MiB"
    if n % 2**10 == 0:
        return f"{n // 2**10} KiB"
    return f"{n} bytes"
