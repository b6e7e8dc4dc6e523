"""The Item: what every adapter yields and every pipeline consumes.

Fields follow the contract in DESIGN.md ("Item"), plus `start`, `end` and
`location` for events and `undated` for items whose feed gave no date
(issue 4). Datetimes are timezone aware; `summary` is plain text,
`content_html` is already sanitised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Item:
    source: str
    guid: str
    title: str
    link: str
    summary: str = ""
    content_html: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    author: str | None = None
    image: str | None = None
    tags: tuple[str, ...] = ()
    audience: tuple[str, ...] = field(default=(), metadata={"doc": "groups; empty = everyone"})
    pinned: bool = False
    # A pinned item shown over the whole screen instead of as a banner over the rotation.
    takeover: bool = False
    expires: datetime | None = None
    # Events (ical): when the occurrence starts and ends, and where.
    start: datetime | None = None
    end: datetime | None = None
    location: str | None = None
    # The feed gave no date: `published` is when intracast first saw the item.
    undated: bool = False

    def as_json(self) -> dict[str, Any]:
        """The Item as JSON-ready values: ISO 8601 datetimes, lists for tuples."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
            elif isinstance(value, tuple):
                data[key] = list(value)
        return data

    def content_hash(self) -> str:
        """A digest of everything but identity: a changed hash marks an update."""
        data = self.as_json()
        del data["source"], data["guid"]
        encoded = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(encoded).hexdigest()
