"""How `intracast fetch` prints what it fetched: JSON lines, or a table for people."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import click

from intracast.ingest import FetchOutcome

TITLE_WIDTH = 60


def print_outcomes(outcomes: list[FetchOutcome], *, as_json: bool, stored: bool, timezone: ZoneInfo) -> None:
    """Items on stdout; per-source results and failures (with their reason) on stderr."""
    items = [item for outcome in outcomes for item in outcome.items]
    if as_json:
        for item in items:
            click.echo(json.dumps(item.as_json(), ensure_ascii=False))
    elif items:
        rows = [(i.source, i.published.astimezone(timezone).strftime("%Y-%m-%d %H:%M") if i.published else "-",
                 _cut(i.title), i.link) for i in items]
        _table(("SOURCE", "PUBLISHED", "TITLE", "LINK"), rows)
    for outcome in outcomes:
        click.echo(f"{outcome.source}: {_result(outcome, stored)}", err=True)


def _result(outcome: FetchOutcome, stored: bool) -> str:
    if outcome.error:
        return f"failed ({outcome.error.kind}): {outcome.error}"
    if outcome.not_modified:
        return "not modified since the last fetch"
    counts = f"{len(outcome.items)} items"
    return f"{counts}, {outcome.new} new, {outcome.updated} updated" if stored else counts


def _cut(title: str) -> str:
    return title if len(title) <= TITLE_WIDTH else title[: TITLE_WIDTH - 1] + "…"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
