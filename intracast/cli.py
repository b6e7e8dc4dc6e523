"""The `intracast` command: run | check | fetch | schema | migrate | digest | admin | status.

The config comes from `-c PATH`, else `$INTRACAST_CONFIG`, else
`config/intracast.yaml`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from intracast import __version__
from intracast.config import ConfigError, LoadedConfig, config_model, load_config
from intracast.ingest import Clock, utcnow
from intracast.logs import configure_logging
from intracast.roster import Roster, read_roster
from intracast.store import StoreError


@dataclass(frozen=True)
class Invocation:
    """What every command is given: the config file, and the clock that says what "now" and "today" are."""

    config: Path
    clock: Clock


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="intracast")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), envvar="INTRACAST_CONFIG",
              default=Path("config/intracast.yaml"), show_default=True, help="Config file ($INTRACAST_CONFIG).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def main(ctx: click.Context, config_path: Path, log_level: str, log_format: str) -> None:
    """intracast: intranet items by email digest and on office screens."""
    configure_logging(log_level, log_format)  # type: ignore[arg-type]
    # A test passes its own clock as click's `obj`, so "today" is the same at any hour.
    ctx.obj = Invocation(config_path, clock=ctx.obj or utcnow)


def _load(ctx: click.Context) -> LoadedConfig:
    try:
        loaded = load_config(ctx.obj.config)
    except ConfigError as e:
        for problem in e.problems:
            click.echo(str(problem), err=True)
        errors = sum(p.severity == "error" for p in e.problems)
        click.echo(f"{ctx.obj.config}: {errors} problem(s); nothing was started", err=True)
        sys.exit(1)
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)
    return loaded


@main.command()
@click.option("--listen", metavar="HOST:PORT", help="Override server.listen (port 0: any free port).")
@click.pass_context
def run(ctx: click.Context, listen: str | None) -> None:
    """Run the daemon: scheduler and web server, until SIGTERM or Ctrl+C."""
    from intracast.daemon import run_daemon
    from intracast.listen import ListenError

    loaded = _load(ctx)
    try:
        _store_guard(lambda: run_daemon(loaded, listen=listen, out=lambda text: click.echo(text)))
    except ListenError as e:
        click.echo(f"intracast: {e}", err=True)
        sys.exit(1)


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config (FILE:LINE:COL: key.path: message) and its recipients CSV (FILE:LINE: column: message)."""
    try:
        loaded = load_config(ctx.obj.config)
    except ConfigError as e:
        for problem in e.problems:
            click.echo(str(problem))
        sys.exit(1)
    roster = read_roster(loaded)  # what the daemon will load; the admin may see the addresses
    for problem in [*loaded.warnings, *roster.problems]:
        click.echo(str(problem))
    if roster.errors:
        sys.exit(1)
    click.echo(f"{ctx.obj.config}: OK ({_summary(loaded, roster)})")


def _summary(loaded: LoadedConfig, roster: Roster) -> str:
    config = loaded.config
    recipients = _count(len(roster.people), "recipient")
    if config.recipients.file:
        recipients += f" ({len(roster.people) - len(roster.listed)} from {config.recipients.file})"
    parts = [_count(len(config.sources), "source"), _count(len(config.digests), "digest"), recipients,
             _count(len(config.screens), "screen"), _count(len(config.playlists), "playlist")]
    warnings = len(loaded.warnings) + len(roster.problems)
    return ", ".join(parts) + (f"; {warnings} warning(s)" if warnings else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per item per line.")
@click.option("--store", is_flag=True, help="Store the items, as the scheduler does.")
@click.option("--recipient", metavar="EMAIL", help="Fetch per-recipient sources for this recipient.")
@click.pass_context
def fetch(ctx: click.Context, sources: tuple[str, ...], as_json: bool, store: bool, recipient: str | None) -> None:
    """Fetch sources once (all, or those named); exit 1 if any failed."""
    from intracast.fetch import fetch_once
    from intracast.fetch_output import print_outcomes

    loaded = _load(ctx)
    known = {s.name: s for s in loaded.config.sources}
    unknown = [name for name in sources if name not in known]
    if unknown:
        raise click.BadParameter(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(known)}")
    fields = _recipient_fields(loaded, recipient) if recipient else None
    names = [n for n in (sources or known) if fields is not None or not getattr(known[n], "per_recipient", False)]
    for skipped in sorted(set(sources or known) - set(names)):
        click.echo(f"{skipped}: per-recipient source; fetch it with --recipient EMAIL", err=True)
    outcomes = _store_guard(lambda: fetch_once(loaded, names, store=store, clock=ctx.obj.clock, recipient=fields))
    print_outcomes(outcomes, as_json=as_json, stored=store, timezone=loaded.config.intranet.timezone)
    sys.exit(1 if any(outcome.error for outcome in outcomes) else 0)


def _recipient_fields(loaded: LoadedConfig, email: str) -> dict[str, str]:
    for person in loaded.config.recipients.list:
        if person.email.lower() == email.lower():
            return {"id": person.id or "", "email": person.email, "name": person.name}
    raise click.BadParameter(f"no recipient {email} in the config", param_hint="--recipient")


@main.command()
def schema() -> None:
    """Print the config's JSON Schema (for editors' YAML autocompletion)."""
    click.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


def json_schema() -> dict[str, object]:
    schema = config_model().model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "intracast config"}


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Create or upgrade the database schema to this version's."""
    from intracast.store import open_store

    loaded = _load(ctx)

    async def upgrade() -> str:
        async with open_store(loaded.config.storage.url, loaded.base_dir, migrate=True) as store:
            return await store.schema_revision()

    revision = _store_guard(upgrade)
    click.echo(f"database is at schema revision {revision}")


def _store_guard(run):  # type: ignore[no-untyped-def]
    """Run a coroutine; a store problem (too new, unreachable) is one clear line, not a traceback."""
    try:
        return asyncio.run(run())
    except StoreError as e:
        click.echo(f"intracast: {e}", err=True)
        sys.exit(1)


# Registered last: cli_digest reads this module's helpers when its commands run.
from intracast.cli_admin import admin, status  # noqa: E402
from intracast.cli_digest import digest  # noqa: E402

main.add_command(digest)
main.add_command(admin)
main.add_command(status)
