"""The mail policy: Python's SMTP policy, with the headers that machines parse written as they are.

Mailbox providers read List-Unsubscribe, List-Id and Message-ID by their
RFC's syntax and never decode RFC 2047 encoded words in them. Python's
policy encodes any header whose longest word does not fit in a line of 78,
and a signed unsubscribe URL is such a word: Gmail then saw
`=?utf-8?q?=3Chttps=3A//...` and offered no one-click unsubscribe.

So these headers are plain ASCII, refused otherwise, and never encoded.
List-Unsubscribe (RFC 2369) is folded only between its `<...>` entries; the
others are one token each and stay on one line (RFC 5322 allows 998
characters; 78 is a recommendation a URL cannot keep).
"""

from __future__ import annotations

import re
from email import policy
from email.headerregistry import HeaderRegistry
from typing import Any

MAX_LINE = 998  # RFC 5322 2.1.1, without the CRLF
_BETWEEN_ENTRIES = re.compile(r"(?<=>)\s*,\s*(?=<)")


class VerbatimHeader:
    """A header written exactly as given. The registry mixes it into `BaseHeader`, whose `init` it keeps."""

    max_count: int | None = 1
    fold_between_entries = False

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        if not value.isascii() or any(c in value for c in "\r\n\0"):
            raise ValueError(f"header value must be one line of ASCII, got {value!r}")
        kwds["decoded"] = value
        kwds["parse_tree"] = None  # never needed: `fold` writes the value itself

    def fold(self, *, policy: policy.EmailPolicy) -> str:
        name: str = self.name  # type: ignore[attr-defined]  # BaseHeader's
        entries = _BETWEEN_ENTRIES.split(str(self)) if self.fold_between_entries else [str(self)]
        lines = [f"{name}: {entries[0]}"]
        for entry in entries[1:]:
            if len(lines[-1]) + len(", ") + len(entry) <= (policy.max_line_length or MAX_LINE):
                lines[-1] += f", {entry}"
            else:
                lines[-1] += ","
                lines.append(f" {entry}")
        if any(len(line) > MAX_LINE for line in lines):
            raise ValueError(f"{name}: an entry longer than {MAX_LINE} characters cannot be written")
        return policy.linesep.join(lines) + policy.linesep


class AngleListHeader(VerbatimHeader):
    """`<a>, <b>`: a long list breaks after a comma, never inside an entry."""

    fold_between_entries = True


def _registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    registry.map_to_type("message-id", VerbatimHeader)
    registry.map_to_type("list-id", VerbatimHeader)
    registry.map_to_type("list-unsubscribe", AngleListHeader)
    registry.map_to_type("list-unsubscribe-post", VerbatimHeader)
    return registry


MAIL_POLICY = policy.SMTP.clone(header_factory=_registry())
