"""Broken configs, each turned into the exact `FILE:LINE:COL: key.path: message` an admin reads."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from intracast.config import ConfigError, load_config

HEAD = """\
intranet:
  name: Plek
  url: https://intranet.example.org
"""

# (id, yaml after HEAD or whole file when it starts with "!", expected "LINE:COL: path: message-start")
CASES = [
    ("wrong-type", """
digests:
  - name: daily
    max_items: many
""", "7:16: digests[daily].max_items: Input should be a valid integer"),
    ("unknown-key", """
server:
  colour: red
""", "6:3: server.colour: unknown key 'colour'"),
    ("near-miss-key", """
digests:
  - name: daily
    shedule: "30 8 * * 1-5"
""", "7:5: digests[daily].shedule: unknown key 'shedule'; did you mean 'schedule'?"),
    ("near-miss-section", """
digest:
  - name: daily
""", "5:1: digest: unknown key 'digest'; did you mean 'digests'?"),
    ("missing-required", """!
intranet:
  name: Plek
""", "2:3: intranet.url: missing required key 'url'"),
    ("missing-section", """!
server:
  listen: 127.0.0.1:8080
""", "1:1: intranet: missing required key 'intranet'"),
    ("bad-cron", """
digests:
  - name: daily
    schedule: "30 25 * * *"
""", "7:15: digests[daily].schedule: invalid cron expression '30 25 * * *'"),
    ("cron-wrong-field-count", """
digests:
  - name: weekly
    schedule: "30 8 * *"
""", "7:15: digests[weekly].schedule: invalid cron expression '30 8 * *'"),
    ("bad-timezone", """
recipients:
  list:
    - {email: an@example.org, timezone: Europe/Amsterdm}
""", "7:41: recipients.list[0].timezone: unknown time zone 'Europe/Amsterdm'; use an IANA name such as Europe/Amsterdam"),
    ("bad-duration", """
sources:
  - name: demo
    type: demo
    every: 5x
""", "8:12: sources[demo].every: invalid duration '5x'"),
    ("zero-duration", """
sources:
  - {name: demo, type: demo, every: 0m}
""", "6:37: sources[demo].every: duration '0m' is zero"),
    ("missing-env", """
screens:
  - id: canteen
    name: Canteen
    token: ${SCREEN_TOKEN}
    playlist: main
playlists:
  - {name: main, blocks: [{type: clock}]}
""", "8:12: screens[canteen].token: environment variable SCREEN_TOKEN is not set"),
    ("tab-indentation", "!intranet:\n\tname: Plek\n", "2:1: (yaml): a tab character; YAML is indented with spaces only"),
    ("bad-indentation", """!
intranet:
  name: Plek
   url: https://intranet.example.org
""", "3:7: (yaml): mapping values are not allowed here; check the indentation"),
    ("unclosed-flow", """!
intranet: {name: Plek, url: "https://intranet.example.org"
""", "2:1: (yaml): expected ',' or '}', but got '<stream end>' (while parsing a flow mapping)"),
    ("duplicate-key", """
digests:
  - name: daily
    max_items: 5
    max_items: 6
""", "8:5: digests[daily].max_items: duplicate key 'max_items' (first at line 7)"),
    ("unknown-source-ref", """
sources:
  - {name: news, type: demo}
digests:
  - {name: daily, sources: [nws]}
""", "8:29: digests[daily].sources[0]: unknown source 'nws'; did you mean 'news'?"),
    ("playlist-source-ref", """
playlists:
  - name: main
    blocks:
      - {sources: [news]}
""", "8:20: playlists[main].blocks[0].sources[0]: unknown source 'news' (no sources are defined)"),
    ("duplicate-screen-id", """
screens:
  - {id: hall, name: Hall, token: "${T:-abcdefghij}", playlist: main}
  - {id: hall, name: Hall 2, token: "${T:-abcdefghij}", playlist: main}
playlists:
  - {name: main, blocks: [{type: clock}]}
""", "7:10: screens[hall].id: duplicate screen id 'hall' (first at line 6)"),
    ("duplicate-source-name", """
sources:
  - {name: news, type: demo}
  - {name: news, type: demo}
""", "7:12: sources[news].name: duplicate source name 'news' (first at line 6)"),
    ("unknown-playlist-ref", """
screens:
  - {id: hall, name: Hall, token: "${T:-abcdefghij}", playlist: mian}
playlists:
  - {name: main, blocks: [{type: clock}]}
""", "6:65: screens[hall].playlist: unknown playlist 'mian'; did you mean 'main'?"),
    ("unknown-block-type", """
playlists:
  - name: main
    blocks:
      - {type: clok}
""", "8:16: playlists[main].blocks[0].type: unknown type 'clok'; did you mean 'clock'? (known: items, clock, announcement, image, agenda, webpage)"),
    ("unknown-source-type", """
sources:
  - {name: news, type: rsss}
""", "6:24: sources[news].type: "),
    ("missing-source-type", """
sources:
  - {name: news}
""", "6:5: sources[news].type: missing required key 'type'"),
    ("bad-email", """
recipients:
  list:
    - {email: anna.example.org}
""", "7:15: recipients.list[0].email: value is not a valid email address: An email address must have an @-sign."),
    ("bad-listen", """
server: {listen: localhost}
""", "5:18: server.listen: expected HOST:PORT such as 127.0.0.1:8080, got 'localhost'"),
    ("bad-url", """!
intranet:
  name: Plek
  url: intranet
""", "3:8: intranet.url: Input should be a valid URL"),
    ("section-shape", """
sources: {name: news}
""", "5:10: sources: expected a list (- entry), got a mapping"),
    ("top-level-list", "!- intranet\n", "1:1: (top): expected a mapping of keys (key: value), got a list"),
    ("empty-file", "!", "1:1: (top): the file is empty"),
    ("subject-unknown-name", """
digests:
  - name: daily
    subject: "{{ cnt }} new on {{ intranet }}"
""", "7:14: digests[daily].subject: unknown name 'cnt' in the template; use count, digest, intranet, recipient"),
    ("subject-syntax", """
digests:
  - name: daily
    subject: "{{ count "
""", "7:14: digests[daily].subject: template error on its line 1: unexpected end of template"),
    ("digests-without-a-secret", """
server: {listen: "127.0.0.1:8080"}
digests:
  - name: daily
""", "6:1: digests: digests sign their unsubscribe and preference links: set server.secret"),
    ("admin-without-a-secret", """
server: {listen: "127.0.0.1:8080"}
admin:
  password_hash: "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA=="
""", "6:1: admin: the admin pages sign their session cookies: set server.secret"),
    ("admin-password-not-hashed", """
server: {secret: "${TEST_SECRET:-a-test-secret-of-enough-length}"}
admin: {password_hash: hunter2}
""", "6:24: admin.password_hash: not a password hash (expected scrypt$N$r$p$salt$hash); "
     "make one with `intracast admin hash-password`"),
    ("bad-locale", """
recipients:
  list:
    - {email: an@example.org, locale: de}
""", "7:39: recipients.list[0].locale: Input should be 'nl' or 'en' (got 'de')"),
]


def with_secret(text: str) -> str:
    """Digests need server.secret; appended last, it moves no line of the case above it."""
    if "digests:" in text and "server:" not in text:
        return text + 'server: {secret: "${TEST_SECRET:-a-test-secret-of-enough-length}"}\n'
    return text


def problems_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "intracast.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env or {})
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_config_names_line_column_and_key(tmp_path: Path, text: str, expected: str) -> None:
    source = with_secret(text[1:].lstrip("\n") if text.startswith("!") else HEAD + text)
    problems = problems_of(tmp_path, source)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    text = HEAD + textwrap.dedent("""
        sources:
          - {name: demo, type: demo, every: soon}
        digests:
          - name: daily
            shedule: "30 8 * * 1-5"
            sources: [dmeo]
        server: {listen: nowhere, secret: "${TEST_SECRET:-a-test-secret-of-enough-length}"}
    """)
    problems = problems_of(tmp_path, text)
    assert [p.split(": ")[0] for p in problems] == ["6:37", "9:5", "10:15", "11:18"]


def test_env_values_and_defaults_are_substituted(tmp_path: Path) -> None:
    path = tmp_path / "intracast.yaml"
    path.write_text(HEAD + textwrap.dedent("""
        server: {listen: "${LISTEN:-127.0.0.1:9000}"}
        screens:
          - {id: hall, name: "$${literal}", token: "${HALL_TOKEN}", playlist: main}
        playlists:
          - {name: main, blocks: [{type: clock}]}
    """))
    config = load_config(path, env={"HALL_TOKEN": "s3cret-token"}).config
    assert config.server.listen == "127.0.0.1:9000"
    assert config.screens[0].token == "s3cret-token"
    assert config.screens[0].name == "${literal}"


def test_literal_secret_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "intracast.yaml"
    path.write_text(HEAD + "smtp: {host: smtp.example.org, password: hunter2}\n")
    loaded = load_config(path, env={})
    assert [str(w).removeprefix(f"{path}:") for w in loaded.warnings] == [
        "4:42: smtp.password: warning: a literal secret; put it in the environment and write ${SMTP_PASSWORD}"
    ]


def test_unreadable_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.yaml", env={})
    assert str(caught.value).endswith("missing.yaml:1:1: (file): cannot read the config: No such file or directory")
