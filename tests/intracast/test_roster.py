"""The recipients in force (intracast/roster.py), as the digest pipeline holds them: loaded once per config,
problems logged once, written to a real store at each load, a CSV broken mid-run losing no one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.store import Outcome
from intracast.config import LoadedConfig, load_config
from intracast.digests import Digests
from intracast.runtime import Runtime, open_runtime

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Amsterdam
HEADER = "email;name;timezone;groups\n"


class Setting:
    """The config (with `list`) and its CSV `people.csv` (with `rows`), written to a folder."""

    def __init__(self, folder: Path) -> None:
        self.config, self.csv = folder / "intracast.yaml", folder / "people.csv"

    def write(self, rows: str, *, listed: str = "[{email: anna@example.org, name: Anna}]") -> LoadedConfig:
        self.config.write_text(f"""\
intranet: {{name: Plek, url: "https://intranet.example.org", locale: nl, timezone: Europe/Amsterdam}}
server: {{secret: a-test-secret-of-enough-length}}
storage: {{url: "sqlite:///var/test.db", maildir: var/outbox}}
sources: [{{name: news, type: static, items: [{{title: placeholder}}]}}]
digests: [{{name: daily, schedule: "30 8 * * 1-5", sources: [news]}}]
recipients: {{file: people.csv, list: {listed}}}
""")
        self.csv.write_text(HEADER + rows)
        return load_config(self.config, env={})


@pytest.fixture
def setting(tmp_path: Path) -> Setting:
    return Setting(tmp_path)


@pytest.fixture
async def runtime(setting: Setting) -> AsyncIterator[Runtime]:
    async with open_runtime(setting.write("")) as runtime:
        yield runtime


def people(digests: Digests) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    return {r.key: (r.name, r.timezone.key, r.groups) for r in digests.recipients()}


async def stored(runtime: Runtime) -> dict[str, tuple[str | None, str | None]]:
    return {row.email: (row.name, row.origin) for row in await runtime.store.list_recipients()}


async def test_recipients_load_once_per_config_and_log_each_problem_once_without_addresses(
    setting: Setting, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = setting.write("bram@example.org;Bram;;zorg\nbo@;Bo;;\ncees@example.org;Cees;Mars/Olympus;\n")
    with caplog.at_level(logging.INFO, logger="intracast"):
        digests = Digests(loaded, runtime.store, runtime.ingestor, clock=lambda: NOW)
        setting.csv.write_text(HEADER)  # read already: a change waits for the reload that the change causes
        for _ in range(3):
            assert list(people(digests)) == ["anna@example.org", "bram@example.org"], "the good rows load"
            assert digests.recipient("BRAM@example.org") is not None
            digests.next_due("daily", NOW)
    problems = [r.getMessage() for r in caplog.records if r.getMessage().startswith("recipients.problem")]
    assert problems == [
        f"recipients.problem {setting.csv}:3: email: missing or not a valid address (see /admin or intracast check)",
        f"recipients.problem {setting.csv}:4: timezone: unknown time zone 'Mars/Olympus'; "
        "use an IANA name such as Europe/Amsterdam",
    ]
    assert "bo@" not in caplog.text
    assert [str(p) for p in digests.roster.errors] == [
        f"{setting.csv}:3: email: not a valid address: There must be something after the @-sign.",
        f"{setting.csv}:4: timezone: unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Amsterdam",
    ], "the admin sees the whole problem"


async def test_each_load_writes_added_changed_and_removed_recipients_and_keeps_their_unsubscribe(
    setting: Setting, runtime: Runtime
) -> None:
    digests = Digests(setting.write("bram@example.org;Bram;;zorg\ncees@example.org;Cees;;\n"), runtime.store,
                      runtime.ingestor, clock=lambda: NOW)
    await digests.save_recipients()
    assert await stored(runtime) == {"anna@example.org": ("Anna", "config"), "bram@example.org": ("Bram", "csv"),
                                     "cees@example.org": ("Cees", "csv")}
    await runtime.store.unsubscribe("cees@example.org", NOW - timedelta(days=1))

    await digests.reconfigure(setting.write("bram@example.org;Bram de Vries;;ict\ndewi@example.org;Dewi;;\n",
                                            listed="[{email: anna@example.org, name: Anna Jansen}]"))
    assert await stored(runtime) == {"anna@example.org": ("Anna Jansen", "config"),
                                     "bram@example.org": ("Bram de Vries", "csv"), "dewi@example.org": ("Dewi", "csv")}
    [bram] = await runtime.store.find_recipients("ict", 10)
    assert bram.email == "bram@example.org"
    assert await runtime.store.find_recipients("cees", 10) == [], "no longer a recipient: not listed"

    await digests.reconfigure(setting.write("cees@example.org;Cees;;\n"))
    [cees] = await runtime.store.find_recipients("cees", 10)
    assert cees.unsubscribed_at == NOW - timedelta(days=1), "back in the file, still unsubscribed"
    stats = await digests.run("daily", NOW, only="cees@example.org", manual=True, dry_run=True)
    assert stats.outcomes == {Outcome.UNSUBSCRIBED: 1}


async def test_a_csv_broken_while_running_applies_its_good_rows_and_drops_no_one(
    setting: Setting, runtime: Runtime
) -> None:
    digests = Digests(setting.write("bram@example.org;Bram;Europe/London;\ncees@example.org;Cees;;\n"
                                    "dewi@example.org;Dewi;;\n"), runtime.store, runtime.ingestor, clock=lambda: NOW)
    # Bram's zone gets a typo, Cees leaves, Dewi is renamed, Eva joins
    await digests.reconfigure(setting.write("bram@example.org;Bram;Europe/Londen;\n"
                                            "dewi@example.org;Dewi Pratama;;\neva@example.org;Eva;;\n"))
    assert people(digests) == {
        "anna@example.org": ("Anna", "Europe/Amsterdam", ()),
        "dewi@example.org": ("Dewi Pratama", "Europe/Amsterdam", ()),
        "eva@example.org": ("Eva", "Europe/Amsterdam", ()),
        "bram@example.org": ("Bram", "Europe/London", ()),  # as before the typo
        "cees@example.org": ("Cees", "Europe/Amsterdam", ()),  # leaves once the file is right
    }
    assert digests.roster.kept == 2 and len(digests.roster.errors) == 1
    assert set(await stored(runtime)) == set(people(digests)), "the Recipients page shows the same"

    setting.config.write_text(setting.config.read_text().replace("name: Anna", "name: Anna Jansen"))
    setting.csv.write_bytes("email;name\nbram@example.org;Br\xe2m\n".encode("cp1252"))  # saved in the wrong encoding
    await digests.reconfigure(load_config(setting.config, env={}))
    assert people(digests)["anna@example.org"][0] == "Anna Jansen", "the config's list applies"
    assert set(people(digests)) == {"anna@example.org", "bram@example.org", "cees@example.org",
                                    "dewi@example.org", "eva@example.org"}, "everyone from the file stays"

    await digests.reconfigure(setting.write("bram@example.org;Bram;Europe/Dublin;\neva@example.org;Eva;;\n"))
    assert people(digests) == {"anna@example.org": ("Anna", "Europe/Amsterdam", ()),
                               "bram@example.org": ("Bram", "Europe/Dublin", ()),
                               "eva@example.org": ("Eva", "Europe/Amsterdam", ())}, "fixed: the file as it is"
    assert digests.roster.kept == 0 and digests.roster.problems == ()
    assert set(await stored(runtime)) == set(people(digests))
