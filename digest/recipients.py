"""Recipients: the config's `recipients.list` and the rows of `recipients.file`, merged.

The CSV is what an HR or communication team exports from a spreadsheet:

- UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one);
- `;` or `,` between fields, whichever the header row uses more of (Dutch
  Excel writes `;`);
- a header row naming its columns, in any order, case and spacing ignored:
  `email` (required), `name`, `locale` (nl or en), `timezone` (IANA name),
  `groups`, `frequency` (daily, weekly or off), `id` (the employee's id on
  the intranet);
- `groups` separated by `|`, so that a group name may hold spaces
  (`Team Noord|zorg`);
- an empty locale or timezone takes the intranet's, an empty frequency `daily`.

A bad row is an error, reported with its line in the file (the header is
line 1, and a quoted field spanning lines counts every line) and skipped; the
other rows load. An address listed twice, in any case, is one recipient: the
first mention's fields win, later ones fill in what it left empty, groups add
up. The config's list comes first. A repeated address in the file, or one the
config's list has too, is a warning, as is a column that is ignored: the rows
load, but an admin should look. Nothing here logs: problems name addresses,
and they go to the admin, not to the logs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, TypeVar, get_args
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email

from digest.config import Frequency, Locale, RecipientConfig, RecipientsConfig
from sources.fields import parse_timezone

COLUMNS = ("email", "name", "locale", "timezone", "groups", "frequency", "id")
LOCALES: tuple[Locale, ...] = get_args(Locale)
FREQUENCIES: tuple[Frequency, ...] = get_args(Frequency)
_Choice = TypeVar("_Choice", bound=str)


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str  # as written, domain lowercased (email_validator's normal form); compare `key`
    name: str
    locale: Locale
    timezone: ZoneInfo
    groups: tuple[str, ...]
    frequency: Frequency
    id: str | None  # the employee's id on the intranet, for per-recipient sources

    @property
    def key(self) -> str:
        return self.email.lower()


@dataclass(frozen=True, slots=True)
class RecipientProblem:
    """Printed as `FILE:LINE: column: message`, as config problems are (a CSV has no useful column number)."""

    file: str
    line: int  # 0: the file as a whole
    column: str | None
    message: str
    severity: Literal["error", "warning"] = "error"  # error: the row (or the file) was not loaded

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f"warning: {self.message}" if self.severity == "warning" else self.message
        return f"{where}: {self.column}: {what}" if self.column else f"{where}: {what}"


@dataclass(frozen=True, slots=True)
class _Draft:
    """A recipient before defaults, so that a later mention can fill what an earlier one left empty."""

    email: str
    name: str = ""
    locale: Locale | None = None
    timezone: ZoneInfo | None = None
    groups: tuple[str, ...] = ()
    frequency: Frequency | None = None
    id: str | None = None
    line: int = 0  # in the file; 0: from the config's list

    def fill(self, later: _Draft) -> _Draft:
        return replace(
            self,
            name=self.name or later.name,
            locale=self.locale or later.locale,
            timezone=self.timezone or later.timezone,
            groups=self.groups + tuple(g for g in later.groups if g not in self.groups),
            frequency=self.frequency or later.frequency,
            id=self.id or later.id,
        )


def load_recipients(
    config: RecipientsConfig, *, default_locale: Locale, default_timezone: ZoneInfo, base_dir: Path,
    file_name: str | None = None,
) -> tuple[list[Recipient], list[RecipientProblem]]:
    """Every recipient, in order of first mention, and every problem with the file, in line order.

    `file_name`: how problems name the file (default: as the config writes it).
    """
    drafts = [_from_config(entry) for entry in config.list]
    problems: list[RecipientProblem] = []
    shown = file_name or str(config.file)
    if config.file is not None:
        rows, problems = _read_file(base_dir / config.file, shown)
        drafts += rows
    merged: dict[str, _Draft] = {}
    in_file: dict[str, int] = {}  # the line of each address's first row
    for draft in drafts:
        key = draft.email.lower()
        if draft.line and key in merged:
            problems.append(_repeated(in_file.get(key, 0), draft.line, shown))
        if draft.line:
            in_file.setdefault(key, draft.line)
        merged[key] = merged[key].fill(draft) if key in merged else draft
    problems.sort(key=lambda problem: problem.line)  # stable: a line's problems keep their column order
    recipients = [
        Recipient(
            email=d.email, name=d.name, locale=d.locale or default_locale, timezone=d.timezone or default_timezone,
            groups=d.groups, frequency=d.frequency or "daily", id=d.id,
        )
        for d in merged.values()
    ]
    return recipients, problems


def _repeated(first: int, again: int, shown: str) -> RecipientProblem:
    """A warning on line `again` of the file; `first`: the address's first line in it (0: only in the list)."""
    if first:
        where, winner = f"listed again (first on line {first})", "the first mention's"
    else:
        where, winner = "also in the config's recipients.list", "the list's"
    message = f"{where}: merged into one recipient; {winner} values win and groups add up"
    return RecipientProblem(shown, again, "email", message, "warning")


def _from_config(entry: RecipientConfig) -> _Draft:
    # The model defaults frequency to daily; only one written out may win over a later mention.
    frequency = entry.frequency if "frequency" in entry.model_fields_set else None
    return _Draft(entry.email, entry.name, entry.locale, entry.timezone, tuple(entry.groups), frequency, entry.id)


def _read_file(path: Path, shown: str) -> tuple[list[_Draft], list[RecipientProblem]]:
    try:
        data = path.read_bytes()
    except OSError as e:
        return [], [RecipientProblem(shown, 0, None, f"cannot read: {e.strerror or e}")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        return [], [RecipientProblem(shown, line, None, "not UTF-8; save it as CSV UTF-8")]
    return _parse_csv(text, shown)


def _parse_csv(text: str, shown: str) -> tuple[list[_Draft], list[RecipientProblem]]:
    header_line = text.partition("\n")[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    records = _records(text, delimiter)
    first = next(records, None)
    if first is None:
        return [], [RecipientProblem(shown, 1, None, f"no header row; start with one such as {';'.join(COLUMNS)}")]
    _, header, error = first
    if error:
        return [], [RecipientProblem(shown, 1, None, f"header row: {error}")]
    columns, problems = _read_header(header, shown)
    if "email" not in columns:
        return [], [*problems, RecipientProblem(shown, 1, None, "no email column; the header row must name one")]
    drafts = []
    for line, row, error in records:
        if error:
            problems.append(RecipientProblem(shown, line, None, f"cannot read this row: {error}"))
        elif len(row) > len(header):
            message = f"{len(row)} fields, but the header names {len(header)} columns"
            problems.append(RecipientProblem(shown, line, None, f"{message}; quote a value holding '{delimiter}'"))
        elif any(value.strip() for value in row):
            draft, row_problems = _read_row(dict(zip(columns, row)), line, shown)
            problems += row_problems
            drafts += [draft] if draft else []
    return drafts, problems


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str], str | None]]:
    """(first physical line, fields, error) per record; a record may span lines inside quotes."""
    # strict: a stray quote is a problem on its row, not a silently mangled field
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield line, [], str(e)
        else:
            yield line, row, None
        line = reader.line_num + 1


def _read_header(header: list[str], shown: str) -> tuple[list[str | None], list[RecipientProblem]]:
    """The column each field belongs to (None: ignored), and what is wrong with the header."""
    columns: list[str | None] = []
    problems = []
    for position, raw in enumerate(header, start=1):
        name = raw.strip().lower()
        if name in COLUMNS and name not in columns:
            columns.append(name)
            continue
        columns.append(None)
        if not name:
            message = f"column {position} has no name; its values are ignored"
        elif name in COLUMNS:
            message = "appears twice; the second is ignored"
        else:
            message = f"unknown column, ignored; known: {', '.join(COLUMNS)}"
        # the rows still load, without this column's values
        problems.append(RecipientProblem(shown, 1, name or None, message, "warning"))
    return columns, problems


def _read_row(
    values: dict[str | None, str], line: int, shown: str,
) -> tuple[_Draft | None, list[RecipientProblem]]:
    fields = {column: values.get(column, "").strip() for column in COLUMNS}
    problems = []

    def problem(column: str, message: str) -> None:
        problems.append(RecipientProblem(shown, line, column, message))

    email = fields["email"]
    try:
        # normalised as pydantic's EmailStr does the config's list (domain lowercased), so both read alike
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as e:
        problem("email", f"not a valid address: {e}" if email else "missing")  # no address in logs
    locale = _pick(fields["locale"].lower(), LOCALES)
    if fields["locale"] and locale is None:
        problem("locale", f"{fields['locale']!r} is not one of {', '.join(LOCALES)}")
    timezone = None
    if fields["timezone"]:
        try:
            timezone = parse_timezone(fields["timezone"])
        except ValueError as e:
            problem("timezone", str(e))
    frequency = _pick(fields["frequency"].lower(), FREQUENCIES)
    if fields["frequency"] and frequency is None:
        problem("frequency", f"{fields['frequency']!r} is not one of {', '.join(FREQUENCIES)}")
    if problems:
        return None, problems
    return _Draft(
        email=email,
        name=" ".join(fields["name"].split()),  # a line break in a name would break the To: header
        locale=locale,
        timezone=timezone,
        groups=tuple(dict.fromkeys(g.strip() for g in fields["groups"].split("|") if g.strip())),
        frequency=frequency,
        id=fields["id"] or None,
        line=line,
    ), []


def _pick(value: str, choices: tuple[_Choice, ...]) -> _Choice | None:
    return next((choice for choice in choices if choice == value), None)
