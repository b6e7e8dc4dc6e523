"""`intracast admin hash-password` and `intracast status`: the admin pages' side of the command line."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from intracast.admin.facts import Facts, gather
from intracast.admin.passwords import hash_password


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
    """Print the overview the admin pages show: config, sources, screens, today's messages."""
    from intracast.cli import _load, _store_guard
    from intracast.store import open_store

    loaded = _load(ctx)
    config = loaded.config

    async def facts() -> Facts:
        async with open_store(config.storage.url, loaded.base_dir, migrate=False) as store:
            return await gather(config, loaded.path, store, ctx.obj.clock(), problems=[])

    modified = datetime.fromtimestamp(loaded.path.stat().st_mtime, config.intranet.timezone)
    for line in status_lines(_store_guard(facts), modified, warnings=len(loaded.warnings)):
        click.echo(line)


def status_lines(facts: Facts, modified: datetime, *, warnings: int) -> list[str]:
    """One fact per line, in English; `modified`: when the config file last changed."""
    checked = f"valid, {warnings} warning(s) printed above" if warnings else "valid"
    sources = ", ".join(f"{n} {state}" for state, n in facts.sources.items())
    today = facts.today
    return [
        f"version: intracast {facts.version}",
        f"config: {facts.config_path} (modified {modified:%Y-%m-%d %H:%M}; {checked})",
        f"sources: {sources}",
        f"screens: {facts.screens_online} online, {facts.screens_offline} offline",
        f"messages today: {today.sent} sent, {today.deferred} deferred, {today.failed} failed, "
        f"{today.queued + today.sending} queued",
    ]
