"""What a player gets: each slide's HTML, the images to load ahead, and the alerts over the rotation.

`Presenter.body` turns a loop (`build_playlist`) and its alerts
(`pick_alerts`) into the JSON of `playlist.json`. The HTML is rendered
once per build and shared by the screens of that build, so nothing in it
names a screen: the QR code is a relative `qr?key=...` that each player
resolves against its own `<base href="/screens/{id}/">`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from screens.playlist import Slide
from screens.render import MediaUrl, render_slide

FORMAT = 1  # playlist.json's `format`; bump when the player must read it differently

_IMG_SRC = re.compile(r'<img\b[^>]*\bsrc="([^"]+)"')


@dataclass(frozen=True)
class Presenter:
    locale: str
    tz: ZoneInfo
    version: str  # the daemon's: a player that sees another reloads itself
    media: MediaUrl | None = None
    # Changes with what a QR code links to (digest/links.py's `Links.tag`): its image URL changes too, so
    # that no TV shows a cached QR code of a link signed with an old secret.
    qr_tag: str = ""

    def body(
        self,
        slides: list[Slide],
        alerts: list[Slide],
        *,
        now: datetime,
        logo: str | None,
        qr: bool,
        stale: Mapping[str, datetime],
    ) -> bytes:
        """The UTF-8 JSON of one build; `stale` maps each failing source to its last good fetch."""
        data = {
            "format": FORMAT,
            "version": self.version,
            "slides": [self._slide(slide, now, logo, qr, stale) for slide in slides],
            "alerts": [self._alert(alert, now) for alert in alerts],
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_json_default).encode()

    def _slide(
        self, slide: Slide, now: datetime, logo: str | None, qr: bool, stale: Mapping[str, datetime]
    ) -> dict[str, Any]:
        source = _source(slide)
        html_ = render_slide(
            slide, locale=self.locale, tz=self.tz, now=now, logo=logo, media=self.media,
            qr=_qr_src(slide, self.qr_tag) if qr else None, stale_since=stale.get(source) if source else None,
        )
        return {"kind": slide.kind, "duration": slide.duration, "key": slide.key, "data": slide.data,
                "html": html_, "images": _images(html_)}

    def _alert(self, alert: Slide, now: datetime) -> dict[str, Any]:
        html_ = render_slide(alert, locale=self.locale, tz=self.tz, now=now, logo=None, qr=None, stale_since=None,
                             media=self.media)
        return {"key": alert.key, "mode": "takeover" if alert.data.get("takeover") else "banner",
                "expires": alert.data.get("expires"), "html": html_}


def qr_key(slide_key: str) -> str:
    """The item a slide's QR code is for: its key without the repeat mark ("item:news:g1#2" -> "item:news:g1")."""
    return slide_key.split("#", 1)[0]


def _qr_src(slide: Slide, tag: str) -> str | None:
    if slide.kind != "item" or not slide.data.get("link"):
        return None
    src = f"qr?key={quote(qr_key(slide.key), safe='')}"
    return f"{src}&v={tag}" if tag else src


def _source(slide: Slide) -> str | None:
    """The source whose health a slide depends on: an item's, or an agenda's calendar."""
    if slide.kind == "item":
        return slide.data.get("source")
    events = slide.data.get("events") or [{}]
    return events[0].get("source") if slide.kind == "agenda" else None


def _images(section: str) -> list[str]:
    """The images a slide shows, so the player can load them ahead of it."""
    return list(dict.fromkeys(html.unescape(src) for src in _IMG_SRC.findall(section)))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"slide data holds a {type(value).__name__}, not JSON")
