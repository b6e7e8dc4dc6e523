"""Screens and playlists in the config: what loads, and the exact `FILE:LINE:COL: key.path: message` when not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from intracast.config import ConfigError, load_config
from screens.config import AgendaBlock, ItemsBlock, ThemeConfig, WebpageBlock, contrast
from tests.conftest import REPO

HEAD = """\
intranet:
  name: Plek
  url: https://intranet.example.org
sources:
  - {name: news, type: rss, url: "https://intranet.example.org/feed"}
  - {name: agenda, type: ical, url: "https://intranet.example.org/agenda.ics"}
playlists: [{name: main, blocks: [{type: clock}]}]
screens:
  - id: hall
    name: Hall
    token: ${T:-abcdefghij}
    playlist: main
"""

# (id, yaml after HEAD, expected "LINE:COL: path: message")
CASES = [
    ("hours-unknown-day", """\
    hours: mon-fry 07:00-18:00
""", "13:12: screens[hall].hours: invalid hours 'mon-fry 07:00-18:00': unknown day 'fry'; did you mean 'fri'?"),
    ("hours-no-range", """\
    hours: mon-fri
""", "13:12: screens[hall].hours: invalid hours 'mon-fri': expected DAYS HH:MM-HH:MM, e.g. 'mon-fri 07:00-18:00'"),
    ("hours-bad-time", """\
    hours: ["mon-fri 07:00-18:00", "sat 09:00-25:00"]
""", "13:12: screens[hall].hours: invalid hours 'sat 09:00-25:00': 25:00 is not a time of day (00:00 to 24:00)"),
    ("hours-empty-range", """\
    hours: sun 10:00-10:00
""", "13:12: screens[hall].hours: invalid hours 'sun 10:00-10:00': '10:00-10:00' is empty; "
     "write 00:00-24:00 for the whole day"),
    ("hours-empty-list", """\
    hours: []
""", "13:12: screens[hall].hours: no on-times given; leave hours out to keep the screen on all the time"),
    ("theme-low-contrast", """\
    theme: {background: "#ffffff", foreground: "#777777"}
""", "13:48: screens[hall].theme.foreground: text #777777 on background #ffffff has a contrast of 4.48:1; "
     "legible from across a room needs at least 4.5:1 (WCAG AA)"),
    ("theme-light-background-default-text", """\
    theme:
      background: "#f0f0f0"
""", "14:7: screens[hall].theme: text #ffffff on background #f0f0f0 has a contrast of 1.14:1; "
     "legible from across a room needs at least 4.5:1 (WCAG AA)"),
    ("theme-bad-colour", """\
    theme: {accent: red}
""", "13:21: screens[hall].theme.accent: expected a colour as #rrggbb, got 'red'"),
    ("theme-font-injection", """\
    theme: {font: "x;} body {display: none"}
""", "13:19: screens[hall].theme.font: String should match pattern"),
    ("theme-unknown-key", """\
    theme: {colour: "#000000"}
""", "13:13: screens[hall].theme.colour: unknown key 'colour'"),
    ("webpage-http", """\
playlists:
  - name: main
    webpage_hosts: [status.example.org]
    blocks: [{type: webpage, url: "http://status.example.org/"}]
""", "16:35: playlists[main].blocks[0].url: a webpage must be https, got 'http://status.example.org/'"),
    ("webpage-host-not-listed", """\
playlists:
  - name: main
    webpage_hosts: [status.example.org]
    blocks: [{type: webpage, url: "https://evil.example.net/"}]
""", "16:35: playlists[main].blocks[0].url: host 'evil.example.net' is not in this playlist's webpage_hosts "
     "(listed: status.example.org)"),
    ("webpage-no-hosts", """\
playlists:
  - name: main
    blocks:
      - type: webpage
        url: https://status.example.org/
""", "17:14: playlists[main].blocks[0].url: host 'status.example.org' is not in this playlist's webpage_hosts "
     "(none are listed)"),
    ("webpage-host-with-scheme", """\
playlists:
  - name: main
    webpage_hosts: ["https://status.example.org"]
    blocks: [{type: clock}]
""", "15:21: playlists[main].webpage_hosts[0]: String should match pattern"),
    ("agenda-unknown-source", """\
playlists:
  - name: main
    blocks: [{type: agenda, ical: agnda}]
""", "15:35: playlists[main].blocks[0].ical: unknown source 'agnda'; did you mean 'agenda'?"),
    ("agenda-not-ical", """\
playlists:
  - name: main
    blocks: [{type: agenda, ical: news}]
""", "15:35: playlists[main].blocks[0].ical: source 'news' is of type rss; an agenda needs a source of type ical"),
    ("agenda-per-slide", """\
playlists:
  - name: main
    blocks: [{type: agenda, ical: agenda, per_slide: 0}]
""", "15:54: playlists[main].blocks[0].per_slide: Input should be greater than or equal to 1"),
    ("items-order", """\
playlists:
  - name: main
    blocks: [{sources: [news], order: oldest}]
""", "15:39: playlists[main].blocks[0].order: Input should be 'pinned_first' or 'newest' (got 'oldest')"),
    ("unknown-block-type", """\
playlists:
  - name: main
    blocks: [{type: iframe}]
""", "15:21: playlists[main].blocks[0].type: unknown type 'iframe' "
     "(known: items, clock, announcement, image, agenda, webpage)"),
    ("max-loop", """\
playlists:
  - {name: main, max_loop: 5 minutes, blocks: [{type: clock}]}
""", "14:28: playlists[main].max_loop: invalid duration '5 minutes'"),
    ("max-slides", """\
playlists:
  - {name: main, max_slides: 0, blocks: [{type: clock}]}
""", "14:30: playlists[main].max_slides: Input should be greater than or equal to 1"),
    ("image-needs-url", """\
playlists:
  - {name: main, blocks: [{type: image, caption: Team}]}
""", "14:27: playlists[main].blocks[0].url: missing required key 'url'"),
]


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "intracast.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_screens_config_names_line_column_and_key(tmp_path: Path, text: str, expected: str) -> None:
    # A case that writes its own `playlists:` replaces HEAD's (a duplicate key would be a problem of its own).
    head = HEAD.replace("playlists: [{name: main, blocks: [{type: clock}]}]\n", "# (playlists below)\n")
    problems = problems_of(tmp_path, (head if text.startswith("playlists:") else HEAD) + text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_the_example_loads_with_every_option(tmp_path: Path) -> None:
    config = load_config(REPO / "config" / "examples" / "screens.yaml", env={}).config
    canteen, ward = config.screens
    assert canteen.hours is not None and canteen.hours.spec == ("mon-fri 07:00-18:00", "sat 09:00-13:00")
    assert canteen.theme == ThemeConfig()
    assert (ward.hours, ward.theme.background, ward.theme.accent) == (None, "#ffffff", "#c0392b")
    assert (canteen.qr, ward.qr) == ("tracked", "off")  # a bare YAML `off` means the word, not false
    assert (config.media.cache_size, config.media.max_download) == (500 * 10**6, 20 * 10**6)
    main = config.playlists[0]
    assert (main.max_loop, main.max_slides, main.webpage_hosts) == (timedelta(minutes=5), 20, ["status.example.org"])
    items, _, agenda, _, webpage = main.blocks
    assert isinstance(items, ItemsBlock) and (items.max_age, items.order) == (timedelta(days=7), "pinned_first")
    assert isinstance(agenda, AgendaBlock) and (agenda.ical, agenda.days, agenda.per_slide) == ("agenda", 7, 4)
    assert isinstance(webpage, WebpageBlock) and webpage.duration == timedelta(seconds=30)


def test_hours_and_theme_round_trip_through_the_json_dump() -> None:
    config = load_config(REPO / "config" / "examples" / "screens.yaml", env={}).config
    dumped = config.screens[0].model_dump(mode="json")
    assert dumped["hours"] == ["mon-fri 07:00-18:00", "sat 09:00-13:00"]
    assert type(config.screens[0]).model_validate(dumped) == config.screens[0]


@pytest.mark.parametrize(("a", "b", "ratio"), [
    ("#000000", "#ffffff", 21.0), ("#ffffff", "#ffffff", 1.0), ("#767676", "#ffffff", 4.54), ("#1f5fa8", "#ffffff", 6.44),
])
def test_contrast_is_the_wcag_ratio(a: str, b: str, ratio: float) -> None:
    assert round(contrast(a, b), 2) == ratio == round(contrast(b, a), 2)
