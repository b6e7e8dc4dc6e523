"""Errors raised by sources; each says which source, where, and what kind of failure.

`kind` is data the scheduler and the metrics decide on (never the message
text); `transient` says whether a retry may succeed; `retry_after` carries a
server's Retry-After, in seconds.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    TIMEOUT = "timeout"  # connect or total timeout
    CONNECTION = "connection"  # refused, reset, DNS
    HTTP = "http"  # a status we cannot use (see `status`)
    TOO_LARGE = "too_large"  # body or decompressed body over its cap
    REDIRECTS = "redirects"  # too many redirects, or a loop
    PARSE = "parse"  # not a feed of the expected kind, or broken beyond use
    CONFIG = "config"  # the source's settings cannot work (a missing per-user token)
    INTERNAL = "internal"  # a bug in an adapter: the log has the traceback


TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class SourceError(Exception):
    """A source could not be fetched or parsed: `source 'news': https://...: HTTP 503`."""

    def __init__(
        self,
        source: str,
        where: str,
        message: str,
        *,
        kind: ErrorKind,
        transient: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(f"source {source!r}: {where}: {message}")
        self.source = source
        self.where = where
        self.kind = kind
        self.transient = transient
        self.status = status
        self.retry_after = retry_after


class ParseError(ValueError):
    """Raised by a parser (possibly in a worker process) for input it cannot use.

    Plain on purpose: it crosses process boundaries by pickling. The adapter
    turns it into a `SourceError` naming the source and URL.
    """
