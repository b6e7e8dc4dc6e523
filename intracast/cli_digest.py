"""`intracast digest preview | send | why`: the digest pipeline by hand, through the same code as the schedule."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TypeVar

import click

from digest.store import Outcome

from intracast.config import LoadedConfig
from intracast.digests import Digests
from intracast.runtime import Runtime, open_runtime
from intracast.store import StoreError

T = TypeVar("T")

# What a dry run says instead of what it did not do.
DRY_RUN = {Outcome.QUEUED: "would queue", Outcome.CAUGHT_UP: "would catch up"}
# Why `digest preview` renders a digest that is not sent to that person.
NOT_SENT = {
    Outcome.UNSUBSCRIBED: "unsubscribed; {name} is not sent to them",
    Outcome.FREQUENCY_OFF: "set their digests to off; {name} is not sent to them",
    Outcome.NOT_IN_AUDIENCE: "not in the audience of {name}; it is not sent to them",
}


@click.group()
def digest() -> None:
    """Preview, send, and explain digests."""


@digest.command()
@click.argument("name")
@click.option("--to", "email", required=True, metavar="EMAIL", help="The recipient to render it for.")
@click.option("--format", "fmt", type=click.Choice(["html", "text", "eml"]), default="text", show_default=True)
@click.pass_context
def preview(ctx: click.Context, name: str, email: str, fmt: str) -> None:
    """Render one recipient's digest to stdout, without sending or recording anything."""
    loaded = _loaded(ctx, name)

    async def render(runtime: Runtime, digests: Digests):
        recipient, runner = _recipient(digests, email), digests.run_for(digests.digest(name))
        return await runner.preview(recipient, ctx.find_root().obj.clock()), await runner.skipped(recipient)

    message, skipped = _with_digests(ctx, loaded, render)
    if skipped is not None:
        shown = "; below is what they would get otherwise" if message is not None else ""
        click.echo(f"{email}: {NOT_SENT[skipped].format(name=name)}{shown}", err=True)
    if message is None:
        click.echo(f"{email}: nothing new for this digest now", err=True)
        return
    if fmt == "eml":
        sys.stdout.buffer.write(message.as_bytes())
        return
    part = message.get_body(("html",) if fmt == "html" else ("plain",))
    click.echo(part.get_content())


@digest.command()
@click.argument("name")
@click.option("--to", "email", metavar="EMAIL", help="Only this recipient.")
@click.option("--dry-run", is_flag=True, help="Decide and render, but queue and send nothing.")
@click.option("--catchup", is_flag=True, help="Mark everything up to now as delivered, without sending.")
@click.pass_context
def send(ctx: click.Context, name: str, email: str | None, dry_run: bool, catchup: bool) -> None:
    """Run a digest now, through the same outbox and sender as the schedule."""
    loaded = _loaded(ctx, name)

    async def run(runtime: Runtime, digests: Digests):
        stats = await digests.run(name, ctx.find_root().obj.clock(), only=email, catchup=catchup, dry_run=dry_run, manual=True,
                                  progress=_progress(name) if sys.stderr.isatty() else None)
        if sys.stderr.isatty():
            click.echo(err=True)
        if dry_run or catchup:
            return stats, None
        async with AsyncExitStack() as stack:
            await digests.backend.open()
            stack.push_async_callback(digests.backend.close)
            return stats, await digests.sender.drain()

    stats, drained = _with_digests(ctx, loaded, run)
    words = DRY_RUN if dry_run else {}
    counts = ", ".join(f"{n} {words.get(outcome, outcome.value.replace('_', ' '))}"
                       for outcome, n in sorted(stats.outcomes.items()))
    click.echo(f"{name}{' (dry run)' if dry_run else ''}: {counts or 'no recipients'}")
    if drained is not None:
        click.echo(f"outbox: {drained.sent} sent, {drained.deferred} deferred, {drained.failed} failed")


@digest.command()
@click.argument("email")
@click.pass_context
def why(ctx: click.Context, email: str) -> None:
    """What the last digest runs did for one recipient, and why."""
    loaded = _loaded(ctx, None)

    async def explain(runtime: Runtime, digests: Digests):
        return await runtime.store.outcomes_for(email), await runtime.store.outbox(20, recipient=email)

    outcomes, rows = _with_digests(ctx, loaded, explain)
    tz = loaded.config.intranet.timezone
    if not outcomes and not rows:
        click.echo(f"{email}: no digest run has considered this address yet")
    for o in outcomes:
        window = o.window_end.astimezone(tz).strftime("%Y-%m-%d %H:%M") if o.window_end else "-"
        click.echo(f"{o.at.astimezone(tz):%Y-%m-%d %H:%M}  {o.digest}  window {window}  {o.outcome.value}"
                   + (f": {o.detail}" if o.detail else ""))
    for row in rows:
        click.echo(f"message {row.message_id}  {row.state.value}  attempts {row.attempts}"
                   + (f"  last reply: {row.last_reply}" if row.last_reply else ""))


def _progress(name: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        click.echo(f"\r{name}: {done}/{total} recipients", nl=False, err=True)

    return show


def _loaded(ctx: click.Context, name: str | None) -> LoadedConfig:
    from intracast.cli import _load

    loaded = _load(ctx.find_root())
    if name is not None and name not in {d.name for d in loaded.config.digests}:
        known = ", ".join(d.name for d in loaded.config.digests) or "none"
        raise click.BadParameter(f"no digest {name!r}; known: {known}", param_hint="NAME")
    return loaded


def _recipient(digests: Digests, email: str):
    if (recipient := digests.recipient(email)) is not None:
        return recipient
    raise click.BadParameter(f"no recipient {email} in the config or its CSV", param_hint="--to")


def _with_digests(ctx: click.Context, loaded: LoadedConfig, work: Callable[[Runtime, Digests], Awaitable[T]]) -> T:
    clock = ctx.find_root().obj.clock

    async def main() -> T:
        async with open_runtime(loaded, clock) as runtime:
            return await work(runtime, Digests(loaded, runtime.store, runtime.ingestor, clock=clock))

    try:
        return asyncio.run(main())
    except StoreError as e:
        click.echo(f"intracast: {e}", err=True)
        sys.exit(1)
