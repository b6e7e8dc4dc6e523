"""Building a screen's loop: filters, fixed slides, caps, the airtime rule, durations, hours."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from screens.config import PlaylistConfig, ScreenConfig
from screens.playlist import Slide, build_playlist, freshness_pick, slide_duration
from sources.item import Item

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2024, 5, 8, 10, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Amsterdam


def item(guid: str, hours: float = 0, source: str = "news", **fields: Any) -> Item:
    """An item published `hours` before NOW."""
    fields.setdefault("published", NOW - timedelta(hours=hours))
    return Item(source, guid, fields.pop("title", f"Title {guid}"), f"https://intranet.example.org/{guid}", **fields)


def playlist(*blocks: dict[str, Any], **options: Any) -> PlaylistConfig:
    return PlaylistConfig.model_validate({"name": "main", "blocks": list(blocks), **options})


def screen(**options: Any) -> ScreenConfig:
    return ScreenConfig.model_validate({"id": "hall", "name": "Hall", "token": "abcdefghij", "playlist": "main", **options})


def build(pl: PlaylistConfig, items: list[list[Item]], scr: ScreenConfig | None = None, **kw: Any) -> list[Slide]:
    return build_playlist(pl, scr or screen(), items, now=kw.pop("now", NOW), tz=AMS, **kw)


def guids(slides: list[Slide]) -> list[str]:
    return [s.data["guid"] for s in slides if s.kind == "item"]


# durations

@pytest.mark.parametrize(("words", "seconds"), [(0, 10.0), (20, 10.0), (35, 11.0), (50, 12.0), (41, 11.4), (500, 30.0)])
def test_default_duration_grows_with_the_text(words: int, seconds: float) -> None:
    assert slide_duration(None, " ".join(["word"] * words)) == seconds


def test_a_block_duration_is_exact_whatever_the_text() -> None:
    assert slide_duration(timedelta(seconds=4), " ".join(["word"] * 500)) == 4.0


def test_item_slides_take_their_duration_from_title_and_summary() -> None:
    long = item("long", summary=" ".join(["word"] * 48))  # 2 title words + 48: 30 beyond 20
    slides = build(playlist({"sources": ["news"]}, {"sources": ["news"], "duration": "7s"}), [[long], [item("b")]])
    assert [(s.key, s.duration) for s in slides] == [("item:news:long", 12.0), ("item:news:b", 7.0)]


# what an items block shows

def test_audience_everyone_or_one_of_the_screens_groups() -> None:
    items = [item("all"), item("zorg", audience=("zorg",)), item("kantoor", audience=("kantoor",)),
             item("both", audience=("kantoor", "zorg"))]
    assert guids(build(playlist({}), [items], screen(audience=["zorg"]))) == ["all", "both", "zorg"]
    assert guids(build(playlist({}), [items])) == ["all"]


def test_expired_items_never_show() -> None:
    items = [item("gone", expires=NOW - timedelta(seconds=1)), item("now", expires=NOW),
             item("later", expires=NOW + timedelta(minutes=1))]
    assert guids(build(playlist({}), [items])) == ["later"]


def test_max_age_leaves_out_old_items_but_not_pinned_ones() -> None:
    items = [item("new", 1), item("old", 8 * 24), item("old-pinned", 30 * 24, pinned=True)]
    assert guids(build(playlist({"max_age": "7d"}), [items])) == ["old-pinned", "new"]


def test_order_pinned_first_or_newest() -> None:
    items = [item("b", 2), item("pinned", 50, pinned=True), item("a", 1), item("undated", published=None)]
    assert guids(build(playlist({}), [items])) == ["pinned", "undated", "a", "b"]
    assert guids(build(playlist({"order": "newest"}), [items])) == ["undated", "a", "b", "pinned"]


def test_max_items_and_an_item_shows_in_its_first_block_only() -> None:
    items = [item(f"n{i}", i) for i in range(6)]
    slides = build(playlist({"max_items": 2}, {"type": "clock"}, {"max_items": 3}), [items, [], items])
    assert [s.key for s in slides] == ["item:news:n0", "item:news:n1", "clock:1", "item:news:n2", "item:news:n3",
                                       "item:news:n4"]


def test_the_store_order_does_not_matter() -> None:
    items = [item(f"n{i}", i * 7, pinned=i == 5) for i in range(30)]
    pl = playlist({"max_items": 30}, {"type": "clock"})
    assert build(pl, [items, []]) == build(pl, [items[::-1], []])


# fixed slides

def test_fixed_slides_stand_where_their_block_stands() -> None:
    pl = playlist(
        {"type": "announcement", "title": "Fire drill", "text": "Thursday 10:00", "image": "https://x.example/a.jpg"},
        {"sources": ["news"]},
        {"type": "image", "url": "https://x.example/team.jpg", "caption": "Our team", "duration": "20s"},
        {"type": "clock"},
        {"type": "webpage", "url": "https://status.example.org/"},
        webpage_hosts=["status.example.org"],
    )
    slides = build(pl, [[], [item("a")], [], [], []])
    assert [(s.kind, s.key, s.duration) for s in slides] == [
        ("announcement", "announcement:0", 10.0), ("item", "item:news:a", 10.0), ("image", "image:2", 20.0),
        ("clock", "clock:3", 10.0), ("webpage", "webpage:4", 10.0),
    ]
    assert slides[0].data == {"title": "Fire drill", "text": "Thursday 10:00", "image": "https://x.example/a.jpg"}
    assert slides[1].data == item("a").as_json()
    assert slides[2].data == {"url": "https://x.example/team.jpg", "caption": "Our team"}
    assert (slides[3].data, slides[4].data) == ({}, {"url": "https://status.example.org/"})


def event(guid: str, start_hours: float, length_hours: float = 1, **fields: Any) -> Item:
    start = NOW + timedelta(hours=start_hours)
    return item(guid, 24, source="agenda", start=start, end=start + timedelta(hours=length_hours), **fields)


def test_agenda_groups_upcoming_events_per_slide() -> None:
    events = [event(f"e{i}", i) for i in range(9, -1, -1)]
    slides = build(playlist({"type": "agenda", "ical": "agenda"}), [[]], events={"agenda": events})
    assert [(s.key, [e["guid"] for e in s.data["events"]], s.data["page"], s.data["pages"]) for s in slides] == [
        ("agenda:0:1", ["e0", "e1", "e2", "e3"], 1, 3),
        ("agenda:0:2", ["e4", "e5", "e6", "e7"], 2, 3),
        ("agenda:0:3", ["e8", "e9"], 3, 3),
    ]


def test_agenda_shows_what_is_not_over_within_its_days_in_local_time() -> None:
    events = [
        event("over", -2), event("ongoing", -1, 3), event("tonight", 11.5),  # 23:30 in Amsterdam
        event("after-midnight", 12.5), event("for-kantoor", 1, audience=("kantoor",)),
        event("cancelled-early", 2, expires=NOW),
    ]
    slides = build(playlist({"type": "agenda", "ical": "agenda", "days": 1, "per_slide": 8}), [[]],
                   events={"agenda": events})
    assert [e["guid"] for e in slides[0].data["events"]] == ["ongoing", "tonight"]


def test_an_agenda_without_events_makes_no_slides() -> None:
    slides = build(playlist({"type": "agenda", "ical": "agenda"}, {"type": "clock"}), [[], []])
    assert [s.key for s in slides] == ["clock:1"]


# never blank; hours

def test_nothing_to_show_is_the_idle_slide() -> None:
    assert build(playlist({}), [[item("old", 24 * 30)]]) == [Slide("idle", 60.0, {"reason": "empty", "until": None},
                                                                   "idle:empty")]


def test_outside_hours_the_idle_slide_says_until_when() -> None:
    scr = screen(hours="mon-fri 07:00-18:00")
    evening = datetime(2024, 5, 8, 17, 0, tzinfo=UTC)  # 19:00 in Amsterdam
    assert build(playlist({}), [[item("a")]], scr, now=evening) == [
        Slide("idle", 60.0, {"reason": "off", "until": "2024-05-09T05:00:00+00:00"}, "idle:off")
    ]
    assert guids(build(playlist({}), [[item("a")]], scr)) == ["a"]


def test_items_by_block_must_match_the_blocks() -> None:
    with pytest.raises(ValueError, match="2 blocks but 1 lists"):
        build(playlist({}, {"type": "clock"}), [[]])


# caps and the airtime rule

def test_fixed_slides_first_then_items_share_the_rest_fairly() -> None:
    many = [item(f"m{i}", i) for i in range(40)]
    few = [item(f"f{i}", i, source="groups") for i in range(3)]
    pl = playlist({"max_items": 40}, {"type": "clock"}, {"sources": ["groups"]}, max_slides=12)
    slides = build(pl, [many, [], few])
    assert Counter(s.data.get("source", s.kind) for s in slides) == {"news": 8, "clock": 1, "groups": 3}


def test_the_loop_time_cap_counts_every_slide() -> None:
    long = [item(f"l{i}", i, summary=" ".join(["word"] * 400)) for i in range(10)]  # 30 s each
    pl = playlist({"max_items": 10}, {"type": "clock", "duration": "1m"}, max_loop="3m")
    slides = build(pl, [long, []])
    assert [s.duration for s in slides] == [30.0, 30.0, 30.0, 30.0, 60.0]


def test_fixed_slides_beyond_the_caps_are_left_out() -> None:
    pl = playlist(*[{"type": "clock"}] * 5, max_slides=3)
    assert [s.key for s in build(pl, [[]] * 5)] == ["clock:0", "clock:1", "clock:2"]


def test_two_items_each_show_once_per_loop() -> None:
    assert freshness_pick([item("a", 1), item("b", 200)], 20, NOW) == [item("a", 1), item("b", 200)]
    slides = build(playlist({}, {"type": "clock"}), [[item("a", 1), item("b", 200)], []])
    assert [s.key for s in slides] == ["item:news:a", "item:news:b", "clock:1"]


def test_a_busy_fortnight_gives_the_newest_day_more_slots_than_the_oldest() -> None:
    items = [item(f"d{day}-{k}", day * 24 + k * 4) for day in range(10) for k in range(5)]
    picks = freshness_pick(items, 20, NOW)
    days = Counter(int(p.guid[1]) for p in picks)
    assert len(picks) == 20
    assert days[0] > days[9]
    assert [days[d] for d in range(10)] == sorted((days[d] for d in range(10)), reverse=True)
    assert max(Counter(picks).values()) == 2


def test_a_repeat_comes_half_a_round_later() -> None:
    items = [item("new", 0), *(item(f"old{i}", 24 * 5 + i) for i in range(5))]
    assert [p.guid for p in freshness_pick(items, 5, NOW)] == ["new", "old0", "old1", "new", "old2"]


def test_a_lone_fresh_item_is_not_shown_twice_in_a_row() -> None:
    picks = freshness_pick([item("new", 0), item("old", 24 * 10), item("older", 24 * 11)], 2, NOW)
    assert [p.guid for p in picks] == ["new", "old"]


ITEMS = st.lists(
    st.builds(
        lambda n, hours, pinned, words, audience, expires: item(
            f"i{n}", hours, pinned=pinned, summary=" ".join(["w"] * words), audience=audience,
            expires=None if expires is None else NOW + timedelta(hours=expires),
        ),
        st.integers(0, 10**6), st.floats(-2, 24 * 20), st.booleans(), st.integers(0, 600),
        st.sampled_from([(), ("zorg",), ("kantoor",)]), st.none() | st.floats(-48, 48),
    ),
    max_size=60,
    unique_by=lambda i: i.guid,
)


@given(ITEMS, ITEMS, st.integers(1, 30), st.integers(10, 600), st.sampled_from([None, "5s", "45s"]))
def test_a_loop_respects_its_caps_and_rules(
    first: list[Item], second: list[Item], max_slides: int, max_loop: int, duration: str | None
) -> None:
    pl = playlist({"max_items": 50, "duration": duration}, {"type": "clock"}, {"order": "newest", "max_items": 20},
                  max_slides=max_slides, max_loop=f"{max_loop}s")
    slides = build(pl, [first, [], second], screen(audience=["zorg"]))
    assert slides == build(pl, [first[::-1], [], second[::-1]], screen(audience=["zorg"]))
    if [s.kind for s in slides] == ["idle"]:
        return
    assert len(slides) <= max_slides
    assert sum(s.duration for s in slides) <= max_loop
    assert len({s.key for s in slides}) == len(slides)
    shown = [(s.data["guid"], s.data["audience"], s.data["expires"]) for s in slides if s.kind == "item"]
    assert max(Counter(g for g, _, _ in shown).values(), default=0) <= 2
    assert all(not audience or audience == ["zorg"] for _, audience, _ in shown)
    assert all(expires is None or datetime.fromisoformat(expires) > NOW for _, _, expires in shown)
    assert all(a.key.split("#")[0] != b.key.split("#")[0] for a, b in zip(slides, slides[1:]))


@given(ITEMS, st.integers(0, 40))
def test_freshness_pick_rules(items: list[Item], slots: int) -> None:
    items = sorted(items, key=lambda i: (not i.pinned, NOW - i.published))
    picks = freshness_pick(items, slots, NOW)
    if len(items) <= slots:
        assert picks == items
        return
    counts = [picks.count(i) for i in items]
    assert len(picks) == slots
    assert counts == sorted(counts, reverse=True) and max(counts, default=0) <= 2
    assert all(a != b for a, b in zip(picks, picks[1:]))


@given(ITEMS, st.integers(0, 40), st.floats(0, 400))
def test_freshness_pick_stays_within_its_seconds(items: list[Item], slots: int, seconds: float) -> None:
    durations = [slide_duration(None, f"{i.title} {i.summary}") for i in items]
    picks = freshness_pick(items, slots, NOW, seconds=seconds, durations=durations)
    assert sum(durations[items.index(p)] for p in picks) <= seconds


def test_slides_that_fit_exactly_are_kept_despite_float_sums() -> None:
    items = [item("a"), item("b"), item("c")]
    assert freshness_pick(items, 3, NOW, seconds=0.3, durations=[0.1, 0.1, 0.1]) == items
