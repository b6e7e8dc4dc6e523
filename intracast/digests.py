"""The digest pipeline composed: recipients, runs on schedule, the sender draining the outbox.

`Digests` owns the sender task: started with the daemon, woken when a run
queued messages, stopped at shutdown after the messages in flight are sent.
It holds the recipients of its config generation (intracast/roster.py),
loaded once with it and written to the store for the admin's Recipients page.
"""

from __future__ import annotations

import asyncio
import secrets
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from digest.backends import Backend, backend_for
from digest.config import DigestConfig
from digest.links import Links
from digest.recipients import Recipient
from digest.render import Branding
from digest.run import DigestRun, Mailing, RunStats
from digest.sender import Sender
from digest.store import Outcome
from digest.tokens import Signer
from digest.windows import next_window_end
from intracast.cluster import Cluster, Solo
from intracast.config import LoadedConfig
from intracast.ingest import Clock, Ingestor, utcnow
from intracast.metrics import Metrics
from intracast.roster import load_roster
from intracast.store import SqlStore, StoreError

log = logging.getLogger(__name__)

MAILDIR_RATE = 1000.0
WAKE_EVERY = 100  # recipients done in a run between two wake-ups of the sender
MAILDIR_RETRY_FOR = timedelta(hours=24)


class Digests:
    def __init__(self, loaded: LoadedConfig, store: SqlStore, ingestor: Ingestor, clock: Clock = utcnow,
                 metrics: Metrics | None = None, cluster: Cluster | None = None):
        """`cluster`: the other daemons on the same database, whose senders join in when a run queues mail."""
        self._loaded, self._store, self._ingestor, self._clock = loaded, store, ingestor, clock
        self._cluster = cluster or Solo()
        self._metrics = metrics
        # Without `server.secret` (no digests, so nothing mailed) links are signed with a key of this
        # process, the same after a reload: a screen's QR code keeps working.
        self._run_secret = secrets.token_urlsafe(32)
        self.roster = load_roster(loaded)
        self.mailing = _mailing(loaded, self._run_secret)
        self.backend, self.sender = self._delivery(loaded)
        self.wake, self._stop = asyncio.Event(), asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _delivery(self, loaded: LoadedConfig) -> tuple[Backend, Sender]:
        config, store, clock = loaded.config, self._store, self._clock
        smtp = config.smtp
        backend = backend_for(smtp, loaded.resolve(config.storage.maildir))
        on_reply = self._metrics.reply if self._metrics else (lambda code: None)
        if smtp:
            sender = Sender(store, backend, rate=smtp.rate, retry_for=smtp.retry_for, lease=smtp.lease, clock=clock,
                            on_reply=on_reply)
        else:  # a Maildir takes what it is given: no rate, and its "retries" are disk errors
            sender = Sender(store, backend, rate=MAILDIR_RATE, retry_for=MAILDIR_RETRY_FOR, clock=clock,
                            on_reply=on_reply)
        return backend, sender

    async def reconfigure(self, loaded: LoadedConfig) -> None:
        """A reloaded config. A run in progress keeps the config it started with (its `DigestRun`);
        the mail server's connections are reopened only when its settings changed, after the
        messages in flight are sent.

        The config and its links switch last, after that wait, so that the daemon hands the same
        links to the pages that verify them before anything else runs (intracast/daemon.py): no mail
        is signed with a key the pages do not know yet.
        """
        old, new = self._loaded.config, loaded.config
        # In a thread: validating a CSV of 20,000 addresses takes a second, and screens are served meanwhile.
        roster = await asyncio.to_thread(load_roster, loaded, self.roster)
        if (old.smtp, self._maildir) != (new.smtp, loaded.resolve(new.storage.maildir)):
            log.info("digest.delivery_reopened reason=%s", "smtp" if old.smtp != new.smtp else "maildir")
            await self._stop_sending()
            self.backend, self.sender = self._delivery(loaded)
            await self._start_sending()
        self._loaded, self.mailing, self.roster = loaded, _mailing(loaded, self._run_secret), roster
        await self.save_recipients()

    async def save_recipients(self) -> None:
        """Write the recipients in force to the store, where the admin's Recipients page finds them.

        A store that fails here leaves that page behind until the next load; the digests go on
        (they read the recipients from here, and their preferences from the store as they run).
        """
        try:
            changes = await self._store.replace_recipients(self.roster.rows(), self._clock())
        except StoreError as e:
            log.error("recipients.not_saved error=%s", e)
            return
        log.info("recipients.saved added=%d changed=%d removed=%d", changes.added, changes.changed, changes.removed)

    def recipients(self) -> list[Recipient]:
        return list(self.roster.people)

    def recipient(self, email: str) -> Recipient | None:
        """The recipient with this address, in any case; None when the config and its CSV lack it."""
        return self.roster.find(email)

    def next_due(self, name: str, now: datetime) -> datetime | None:
        """The earliest next window end of the digest across the recipients' time zones."""
        schedule = self.digest(name).schedule
        zones = {r.timezone.key: r.timezone for r in self.recipients()} or {"": self._loaded.config.intranet.timezone}
        ends = [end for tz in zones.values() if (end := next_window_end(schedule, tz, now)) is not None]
        return min(ends, default=None)

    def digest(self, name: str) -> DigestConfig:
        return next(d for d in self._loaded.config.digests if d.name == name)

    def run_for(self, digest: DigestConfig) -> DigestRun:
        sources = self._loaded.config.sources
        wanted = [s for s in sources if not digest.sources or s.name in digest.sources]
        personal = [s.name for s in wanted if getattr(s, "per_recipient", False)]
        return DigestRun(digest, self._store, self.mailing, sources=[s.name for s in wanted],
                         personal_sources=personal, fetch_personal=self._fetch_personal)

    async def run(self, name: str, now: datetime, *, only: str | None = None, catchup: bool = False,
                  dry_run: bool = False, startup: bool = False, manual: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> RunStats:
        """`startup`: the check for missed windows, where recipients with nothing due are not recorded;
        `manual`: `digest send`, whose windows end now.

        Runs of one digest take turns across processes (a daemon's schedule, `digest send` by hand,
        other daemons on the same database): each reads the windows the one before it advanced,
        so no recipient gets two digests for one stretch of time.
        """
        recipients = [r for r in self.recipients() if only is None or r.key == only.lower()]

        def progressed(done: int, total: int) -> None:
            if done % WAKE_EVERY == 0:
                self.wake.set()  # the sender starts on what is queued while the run goes on
            if progress is not None:
                progress(done, total)

        async with self._store.exclusive(f"digest:{name}") if not dry_run else nullcontext():
            stats = await self.run_for(self.digest(name)).run(recipients, now, catchup=catchup, dry_run=dry_run,
                                                               record_not_due=not startup, manual=manual,
                                                               progress=progressed)
        if self._metrics and not dry_run:
            for outcome, count in stats.outcomes.items():
                self._metrics.digest_outcomes.labels(name, outcome.value).inc(count)
        self.wake.set()
        if stats.outcomes.get(Outcome.QUEUED) and not dry_run:
            await self._cluster.announce("outbox")
        return stats

    async def _fetch_personal(self, source: str, recipient: Recipient) -> set[str]:
        fields = {"id": recipient.id or "", "email": recipient.email, "name": recipient.name}
        outcome = await self._ingestor.run(source, force=True, recipient=fields)
        if outcome.error:
            raise outcome.error  # this recipient's digest waits for the next run; the outcome says why
        return {item.guid for item in outcome.items}

    async def serve(self, stack: AsyncExitStack) -> None:
        """Open the backend and start the sender; the stack stops both, letting sends in flight finish."""
        await self._start_sending()
        stack.push_async_callback(self._stop_sending)

    @property
    def _maildir(self) -> Path:
        return self._loaded.resolve(self._loaded.config.storage.maildir)

    async def _start_sending(self) -> None:
        await self.backend.open()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.sender.run(self.wake, self._stop), name="digest-sender")
        self.wake.set()  # whatever waited for the old connections goes now

    async def _stop_sending(self) -> None:
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None
        await self.backend.close()


def _mailing(loaded: LoadedConfig, run_secret: str) -> Mailing:
    config, smtp = loaded.config, loaded.config.smtp
    host = urlsplit(str(config.intranet.url)).hostname or "localhost"
    public_url = str(config.server.public_url or f"http://{config.server.listen}").rstrip("/")
    return Mailing(
        branding=Branding(config.intranet.name, str(config.intranet.url),
                          str(config.intranet.logo) if config.intranet.logo else None, config.intranet.colour),
        sender=(smtp.sender if smtp and smtp.sender else f"digest@{host}"),
        domain=host,
        # Without digests (the config check requires a secret with them) nothing was
        # ever mailed, so a key of this process's own verifies nothing old either.
        links=Links(public_url, Signer(config.server.secret or run_secret)),
    )
