"""The database schema as SQLAlchemy Core tables, and the `UtcDateTime` column type.

This is the shape the queries use; the migrations in `migrations/versions/`
create it (tests compare the two). Only portable Core types are used so that
the same schema runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC.

    SQLite has no time zones and PostgreSQL's `timestamptz` would convert to
    the session's zone, so every database stores the same naive UTC value.
    A naive datetime is refused: its zone would be a guess.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: the store needs UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


# Named constraints, so that SQLite batch migrations can find them again.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String, nullable=False),
    Column("guid", String, nullable=False),
    Column("title", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("content_html", Text, nullable=False),
    Column("published", UtcDateTime),
    Column("updated", UtcDateTime),
    Column("author", Text),
    Column("image", Text),
    Column("tags", JSON, nullable=False),
    Column("audience", JSON, nullable=False),
    Column("pinned", Boolean, nullable=False),
    Column("takeover", Boolean, nullable=False, server_default=false()),
    Column("expires", UtcDateTime),
    Column("start", UtcDateTime),
    Column("end", UtcDateTime),
    Column("location", Text),
    # The feed gave no date: `published` holds the first-seen time.
    Column("undated", Boolean, nullable=False, server_default=false()),
    Column("content_hash", String, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    UniqueConstraint("source", "guid"),
    Index(None, "source", "published"),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String, primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_attempt", UtcDateTime),
    Column("last_success", UtcDateTime),
    Column("last_error", Text),
    Column("last_error_at", UtcDateTime),
    Column("last_error_kind", String),
    Column("failing_since", UtcDateTime),  # first failure of the current run of failures
    Column("retry_at", UtcDateTime),  # backing off: no attempt before this
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("items_seen", Integer, nullable=False, server_default="0"),
)

recipients = Table(
    "recipients",
    metadata,
    Column("email", String, primary_key=True),
    Column("name", Text),
    Column("locale", String),
    Column("timezone", String),
    Column("groups", JSON, nullable=False),
    Column("frequency", String),
    Column("origin", String, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Separate from `recipients` on purpose: config reloads and CSV imports
# rewrite recipients, and an employee's choice must survive them.
preferences = Table(
    "preferences",
    metadata,
    Column("email", String, primary_key=True),
    Column("frequency", String),
    Column("unsubscribed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String, nullable=False),
    Column("recipient", String, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("message_id", String, nullable=False),
    Column("sender", String, nullable=False),
    Column("message", LargeBinary, nullable=False),
    Column("state", String, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime),
    Column("last_reply", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    # This constraint, not a check in Python, is what creates a delivery once.
    UniqueConstraint("digest", "recipient", "window_end"),
    UniqueConstraint("message_id"),
    Index(None, "state", "next_attempt_at"),
)

# Where each recipient's last window of each digest ended: the next starts there.
digest_windows = Table(
    "digest_windows",
    metadata,
    Column("digest", String, nullable=False),
    Column("recipient", String, nullable=False),
    Column("last_end", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("digest", "recipient"),
)

# Why each recipient did or did not get a digest in each run ("why didn't I get it?").
digest_outcomes = Table(
    "digest_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String, nullable=False),
    Column("recipient", String, nullable=False),
    Column("window_end", UtcDateTime),
    Column("outcome", String, nullable=False),
    Column("detail", Text),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "recipient", "at"),
)

delivered_items = Table(
    "delivered_items",
    metadata,
    Column("recipient", String, nullable=False),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False),
    Column("delivered_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("recipient", "item_id"),
)

clicks = Table(
    "clicks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # A click outlives the item it pointed at.
    Column("item_id", Integer, ForeignKey("items.id", ondelete="SET NULL")),
    Column("recipient", String),
    Column("screen", String),
    Column("link", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

screen_heartbeats = Table(
    "screen_heartbeats",
    metadata,
    Column("screen", String, primary_key=True),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("slide", Text),
    Column("user_agent", Text),
    Column("playlist_age", Float),
    Column("version", Text),
    Column("heap", BigInteger),
)

# An admin's message over the rotation of chosen screens, until lifted or until `until`.
screen_overrides = Table(
    "screen_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("mode", String, nullable=False),  # banner or takeover
    Column("screens", JSON, nullable=False),  # screen ids; empty: every screen
    Column("until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("lifted_at", UtcDateTime),
    Column("lifted_by", Text),
)

# A code a new TV shows while it waits to be paired (screens/pairing.py): an admin claims it by `code` for a
# screen; the TV asks by the hash of the secret in its own cookie. Single-use: the TV's handover deletes it.
pairing_codes = Table(
    "pairing_codes",
    metadata,
    Column("code", String, primary_key=True),
    Column("secret_hash", String, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("screen", String),  # set by the admin's claim
    Column("claimed_by", Text),
    Column("claimed_at", UtcDateTime),
    UniqueConstraint("secret_hash"),
)

# An admin resubscribed someone who had unsubscribed: who, why, and when they had left.
resubscriptions = Table(
    "resubscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("admin", Text, nullable=False),
    Column("unsubscribed_at", UtcDateTime, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "email", "at"),
)

# The latest tick of a scheduled job that an instance took on (intracast/claims.py): several daemons on
# one database each schedule every job, and the one whose claim moves `tick` forward runs it.
job_claims = Table(
    "job_claims",
    metadata,
    Column("job", String, primary_key=True),
    Column("tick", UtcDateTime, nullable=False),
    Column("instance", Text, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
)

# The config a daemon runs on, by the config file's path (intracast/config_in_force.py): `intracast status`
# shows it while the file itself is broken. Daemons sharing a config file share its row; the last load wins.
config_in_force = Table(
    "config_in_force",
    metadata,
    Column("path", Text, primary_key=True),
    Column("text", Text, nullable=False),  # as read, before ${...} are substituted: no secret from the environment
    Column("loaded_at", UtcDateTime, nullable=False),
    Column("instance", Text, nullable=False),
)

# A pinned item an admin hid from the screens (intracast/store/hidden_alerts.py), as it was when hidden:
# while the item's content hash is still this one, no screen shows it; once it changes, it shows again.
hidden_alerts = Table(
    "hidden_alerts",
    metadata,
    Column("source", String, nullable=False),
    Column("guid", String, nullable=False),
    Column("content_hash", String, nullable=False),
    Column("hidden_at", UtcDateTime, nullable=False),
    Column("hidden_by", Text, nullable=False),
    PrimaryKeyConstraint("source", "guid"),
)
