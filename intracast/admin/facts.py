"""The overview's facts: what the dashboard's first page and `intracast status` both show.

Computed from the config and the store alone, so the command line can say
them without a running daemon; what only a daemon knows (uptime) is None there.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path

from intracast import __version__
from intracast.config import Config
from intracast.health import SourceState, is_online, source_state
from intracast.store import SqlStore
from intracast.store.admin import OutboxTally

SOURCE_STATES = tuple(SourceState)


@dataclass(frozen=True)
class Facts:
    version: str
    config_path: Path
    config_loaded: datetime | None
    problems: list[str]
    sources: dict[str, int]  # SOURCE_STATES -> how many sources are in it
    screens_online: int
    screens_offline: int
    today: OutboxTally  # messages created today, in the intranet's time zone
    uptime: timedelta | None = None


async def gather(config: Config, path: Path, store: SqlStore, now: datetime, *, problems: list[str],
                 loaded_at: datetime | None = None, started: datetime | None = None) -> Facts:
    states, beats = await store.fetch_states(), await store.last_heartbeats()
    counted = Counter(source_state(options, states.get(options.name), now) for options in config.sources)
    online = sum(is_online(beats.get(screen.id), now) for screen in config.screens)
    since, until = day_bounds(now, config.intranet.timezone)
    return Facts(
        version=__version__,
        config_path=path,
        config_loaded=loaded_at,
        problems=problems,
        sources={state: counted[state] for state in SOURCE_STATES},
        screens_online=online,
        screens_offline=len(config.screens) - online,
        today=await store.outbox_tally(since, until),
        uptime=now - started if started else None,
    )


def day_bounds(now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The local day `now` falls in, as [start, end): 23 or 25 hours long on the days the clocks change."""
    day = now.astimezone(zone).date()
    # In UTC: Python subtracts two times of one zone by their wall clocks, which would hide the extra hour.
    start, end = (datetime.combine(d, time(), zone).astimezone(UTC) for d in (day, day + timedelta(days=1)))
    return start, end
