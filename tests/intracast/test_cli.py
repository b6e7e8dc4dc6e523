"""The CLI contract from DESIGN.md, exercised as a user runs it: as a process."""

from __future__ import annotations

import pytest

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SHIPPED_CONFIG

COMMANDS = ["run", "check", "fetch", "schema", "migrate", "digest preview", "digest send", "digest why"]


def intracast(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intracast", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env={**os.environ, **(env or {})},
    )


def test_check_passes_the_shipped_config_with_a_one_line_summary() -> None:
    result = intracast("-c", str(SHIPPED_CONFIG), "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"{SHIPPED_CONFIG}: OK (1 source, 1 digest, 2 recipients, 1 screen, 1 playlist)\n"


def test_check_finds_the_config_through_the_environment_then_the_default(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("intranet: {name: Plek}\n")
    result = intracast("check", env={"INTRACAST_CONFIG": str(bad)})
    assert (result.returncode, result.stdout) == (1, f"{bad}:1:11: intranet.url: missing required key 'url'\n")
    result = intracast("check", env={"INTRACAST_CONFIG": ""}, cwd=REPO)
    assert result.stdout.startswith("config/intracast.yaml: OK")


RECIPIENTS_CONFIG = """\
intranet: {name: Plek, url: "https://intranet.example.org"}
recipients:
  file: people.csv
  list: [{email: anna@example.org, name: Anna}]
"""


def write_recipients(tmp_path: Path, rows: str) -> Path:
    config = tmp_path / "config" / "intracast.yaml"
    config.parent.mkdir()
    config.write_text(RECIPIENTS_CONFIG)
    (config.parent / "people.csv").write_text("email;name;locale;timezone\n" + rows)
    return config


def test_check_names_every_bad_row_of_the_recipients_csv_and_exits_1(tmp_path: Path) -> None:
    write_recipients(tmp_path, (
        "anna@example.org;Anna de Wit;;\n"
        "bo@;Bo;;\n"
        "cees@example.org;Cees;fr;\n"
        "dewi@example.org;Dewi;;Europe/Amsterdm\n"
        "eva@example.org;Eva;;\n"
        "EVA@example.org;;en;\n"
    ))
    result = intracast("-c", "config/intracast.yaml", "check", cwd=tmp_path)
    merged = "merged into one recipient; the {} values win and groups add up"
    in_list, again = merged.format("list's"), merged.format("first mention's")
    assert (result.returncode, result.stdout.splitlines()) == (1, [
        f"config/people.csv:2: email: warning: also in the config's recipients.list: {in_list}",
        "config/people.csv:3: email: not a valid address: There must be something after the @-sign.",
        "config/people.csv:4: locale: 'fr' is not one of nl, en",
        "config/people.csv:5: timezone: unknown time zone 'Europe/Amsterdm'; use an IANA name such as Europe/Amsterdam",
        f"config/people.csv:7: email: warning: listed again (first on line 6): {again}",
    ]), result.stderr


def test_check_passes_a_recipients_csv_with_only_warnings_and_counts_them(tmp_path: Path) -> None:
    config = write_recipients(tmp_path, "bo@example.org;Bo;;\nbo@example.org;Bo;en;\nanna@example.org;;;\n")
    result = intracast("-c", str(config), "check")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == (
        f"{config}: OK (0 sources, 0 digests, 2 recipients (1 from people.csv), 0 screens, 0 playlists; "
        "2 warning(s))")


def test_schema_is_current_in_config_schema_json() -> None:
    result = intracast("schema")
    assert result.returncode == 0
    shipped = json.loads((REPO / "config" / "schema.json").read_text())
    assert json.loads(result.stdout) == shipped, "run `make schema` and commit config/schema.json"
    assert set(shipped["properties"]) == {
        "intranet", "server", "storage", "smtp", "sources", "recipients", "digests", "screens", "playlists", "media",
        "admin",
    }


def test_fetch_json_prints_one_item_per_line_and_stores_nothing(demo_config: Path) -> None:
    result = intracast("-c", str(demo_config), "fetch", "--json")
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(items) == 6
    assert set(items[0]) == {
        "source", "guid", "title", "link", "summary", "content_html", "published", "updated",
        "author", "image", "tags", "audience", "pinned", "takeover", "expires", "start", "end", "location", "undated",
    }
    assert result.stderr == "demo: 6 items\n"
    assert not (demo_config.parent.parent / "var" / "intracast.db").exists()


def test_fetch_store_stores_and_counts_new_and_updated(demo_config: Path) -> None:
    first = intracast("-c", str(demo_config), "fetch", "--store")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0].split() == ["SOURCE", "PUBLISHED", "TITLE", "LINK"]
    assert len(first.stdout.splitlines()) == 7
    assert "demo: 6 items, 6 new, 0 updated" in first.stderr.splitlines()
    with sqlite3.connect(demo_config.parent.parent / "var" / "intracast.db") as db:
        assert db.execute("select count(*) from items").fetchone() == (6,)
    again = intracast("-c", str(demo_config), "fetch", "--store")
    assert "demo: 6 items, 0 new, 0 updated" in again.stderr.splitlines()


def test_fetch_refuses_an_unknown_source(demo_config: Path) -> None:
    result = intracast("-c", str(demo_config), "fetch", "nope")
    assert result.returncode == 2
    assert "unknown source(s) nope; known: demo" in result.stderr


def test_migrate_creates_the_database_and_refuses_one_from_the_future(demo_config: Path) -> None:
    result = intracast("-c", str(demo_config), "migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("database is at schema revision ")
    with sqlite3.connect(demo_config.parent.parent / "var" / "intracast.db") as db:
        db.execute("update alembic_version set version_num = 'f00dcafe9999'")
    result = intracast("-c", str(demo_config), "migrate")
    assert result.returncode == 1
    assert "f00dcafe9999" in result.stderr and "newer" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_has_help() -> None:
    for command in COMMANDS:
        result = intracast(*command.split(), "--help")
        assert result.returncode == 0 and result.stdout.startswith("Usage: "), command


def test_readme_documents_every_command_and_source_type() -> None:
    from sources import registry

    readme = (REPO / "README.md").read_text()
    for command in COMMANDS:
        assert f"intracast {command}" in readme, command
    for source_type in registry.types():
        assert f"type: {source_type}" in readme, source_type


def test_every_example_config_passes_check() -> None:
    examples = sorted((REPO / "config" / "examples").glob("*.yaml"))
    assert examples
    for example in examples:
        result = intracast("-c", str(example), "check")
        assert result.returncode == 0, result.stdout


@pytest.mark.clock
def test_digest_preview_send_and_why_on_the_demo(demo_config: Path) -> None:
    config = ["-c", str(demo_config)]
    assert intracast(*config, "fetch", "--store").returncode == 0
    preview = intracast(*config, "digest", "preview", "daily", "--to", "bram@example.org", "--format", "text")
    assert preview.returncode == 0, preview.stderr
    assert "Hallo Bram" in preview.stdout and "https://intranet.example.org/" in preview.stdout
    eml = intracast(*config, "digest", "preview", "daily", "--to", "anna@example.org", "--format", "eml")
    assert "Subject: " in eml.stdout and "List-Unsubscribe: " in eml.stdout
    outbox = demo_config.parent.parent / "var" / "outbox"
    assert not outbox.exists(), "a preview sends nothing"

    sent = intracast(*config, "digest", "send", "daily")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.splitlines() == ["daily: 2 queued", "outbox: 2 sent, 0 deferred, 0 failed"]
    assert len(list((outbox / "new").iterdir())) == 2
    again = intracast(*config, "digest", "send", "daily")
    assert again.stdout.splitlines()[0] == "daily: 2 empty", "what was sent is not sent again"

    why = intracast(*config, "digest", "why", "bram@example.org")
    lines = why.stdout.splitlines()
    assert "empty" in lines[0] and "queued: " in lines[1]
    assert lines[2].startswith("message <") and " sent " in lines[2]


def test_digest_commands_name_what_is_unknown(demo_config: Path) -> None:
    result = intracast("-c", str(demo_config), "digest", "send", "weekly")
    assert result.returncode == 2 and "no digest 'weekly'; known: daily" in result.stderr
    result = intracast("-c", str(demo_config), "digest", "preview", "daily", "--to", "nobody@example.org")
    assert result.returncode == 2 and "no recipient nobody@example.org" in result.stderr
