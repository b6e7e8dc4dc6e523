"""Several daemons on one PostgreSQL database: who runs a job's tick, and the changes they tell each other.

PostgreSQL is the coordinator; there is no other. Every instance schedules
every job, and before a tick runs the instance claims it in the store
(`claim_tick`: one row per job, moved forward by exactly one claimant), so
a source is fetched and a digest window is run once across the cluster. A
change one instance makes that the others must show (new items, an admin's
override, new mail in the outbox) is announced with `NOTIFY` on one channel;
every instance `LISTEN`s there and runs its handlers for the topic, so a TV
connected to any instance sees an item another one ingested.

On SQLite there is one daemon (`Solo`): every claim is its own and there is
nobody to tell.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from sqlalchemy import make_url

from intracast.store import SqlStore, StoreError

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

Topic = Literal["items", "overrides", "outbox"]
Handler = Callable[[], Awaitable[object]]

CHANNEL = "intracast"
RECONNECT_S = (1, 2, 5, 10, 30)  # waits between attempts to listen again, the last repeated


class Cluster(Protocol):
    instance: str

    async def claim(self, job: str, tick: datetime, now: datetime) -> bool:
        """True when this instance is to run `job`'s `tick`."""
        ...

    async def announce(self, topic: Topic) -> None:
        """Tell the other instances that `topic` changed (this one has already acted on it)."""
        ...

    def on(self, topic: Topic, handler: Handler) -> None:
        """Run `handler` when another instance announces `topic` (register before `serve`)."""
        ...

    async def serve(self, stop: asyncio.Event) -> None:
        """Hear the other instances until `stop`."""
        ...


def instance_name() -> str:
    """This process among the cluster's: host, pid, and a random part (pids repeat across restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Solo:
    """The one daemon on SQLite."""

    def __init__(self) -> None:
        self.instance = instance_name()

    async def claim(self, job: str, tick: datetime, now: datetime) -> bool:
        return True

    async def announce(self, topic: Topic) -> None:
        pass

    def on(self, topic: Topic, handler: Handler) -> None:
        pass

    async def serve(self, stop: asyncio.Event) -> None:
        pass


class Postgres:
    """One of several daemons on PostgreSQL."""

    def __init__(self, store: SqlStore, dsn: str) -> None:
        self.instance = instance_name()
        self._store, self._dsn = store, dsn
        self._handlers: dict[str, list[Handler]] = {}
        self._due: dict[str, asyncio.Event] = {}  # topic -> announced since its handlers last ran
        self._listening = asyncio.Event()

    async def claim(self, job: str, tick: datetime, now: datetime) -> bool:
        won = await self._store.claim_tick(job, tick, self.instance, now)
        if not won:
            log.debug("cluster.claimed_elsewhere job=%s tick=%s", job, tick.isoformat())
        return won

    async def announce(self, topic: Topic) -> None:
        """Never raises: what this instance did stands, and the others see it at their next
        minute's refresh (screens) or poll (the sender) if they cannot be told now."""
        try:
            await self._store.notify(CHANNEL, json.dumps({"instance": self.instance, "topic": topic}))
        except StoreError as e:
            log.warning("cluster.announce_failed topic=%s error=%r", topic, str(e))

    def on(self, topic: Topic, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)
        self._due.setdefault(topic, asyncio.Event())

    async def listening(self) -> None:
        """Once this instance hears announcements (tests, and the start-up log)."""
        await self._listening.wait()

    async def serve(self, stop: asyncio.Event) -> None:
        """Listen, and run each topic's handlers once per burst of announcements; reconnect when cut off."""
        async with asyncio.TaskGroup() as tasks:
            workers = [tasks.create_task(self._dispatch(topic), name=f"cluster-{topic}") for topic in self._handlers]
            workers.append(tasks.create_task(self._listen(), name="cluster-listen"))
            await stop.wait()
            for worker in workers:
                worker.cancel()

    async def _listen(self) -> None:
        import asyncpg  # only here: a daemon on SQLite never loads it (3 MB)

        attempt = 0
        while True:
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as e:
                await self._wait_to_reconnect(attempt, e)
                attempt += 1
                continue
            attempt = 0
            try:
                await self._hear(connection)
            except (OSError, asyncpg.PostgresError) as e:
                self._listening.clear()
                log.warning("cluster.listen_lost error=%r", str(e))
            finally:
                await _close(connection)

    async def _hear(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(CHANNEL, self._heard)
        self._listening.set()
        log.info("cluster.listening instance=%s channel=%s", self.instance, CHANNEL)
        # What was announced while nobody listened is lost: act as if everything changed.
        for due in self._due.values():
            due.set()
        await lost.wait()
        raise ConnectionError("the listening connection closed")

    def _heard(self, connection: object, pid: int, channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
            instance, topic = message["instance"], message["topic"]
        except (ValueError, KeyError, TypeError):
            log.warning("cluster.bad_announcement payload=%r", payload[:200])
            return
        if instance != self.instance and topic in self._due:
            self._due[topic].set()

    async def _dispatch(self, topic: str) -> None:
        due = self._due[topic]
        while True:
            await due.wait()
            due.clear()
            for handler in self._handlers[topic]:
                try:
                    await handler()
                except Exception:
                    log.exception("cluster.handler_failed topic=%s", topic)

    @staticmethod
    async def _wait_to_reconnect(attempt: int, error: BaseException) -> None:
        wait = RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)]
        log.warning("cluster.listen_failed retry_in=%ds error=%r", wait, str(error))
        await asyncio.sleep(wait)  # backoff between reconnection attempts


def make_cluster(store: SqlStore, url: str) -> Cluster:
    """`Solo` on SQLite; on PostgreSQL an instance that listens while `serve` runs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return Solo()
    return Postgres(store, parsed.set(drivername="postgresql").render_as_string(hide_password=False))


async def _close(connection: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(connection.close(), timeout=5)
    except Exception:  # closing a connection that broke: nothing to save, only its socket to free
        connection.terminate()
