"""Recipients from the config and a spreadsheet's CSV: every bad row named by its line, the rest loaded."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import RecipientsConfig
from digest.recipients import Recipient, RecipientProblem, load_recipients

DATA = Path(__file__).resolve().parent.parent / "data" / "recipients"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def load(config: dict[str, object], base_dir: Path = DATA) -> tuple[list[Recipient], list[str]]:
    recipients, problems = load_recipients(
        RecipientsConfig.model_validate(config), default_locale="nl", default_timezone=AMSTERDAM, base_dir=base_dir,
    )
    return recipients, [str(p) for p in problems]


def test_an_excel_csv_with_bom_and_semicolons() -> None:
    recipients, problems = load({"file": "excel-nl.csv"})
    assert problems == []
    assert recipients == [
        Recipient("an.devries@example.org", "An de Vries", "nl", AMSTERDAM, ("zorg", "Team Noord"), "daily", "u1001"),
        Recipient("Bo.Jansen@example.org", "Jansen; Bo", "en", ZoneInfo("America/New_York"), ("ict",), "weekly",
                  "u1002"),
        Recipient("cees@example.org", "Cees Bakker", "nl", AMSTERDAM, (), "off", None),
        Recipient("dewi@example.org", "Dewi Pratama", "en", ZoneInfo("Asia/Jakarta"), ("zorg", "ict"), "daily",
                  "u1004"),
    ]
    assert recipients[1].key == "bo.jansen@example.org"


def test_a_csv_with_commas_and_only_some_columns() -> None:
    recipients, problems = load({"file": "comma.csv"})
    assert problems == []
    assert [(r.email, r.name, r.groups, r.locale, r.frequency) for r in recipients] == [
        ("els@example.org", "Els van den Berg, MSc", ("hr",), "nl", "daily"),
        ("frits@example.org", "Frits Ünal", (), "nl", "daily"),
    ]


def test_bad_rows_are_named_by_line_and_column_and_the_rest_load() -> None:
    recipients, problems = load({"file": "bad-rows.csv"})
    assert problems == [
        "bad-rows.csv:1: team: warning: unknown column, ignored; known: email, name, locale, timezone, groups, frequency, id",
        "bad-rows.csv:3: email: not a valid address: There must be something after the @-sign.",
        "bad-rows.csv:4: locale: 'de' is not one of nl, en",
        "bad-rows.csv:7: timezone: unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Amsterdam",
        "bad-rows.csv:9: frequency: 'monthly' is not one of daily, weekly, off",
        "bad-rows.csv:10: 8 fields, but the header names 7 columns; quote a value holding ';'",
        "bad-rows.csv:11: cannot read this row: ';' expected after '\"'",
        "bad-rows.csv:14: email: missing",
        "bad-rows.csv:15: locale: 'fr' is not one of nl, en",
        "bad-rows.csv:15: timezone: unknown time zone 'Nowhere/City'; use an IANA name such as Europe/Amsterdam",
    ]
    assert [(r.email, r.name) for r in recipients] == [
        ("gijs@example.org", "Gijs"), ("mo@example.org", "Mo Ali"), ("otto@example.org", "Otto")]


def test_duplicates_merge_across_list_and_csv_the_first_mention_winning_each_a_warning(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(
        "email;name;locale;timezone;groups;frequency;id\n"
        "AN.DEVRIES@example.org;Anna;en;Europe/London;ict|zorg;weekly;u1\n"
        "bo@example.org;Bo;;;ict;;\n"
        "an.devries@example.org;;;;hr;off;u9\n",
        encoding="utf-8",
    )
    config = {"file": "people.csv", "list": [
        {"email": "an.devries@example.org", "name": "An", "groups": ["zorg"]},
        {"email": "Bo@Example.org", "frequency": "daily"},
    ]}
    recipients, problems = load(config, tmp_path)
    in_list = "warning: also in the config's recipients.list: merged into one recipient; the list's values win"
    again = "warning: listed again (first on line 2): merged into one recipient; the first mention's values win"
    assert problems == [  # the rows load: these are warnings, and name lines, not addresses
        f"people.csv:2: email: {in_list} and groups add up",
        f"people.csv:3: email: {in_list} and groups add up",
        f"people.csv:4: email: {again} and groups add up",
    ]
    assert recipients == [
        # the list's name and groups win; the CSV fills locale, zone, frequency and id, and adds groups
        Recipient("an.devries@example.org", "An", "en", ZoneInfo("Europe/London"), ("zorg", "ict", "hr"), "weekly",
                  "u1"),
        # a frequency written in the config wins over the CSV's, even when it is the default
        Recipient("Bo@example.org", "Bo", "nl", AMSTERDAM, ("ict",), "daily", None),
    ]


def test_an_unknown_or_unnamed_column_is_a_problem_on_line_1_and_the_rows_still_load(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("email,Afdeling,name,,email\nan@example.org,HR,An,x,bo@example.org\n")
    recipients, problems = load({"file": "r.csv"}, tmp_path)
    assert problems == [
        "r.csv:1: afdeling: warning: unknown column, ignored; known: email, name, locale, timezone, groups, frequency, id",
        "r.csv:1: warning: column 4 has no name; its values are ignored",
        "r.csv:1: email: warning: appears twice; the second is ignored",
    ]
    assert [(r.email, r.name) for r in recipients] == [("an@example.org", "An")]


@pytest.mark.parametrize(("text", "problem"), [
    ("", "r.csv:1: no header row; start with one such as email;name;locale;timezone;groups;frequency;id"),
    ("naam;mail\nAn;an@example.org\n", "r.csv:1: no email column; the header row must name one"),
])
def test_a_csv_without_an_email_column_loads_nothing(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "r.csv").write_text(text)
    recipients, problems = load({"file": "r.csv"}, tmp_path)
    assert recipients == [] and problems[-1] == problem


def test_an_unreadable_file_is_one_problem_and_the_list_still_loads(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    for name, reason in [("missing.csv", "No such file or directory"), ("folder.csv", "Is a directory")]:
        recipients, problems = load({"file": name, "list": [{"email": "an@example.org"}]}, tmp_path)
        assert problems == [f"{name}: cannot read: {reason}"]
        assert [r.email for r in recipients] == ["an@example.org"]


def test_a_file_that_is_not_utf8_is_one_problem_naming_the_first_bad_line() -> None:
    recipients, problems = load({"file": "cp1252.csv", "list": [{"email": "an@example.org"}]})
    assert problems == ["cp1252.csv:3: not UTF-8; save it as CSV UTF-8"]
    assert [r.email for r in recipients] == ["an@example.org"]


def test_problems_print_file_line_column_message() -> None:
    assert str(RecipientProblem("recipients.csv", 7, "email", "'bo@' is not a valid address")) == (
        "recipients.csv:7: email: 'bo@' is not a valid address")
    assert str(RecipientProblem("recipients.csv", 0, None, "cannot read: Permission denied")) == (
        "recipients.csv: cannot read: Permission denied")
