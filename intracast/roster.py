"""The recipients in force: the config's `recipients.list` and its CSV, loaded once per config generation.

They are loaded when the daemon starts and at each reload, never per digest
run or page view (issue 14: every use read the CSV again and logged its
problems again). Each problem is logged once per load, without what it
quotes of an address (the whole problem goes to the admin: /admin's
overview and `intracast check`), and kept for the overview.

A CSV that breaks while the daemon runs (issue 14): its good rows still
apply, so people added or changed in it are in at once, but nobody the last
load had from the file is dropped while the file has errors. A bad row may be
that person's own (a typo in their time zone must not stop their digest), and
a file caught half-saved, or saved in another encoding, would look as if
everyone had left. Once the errors are fixed the file applies as it is,
removals included. At start-up there is no last load: the good rows are it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

from digest.recipients import Recipient, RecipientProblem, load_recipients
from intracast.config import LoadedConfig
from intracast.store import RecipientRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Roster:
    people: tuple[Recipient, ...] = ()  # in order of first mention, the config's list first
    problems: tuple[RecipientProblem, ...] = ()
    listed: frozenset[str] = frozenset()  # keys of the config's list; everyone else came from the file
    kept: int = 0  # people of the last load kept while the file has errors

    def find(self, email: str) -> Recipient | None:
        """The recipient with this address, in any case."""
        return self._by_key.get(email.strip().lower())

    @property
    def errors(self) -> list[RecipientProblem]:
        return [problem for problem in self.problems if problem.severity == "error"]

    def rows(self) -> list[RecipientRow]:
        """As the store keeps them, each with where it came from."""
        return [RecipientRow(email=r.key, name=r.name or None, locale=r.locale, timezone=r.timezone.key,
                             groups=r.groups, frequency=r.frequency,
                             origin="config" if r.key in self.listed else "csv") for r in self.people]

    @cached_property
    def _by_key(self) -> dict[str, Recipient]:
        return {r.key: r for r in self.people}


def read_roster(loaded: LoadedConfig) -> Roster:
    """The recipients as the config and its file say now, problems included; logs nothing."""
    config = loaded.config
    file_name = str(loaded.path.parent / config.recipients.file) if config.recipients.file else None
    people, problems = load_recipients(
        config.recipients, default_locale=config.intranet.locale, default_timezone=config.intranet.timezone,
        base_dir=loaded.base_dir, file_name=file_name,  # named as the config's path is: `check` prints it
    )
    listed = frozenset(entry.email.lower() for entry in config.recipients.list)
    return Roster(tuple(people), tuple(problems), listed)


def load_roster(loaded: LoadedConfig, last: Roster | None = None) -> Roster:
    """`read_roster`, keeping the file's people of the `last` load while the file has errors;
    logs each problem once."""
    roster = read_roster(loaded)
    if last is not None and roster.errors:
        have = {r.key for r in roster.people}
        kept = tuple(r for r in last.people if r.key not in last.listed and r.key not in have)
        roster = Roster(roster.people + kept, roster.problems, roster.listed, len(kept))
    for problem in roster.problems:
        level = logging.ERROR if problem.severity == "error" else logging.WARNING
        log.log(level, "recipients.problem %s", _loggable(problem))
    if roster.problems:
        log.warning("recipients.loaded recipients=%d errors=%d warnings=%d kept=%d", len(roster.people),
                    len(roster.errors), len(roster.problems) - len(roster.errors), roster.kept)
    else:
        log.info("recipients.loaded recipients=%d", len(roster.people))
    return roster


def _loggable(problem: RecipientProblem) -> RecipientProblem:
    """Without the message about an address: it may quote the address, which stays out of the logs."""
    if problem.column != "email" or problem.severity == "warning":  # a warning there names only lines
        return problem
    return RecipientProblem(problem.file, problem.line, problem.column,
                            "missing or not a valid address (see /admin or intracast check)", problem.severity)
