"""What every adapter that fetches a URL shares: options, the fetch flow, per-recipient templates.

An adapter supplies a pure `parser(page, options) -> Parsed`. It runs in
the daemon's worker processes, off the event loop, so a 5 MB feed never
stalls the web server. The flow around it stays here: conditional GET,
pagination by `Parsed.next_url`, and `{recipient.*}` templates.

Per recipient (`per_recipient: true`): the URL, query values and header
values may name `{recipient.id}`, `{recipient.email}`, `{recipient.name}`,
and `{recipient.token}`, read from the environment variable that
`token_env` names (itself a template, e.g. `INTRANET_TOKEN_{recipient.id}`).
The source is then fetched once per recipient at digest time. This is how
an intranet's per-user "unread" feed reaches us.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, model_validator

from sources.errors import ErrorKind, ParseError, SourceError
from sources.fields import Duration
from sources.http import Limits, Response, redact
from sources.item import Item
from sources.registry import FetchContext, FetchResult, Services, SourceOptions

_PLACEHOLDER = re.compile(r"\{recipient\.(\w+)\}")
RECIPIENT_FIELDS = ("id", "email", "name", "token")


class RemoteOptions(SourceOptions):
    url: str = Field(min_length=1, description="http(s):// URL, file:// URL, or a path relative to this config")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers; secrets as ${ENV}")
    query: dict[str, str] = Field(default_factory=dict, description="Query parameters; secrets as ${ENV}")
    username: str | None = Field(None, description="HTTP basic auth user")
    password: str | None = Field(None, description="HTTP basic auth password; use ${ENV}")
    timeout: Duration = Field(timedelta(seconds=30), description="Total time for one request")
    max_bytes: int = Field(10 * 2**20, ge=1024, description="Largest body accepted, in bytes (default 10 MiB)")
    per_recipient: bool = Field(False, description="Fetch once per recipient, with {recipient.*} templates")
    token_env: str | None = Field(
        None, description="Per recipient: the environment variable holding {recipient.token}, a template"
    )

    @model_validator(mode="after")
    def _templates_need_per_recipient(self) -> RemoteOptions:
        templated = [self.url, *self.query.values(), *self.headers.values(), self.token_env or ""]
        names = {m.group(1) for text in templated for m in _PLACEHOLDER.finditer(text)}
        unknown = names - set(RECIPIENT_FIELDS)
        if unknown:
            raise ValueError(f"unknown placeholder {{recipient.{sorted(unknown)[0]}}}; "
                             f"use {', '.join('{recipient.' + f + '}' for f in RECIPIENT_FIELDS)}")
        if names and not self.per_recipient:
            raise ValueError("{recipient.*} placeholders need per_recipient: true")
        return self


@dataclass(frozen=True)
class Page:
    """One fetched body, as a parser sees it."""

    url: str  # after redirects: the base for relative links
    body: bytes
    content_type: str | None
    charset: str | None
    fetched_at: datetime


@dataclass(frozen=True)
class Parsed:
    items: list[Item]
    next_url: str | None = None  # pagination: the next page to fetch


Parser = Callable[[Page, Any], Parsed]


class RemoteSource:
    """Fetch flow for URL-based adapters; subclasses set `parser`."""

    parser: ClassVar[Parser]

    def __init__(self, options: RemoteOptions, services: Services):
        self.options = options
        self._services = services

    @property
    def max_pages(self) -> int:
        return 1

    async def fetch(self, context: FetchContext) -> FetchResult:
        url, query, headers = self._request(context.recipient)
        conditional = not self.options.per_recipient  # validators are kept per source, not per recipient
        first = await self._get(url, query, headers, context.etag if conditional else None,
                                context.last_modified if conditional else None)
        if first.not_modified:
            return FetchResult(None, context.etag, context.last_modified)
        items: list[Item] = []
        response, pages = first, 0
        while True:
            parsed = await self._parse(response, context.now)
            items += parsed.items
            pages += 1
            if not parsed.next_url or pages >= self.max_pages:
                break
            response = await self._get(parsed.next_url, {}, headers, None, None)
        return FetchResult(items, first.etag, first.last_modified)

    async def _get(self, url: str, query: Mapping[str, str], headers: Mapping[str, str],
                   etag: str | None, last_modified: str | None) -> Response:
        options = self.options
        auth = (options.username, options.password or "") if options.username else None
        limits = Limits(max_bytes=options.max_bytes, total_timeout=options.timeout.total_seconds())
        return await self._services.http.get(
            options.name, url, params=query, headers=headers, auth=auth,
            etag=etag, last_modified=last_modified, limits=limits,
        )

    async def _parse(self, response: Response, now: datetime) -> Parsed:
        page = Page(response.url, response.body, response.content_type, response.charset, now)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._services.executor, self.parser, page, self.options)
        except ParseError as e:
            raise SourceError(self.options.name, redact(response.url), str(e), kind=ErrorKind.PARSE) from e
        except Exception as e:  # a parser library failing on odd input: this feed fails, not the daemon
            message = f"cannot parse: {type(e).__name__}: {e}"
            raise SourceError(self.options.name, redact(response.url), message, kind=ErrorKind.PARSE) from e

    def _request(self, recipient: Mapping[str, str] | None) -> tuple[str, dict[str, str], dict[str, str]]:
        options = self.options
        if not options.per_recipient:
            return options.url, dict(options.query), dict(options.headers)
        if recipient is None:
            raise SourceError(options.name, options.url, "a per-recipient source is fetched for a recipient",
                              kind=ErrorKind.CONFIG)
        fields = self._recipient_fields(recipient)
        url = _render(options.url, fields, quote_values=True)
        query = {key: _render(value, fields) for key, value in options.query.items()}
        headers = {key: _render(value, fields) for key, value in options.headers.items()}
        if any("\r" in v or "\n" in v for v in headers.values()):
            raise SourceError(options.name, options.url, "a recipient field put a line break in a header",
                              kind=ErrorKind.CONFIG)
        return url, query, headers

    def _recipient_fields(self, recipient: Mapping[str, str]) -> dict[str, str]:
        fields = {name: recipient.get(name, "") for name in RECIPIENT_FIELDS}
        if self.options.token_env:
            variable = _render(self.options.token_env, fields)
            token = self._services.env.get(variable)
            if token is None:
                raise SourceError(self.options.name, self.options.url,
                                  f"environment variable {variable} (token_env) is not set", kind=ErrorKind.CONFIG)
            fields["token"] = token
        return fields


def _render(template: str, fields: Mapping[str, str], *, quote_values: bool = False) -> str:
    """Fill `{recipient.x}`; in URLs each value is percent-encoded, so it stays one path segment or value."""
    return _PLACEHOLDER.sub(lambda m: quote(fields[m.group(1)], safe="") if quote_values else fields[m.group(1)],
                            template)
