"""One screen's loop of slides, built from its playlist: pure, deterministic, no I/O.

The server calls `build_playlist` when items or the config change, not per
request; the same inputs give the same slides, so screens that share a
playlist, audience and on-state share one build and its ETag.

- Outside the screen's `hours`, and when nothing is left to show, the loop
  is one idle slide (a screen is never blank).
- Blocks keep their order; a fixed slide (announcement, image, clock,
  agenda pages, webpage) stands where its block stands.
- An items block shows items for everyone or for one of the screen's
  audience groups, never expired, no older than `max_age` (pinned items
  stay until they expire), in its `order`, at most `max_items` of them; an
  item already shown by an earlier block is left out of later ones.
- A loop has at most `max_slides` slides and lasts at most `max_loop`.
  Fixed slides take their share first, in block order. Items blocks share
  the rest fairly: a block that needs less than an equal share gets all it
  needs, the others split what is left (earlier blocks get the odd slot).

The airtime rule (issue 6), within an items block: when its items fit, each
shows once. When they do not, slots are dealt one at a time by freshness:
an item's weight halves with every `HALF_LIFE` of age (pinned items count
as new; no item weighs more than the one before it in the block's order),
and the next slot goes to the highest weight / (2 x showings + 1)
(Sainte-Lague). So the newest items take the slots, and one shows a second
time, never a third, only when it weighs three times the best item not yet
shown. A second showing comes half a block later, never right after the
first. A busy week fills the loop up to its caps; a quiet week shows each
item once per loop between the other slides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from screens.config import (
    AgendaBlock,
    AnnouncementBlock,
    ClockBlock,
    ImageBlock,
    ItemsBlock,
    PlaylistConfig,
    ScreenConfig,
    WebpageBlock,
)
from screens.store import Override
from sources.item import Item

HALF_LIFE = timedelta(days=1)
DEFAULT_DURATION = 10.0
MAX_TEXT_DURATION = 30.0  # a default duration grows with the text up to this
WORDS_AT_DEFAULT = 20
WORDS_PER_SECOND = 15
IDLE_DURATION = 60.0
MAX_SHOWINGS = 2


@dataclass(frozen=True, slots=True)
class Slide:
    kind: str  # item, announcement, image, clock, agenda, webpage, idle
    duration: float  # seconds
    data: dict[str, Any]  # JSON-ready values for the slide's template
    key: str  # unique in the loop and stable across builds: "item:news:guid", its second showing "...#2"


def build_playlist(
    playlist: PlaylistConfig,
    screen: ScreenConfig,
    items_by_block: list[list[Item]],
    *,
    now: datetime,
    tz: ZoneInfo,
    events: Mapping[str, list[Item]] | None = None,
) -> list[Slide]:
    """The loop for `screen` at `now`.

    `items_by_block[i]` holds the candidates of `playlist.blocks[i]` (empty
    for fixed blocks); `events` the items of each ical source, by name, for
    agenda blocks; `tz` is the intranet's zone, for `hours` and agenda days.
    """
    if len(items_by_block) != len(playlist.blocks):
        raise ValueError(f"{len(playlist.blocks)} blocks but {len(items_by_block)} lists of items")
    if screen.hours is not None and not screen.hours.is_on(now, tz):
        return [_idle("off", screen.hours.next_change(now, tz))]
    slides_left, tenths_left = playlist.max_slides, round(playlist.max_loop.total_seconds() * 10)
    runs: dict[int, list[Slide]] = {}
    for index, block in enumerate(playlist.blocks):
        if not isinstance(block, ItemsBlock):
            fixed = _FIXED[type(block)](block, index, now, tz, events or {}, screen)
            runs[index] = _take(fixed, slides_left, tenths_left)
            slides_left -= len(runs[index])
            tenths_left -= sum(_tenths(s.duration) for s in runs[index])
    runs.update(_item_runs(playlist, screen, items_by_block, now, slides_left, tenths_left))
    slides = [slide for index in range(len(playlist.blocks)) for slide in runs[index]]
    return slides or [_idle("empty", None)]


def pick_alerts(pinned: Iterable[Item], screen: ScreenConfig, now: datetime) -> list[Slide]:
    """The pinned items for `screen`, shown over its rotation (also outside its hours): takeovers, then newest."""
    groups = set(screen.audience)
    shown = sorted((item for item in pinned if item.pinned and _for_screen(item, groups, now)),
                   key=lambda item: (not item.takeover, _age(item, now), item.source, item.guid))
    return [Slide("alert", DEFAULT_DURATION, item.as_json(), alert_key(item)) for item in shown]


def alert_key(item: Item) -> str:
    """The key of a pinned item's alert slide."""
    return f"alert:{item.source}:{item.guid}"


def override_key(override: Override) -> str:
    """The key of an override's alert slide."""
    return f"override:{override.id}"


def override_alerts(overrides: Iterable[Override]) -> list[Slide]:
    """Admins' overrides as alerts: takeovers first, then in the order they were made."""
    ordered = sorted(overrides, key=lambda o: (o.mode != "takeover", o.created_at, o.id or 0))
    return [
        Slide("alert", DEFAULT_DURATION,
              {"title": o.title, "summary": o.text, "takeover": o.mode == "takeover",
               "expires": o.until.isoformat() if o.until else None},
              override_key(o))
        for o in ordered
    ]


def slide_duration(block_duration: timedelta | None, text: str) -> float:
    """The block's duration when it sets one; else 10 s, plus 1 s per 15 words beyond 20, up to 30 s."""
    if block_duration is not None:
        return block_duration.total_seconds()
    extra = max(0, len(text.split()) - WORDS_AT_DEFAULT) / WORDS_PER_SECOND
    return round(min(MAX_TEXT_DURATION, DEFAULT_DURATION + extra), 1)


def freshness_pick(
    items: Sequence[Item],
    slots: int,
    now: datetime,
    *,
    seconds: float = math.inf,
    durations: Sequence[float] | None = None,
) -> list[Item]:
    """The showings of `items` (in the block's order) in at most `slots` and `seconds`, by the airtime rule."""
    costs = list(durations) if durations is not None else [0.0] * len(items)
    seconds += 1e-6  # float sums of tenths of a second must not leave out a slide that fits exactly
    if len(items) <= slots and sum(costs) <= seconds:
        return list(items)
    counts = _deal(_weights(items, now), costs, slots, seconds)
    return _spread(items, counts)


def _weights(items: Sequence[Item], now: datetime) -> list[float]:
    weights: list[float] = []
    for item in items:
        weight = 1.0 if item.pinned else 0.5 ** (_age(item, now) / HALF_LIFE)
        weights.append(min([weight, *weights[-1:]]))
    return weights


def _deal(weights: list[float], costs: list[float], slots: int, seconds: float) -> list[int]:
    """Sainte-Lague with at most two showings, a repeat only once two items show; stop at the first misfit."""
    counts = [0] * len(weights)
    shown, used = 0, 0.0
    for _ in range(slots):
        best, priority = None, -1.0
        for i, weight in enumerate(weights):
            if counts[i] >= MAX_SHOWINGS or (counts[i] and shown < 2):
                continue
            if weight / (2 * counts[i] + 1) > priority:
                best, priority = i, weight / (2 * counts[i] + 1)
        if best is None or used + costs[best] > seconds:
            break
        counts[best] += 1
        used += costs[best]
        shown += counts[best] == 1
    return counts


def _spread(items: Sequence[Item], counts: list[int]) -> list[Item]:
    """Every shown item once in order; each second showing half a round after its first.

    Counts never grow down the order, so the repeated items are the first ones shown.
    """
    first = [item for item, count in zip(items, counts) if count]
    again = [item for item, count in zip(items, counts) if count > 1]
    half = len(first) // 2
    out: list[Item] = []
    for k, item in enumerate(first):
        out.append(item)
        if 0 <= k - half < len(again):
            out.append(again[k - half])
    return out + again[max(0, len(first) - half) :]


def _item_runs(
    playlist: PlaylistConfig,
    screen: ScreenConfig,
    items_by_block: list[list[Item]],
    now: datetime,
    slides_left: int,
    tenths_left: int,
) -> dict[int, list[Slide]]:
    candidates = _candidates(playlist, screen, items_by_block, now)
    costs = {i: [_item_duration(playlist.blocks[i], item) for item in c] for i, c in candidates.items()}
    slots = _fair_share([len(c) for c in candidates.values()], slides_left)
    tenths = _fair_share([sum(map(_tenths, cost)) for cost in costs.values()], tenths_left)
    runs = {}
    for (i, items), n, t in zip(candidates.items(), slots, tenths):
        picks = freshness_pick(items, n, now, seconds=t / 10, durations=costs[i])
        runs[i] = _item_slides(picks, playlist.blocks[i])
    return runs


def _candidates(
    playlist: PlaylistConfig, screen: ScreenConfig, items_by_block: list[list[Item]], now: datetime
) -> dict[int, list[Item]]:
    """Per items block: what it may show, in its order, at most max_items, none shown by an earlier block."""
    groups, seen = set(screen.audience), set()
    out: dict[int, list[Item]] = {}
    for index, (block, items) in enumerate(zip(playlist.blocks, items_by_block)):
        if not isinstance(block, ItemsBlock):
            continue
        keep: dict[tuple[str, str], Item] = {}
        for item in items:
            fresh = item.pinned or _age(item, now) <= block.max_age
            if fresh and _for_screen(item, groups, now) and (item.source, item.guid) not in seen:
                keep.setdefault((item.source, item.guid), item)
        out[index] = sorted(keep.values(), key=lambda item: _order(item, block, now))[: block.max_items]
        seen.update((item.source, item.guid) for item in out[index])
    return out


def _for_screen(item: Item, groups: set[str], now: datetime) -> bool:
    """For everyone or one of the screen's groups, and not expired."""
    audience_ok = not item.audience or not groups.isdisjoint(item.audience)
    return audience_ok and (item.expires is None or item.expires > now)


def _age(item: Item, now: datetime) -> timedelta:
    """Since publication (or update); an item without a date, or dated ahead, is new."""
    when = item.published or item.updated
    return max(timedelta(0), now - when) if when else timedelta(0)


def _order(item: Item, block: ItemsBlock, now: datetime) -> tuple[Any, ...]:
    newest = (_age(item, now), item.source, item.guid)
    return (not item.pinned, *newest) if block.order == "pinned_first" else newest


def _fair_share(demands: list[int], supply: int) -> list[int]:
    """Max-min fair: who needs less than an equal share gets it all; the rest split evenly, earlier first."""
    shares = [0] * len(demands)
    open_ = [i for i, demand in enumerate(demands) if demand > 0]
    while open_ and supply > 0:
        each, extra = divmod(supply, len(open_))
        small = [i for i in open_ if demands[i] <= each]
        if not small:
            for k, i in enumerate(open_):
                shares[i] = each + (k < extra)
            break
        for i in small:
            shares[i], supply = demands[i], supply - demands[i]
        open_ = [i for i in open_ if i not in small]
    return shares


def _tenths(seconds: float) -> int:
    """Durations in tenths of a second, so that budgets add up exactly."""
    return round(seconds * 10)


def _take(slides: list[Slide], count: int, tenths: int) -> list[Slide]:
    """The leading slides that fit in the budget."""
    kept: list[Slide] = []
    for slide in slides:
        if len(kept) == count or _tenths(slide.duration) > tenths:
            break
        kept.append(slide)
        tenths -= _tenths(slide.duration)
    return kept


def _item_duration(block: ItemsBlock, item: Item) -> float:
    return slide_duration(block.duration, f"{item.title} {item.summary}")


def _item_slides(items: list[Item], block: ItemsBlock) -> list[Slide]:
    slides, seen = [], set()
    for item in items:
        key = f"item:{item.source}:{item.guid}"
        slides.append(Slide("item", _item_duration(block, item), item.as_json(), f"{key}#2" if key in seen else key))
        seen.add(key)
    return slides


def _idle(reason: str, until: datetime | None) -> Slide:
    """Off hours (`until` the screen turns on) or nothing to show: the time on a dark screen."""
    data = {"reason": reason, "until": until.isoformat() if until else None}
    return Slide("idle", IDLE_DURATION, data, f"idle:{reason}")


def _announcement(block: AnnouncementBlock, index: int, *_: Any) -> list[Slide]:
    data = {"title": block.title, "text": block.text, "image": str(block.image) if block.image else None}
    duration = slide_duration(block.duration, f"{block.title} {block.text}")
    return [Slide("announcement", duration, data, f"announcement:{index}")]


def _image(block: ImageBlock, index: int, *_: Any) -> list[Slide]:
    data = {"url": str(block.url), "caption": block.caption}
    return [Slide("image", slide_duration(block.duration, block.caption), data, f"image:{index}")]


def _clock(block: ClockBlock, index: int, *_: Any) -> list[Slide]:
    return [Slide("clock", slide_duration(block.duration, ""), {}, f"clock:{index}")]


def _webpage(block: WebpageBlock, index: int, *_: Any) -> list[Slide]:
    return [Slide("webpage", slide_duration(block.duration, ""), {"url": str(block.url)}, f"webpage:{index}")]


def _agenda(
    block: AgendaBlock, index: int, now: datetime, tz: ZoneInfo, events: Mapping[str, list[Item]], screen: ScreenConfig
) -> list[Slide]:
    """Events not over yet that start before midnight `days` days on, by start, `per_slide` to a slide."""
    horizon = datetime.combine(now.astimezone(tz).date() + timedelta(days=block.days), time(), tzinfo=tz)
    groups = set(screen.audience)
    upcoming = sorted(
        (
            event
            for event in events.get(block.ical, [])
            if event.start is not None
            and event.start < horizon
            and (event.end or event.start) > now
            and _for_screen(event, groups, now)
        ),
        key=lambda event: (event.start, event.title, event.guid),
    )
    pages = [upcoming[i : i + block.per_slide] for i in range(0, len(upcoming), block.per_slide)]
    return [
        Slide(
            "agenda",
            slide_duration(block.duration, " ".join(f"{e.title} {e.location or ''}" for e in page)),
            {"events": [e.as_json() for e in page], "page": n + 1, "pages": len(pages)},
            f"agenda:{index}:{n + 1}",
        )
        for n, page in enumerate(pages)
    ]


# How each fixed block becomes slides: (block, index, now, tz, events, screen) -> slides.
_FIXED: dict[type, Callable[..., list[Slide]]] = {
    AnnouncementBlock: _announcement,
    ImageBlock: _image,
    ClockBlock: _clock,
    WebpageBlock: _webpage,
    AgendaBlock: _agenda,
}
