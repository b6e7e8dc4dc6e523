"""Prometheus metrics, every one named `intracast_...`, in a registry per daemon.

A registry per instance (not prometheus-client's global one) keeps tests and
several daemons in one process from sharing counters.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from intracast import __version__


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        Gauge("intracast_info", "Running version", ["version"], registry=r).labels(__version__).set(1)
        Gauge("intracast_start_time_seconds", "When the daemon started (Unix time)", registry=r).set(time.time())
        self.config_loaded = Gauge(
            "intracast_config_loaded_timestamp_seconds", "When the running config was loaded", registry=r
        )
        self.config_reloads = Counter(
            "intracast_config_reloads_total", "Config reloads, applied (ok) or refused", ["result"], registry=r
        )
        self.job_runs = Counter("intracast_job_runs_total", "Scheduled job runs", ["job", "outcome"], registry=r)
        self.source_fetches = Counter(
            "intracast_source_fetches_total", "Source fetches: ok, not_modified, failed, skipped", ["source", "outcome"], registry=r
        )
        self.source_items = Counter(
            "intracast_source_items_total", "Items stored by fetches", ["source", "change"], registry=r
        )
        self.source_errors = Counter(
            "intracast_source_errors_total", "Failed fetches by kind of error", ["source", "kind"], registry=r
        )
        self.source_fetch_seconds = Histogram(
            "intracast_source_fetch_seconds", "Time to fetch and store a source", ["source"], registry=r
        )
        self.digest_outcomes = Counter(
            "intracast_digest_recipients_total", "What digest runs did per recipient (queued, empty, ...)",
            ["digest", "outcome"], registry=r,
        )
        self.mail_replies = Counter(
            "intracast_mail_replies_total", "Replies of the mail server by class: 2xx, 4xx, 5xx, none",
            ["class"], registry=r,
        )
        # Read from the store and the screens at each scrape (`Metrics.gauges`).
        self.items = Gauge("intracast_items", "Items held, per source", ["source"], registry=r)
        self.outbox = Gauge("intracast_outbox_messages", "Messages in the outbox, per state", ["state"], registry=r)
        self.screens_online = Gauge(
            "intracast_screens_online", "Screens with a heartbeat in the last 2 minutes", registry=r
        )
        self.sse_clients = Gauge("intracast_sse_clients", "Open server-sent event streams of screens", registry=r)

    def reply(self, code: int | None) -> None:
        """A mail server's reply to one message (`code` None: no reply, the connection failed)."""
        self.mail_replies.labels(f"{code // 100}xx" if code else "none").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
