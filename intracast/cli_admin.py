"""`intracast admin hash-password` and `intracast status`: the admin pages' side of the command line."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import click

from intracast import __version__
from intracast.admin.facts import Facts, gather
from intracast.admin.passwords import hash_password
from intracast.config import ConfigError, Problem, load_config
from intracast.config_in_force import InForce, in_force, storage_url


@click.group()
def admin() -> None:
    """Set up the admin pages (/admin)."""


@admin.command("hash-password")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin.")
def hash_password_command(from_stdin: bool) -> None:
    """Print a hash of a password, for admin.password_hash (set it as ${INTRACAST_ADMIN_PASSWORD_HASH})."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if not password:
        raise click.UsageError("the password is empty")
    click.echo(hash_password(password))


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Print the overview the admin pages show: config, sources, screens, today's messages.

    With a broken config file, the overview of the config a daemon runs on instead, and the file's problems."""
    from intracast.cli import _store_guard
    from intracast.store import open_store

    path: Path = ctx.obj.config
    try:
        loaded = load_config(path)
    except ConfigError as e:
        for line in _store_guard(lambda: broken_status(path, e.problems, ctx.obj.clock())):
            click.echo(line)
        sys.exit(1)
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)
    config = loaded.config

    async def facts() -> Facts:
        async with open_store(config.storage.url, loaded.base_dir, migrate=False) as store:
            return await gather(config, loaded.path, store, ctx.obj.clock(), problems=[])

    modified = datetime.fromtimestamp(loaded.path.stat().st_mtime, config.intranet.timezone)
    for line in status_lines(_store_guard(facts), modified, warnings=len(loaded.warnings)):
        click.echo(line)


async def broken_status(path: Path, problems: list[Problem], now: datetime) -> list[str]:
    """The status of a config file that does not load: the config in force in its stead, then its problems."""
    from intracast.store import open_store

    errors = sum(p.severity == "error" for p in problems)
    url = storage_url(path, path.read_text(encoding="utf-8-sig")) if path.is_file() else None
    found, facts = None, None
    if url is not None:
        async with open_store(url, path.resolve().parent, migrate=False) as store:
            found = await in_force(store, path)
            if found and found.loaded:
                facts = await gather(found.loaded.config, path, store, now, problems=[])
    zone = found.loaded.config.intranet.timezone if found and found.loaded else None
    lines = [f"version: intracast {__version__}",
             f"config: {path} ({_modified(path, zone)}{errors} problem(s), listed below; refused)",
             f"in force: {_in_force(found, url, zone)}",
             *(fact_lines(facts) if facts else [])]
    return lines + [f"problem: {p}" for p in [*map(str, problems), *(found.problems if found else [])]]


def _modified(path: Path, zone: tzinfo | None) -> str:
    """When the file changed, in the intranet's zone if known, else this machine's."""
    if not path.exists():
        return ""
    return f"modified {datetime.fromtimestamp(path.stat().st_mtime, UTC).astimezone(zone):%Y-%m-%d %H:%M}; "


def _in_force(found: InForce | None, url: str | None, zone: tzinfo | None) -> str:
    if url is None:
        return "unknown: the file's storage section does not say where the database is"
    if found is None:
        return "unknown: no daemon has recorded a config for this file in the database"
    at = found.record.loaded_at.astimezone(zone)
    which = f"the config a daemon loaded at {at:%Y-%m-%d %H:%M} ({found.record.instance})"
    if found.loaded is None:
        return f"{which}, which does not load here ({len(found.problems)} problem(s), listed below)"
    return which


def status_lines(facts: Facts, modified: datetime, *, warnings: int) -> list[str]:
    """One fact per line, in English; `modified`: when the config file last changed."""
    checked = f"valid, {warnings} warning(s) printed above" if warnings else "valid"
    return [
        f"version: intracast {facts.version}",
        f"config: {facts.config_path} (modified {modified:%Y-%m-%d %H:%M}; {checked})",
        *fact_lines(facts),
    ]


def fact_lines(facts: Facts) -> list[str]:
    """Sources, screens and today's messages, as `status` prints them."""
    sources = ", ".join(f"{n} {state}" for state, n in facts.sources.items())
    today = facts.today
    return [
        f"sources: {sources}",
        f"screens: {facts.screens_online} online, {facts.screens_offline} offline",
        f"messages today: {today.sent} sent, {today.deferred} deferred, {today.failed} failed, "
        f"{today.queued + today.sending} queued",
    ]
