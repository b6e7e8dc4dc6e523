"""initial schema

Revision ID: 0001
Revises:
Create Date: 2025-11-24

Hand-written: a migration freezes the schema as it was, so it uses plain
SQLAlchemy types (sa.DateTime for UtcDateTime), never intracast's schema module.
Constraint names follow the naming convention in `intracast/store/schema.py`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _items()
    _source_state()
    _recipients()
    _deliveries()
    _digest_runs()
    _activity()


def downgrade() -> None:
    for table in (
        "digest_outcomes",
        "digest_windows",
        "screen_heartbeats",
        "clicks",
        "delivered_items",
        "deliveries",
        "preferences",
        "recipients",
        "source_state",
        "items",
    ):
        op.drop_table(table)


def _items() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("guid", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("content_html", sa.Text(), nullable=False),
        sa.Column("published", sa.DateTime()),
        sa.Column("updated", sa.DateTime()),
        sa.Column("author", sa.Text()),
        sa.Column("image", sa.Text()),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("expires", sa.DateTime()),
        sa.Column("start", sa.DateTime()),
        sa.Column("end", sa.DateTime()),
        sa.Column("location", sa.Text()),
        sa.Column("undated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.UniqueConstraint("source", "guid", name="uq_items_source_guid"),
    )
    op.create_index("ix_items_source_published", "items", ["source", "published"])


def _source_state() -> None:
    op.create_table(
        "source_state",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("last_attempt", sa.DateTime()),
        sa.Column("last_success", sa.DateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_error_at", sa.DateTime()),
        sa.Column("last_error_kind", sa.String()),
        sa.Column("failing_since", sa.DateTime()),
        sa.Column("retry_at", sa.DateTime()),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("items_seen", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_state"),
    )


def _recipients() -> None:
    op.create_table(
        "recipients",
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("locale", sa.String()),
        sa.Column("timezone", sa.String()),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("frequency", sa.String()),
        sa.Column("origin", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_recipients"),
    )
    op.create_table(
        "preferences",
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("frequency", sa.String()),
        sa.Column("unsubscribed_at", sa.DateTime()),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_preferences"),
    )


def _digest_runs() -> None:
    op.create_table(
        "digest_windows",
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("last_end", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", "recipient", name="pk_digest_windows"),
    )
    op.create_table(
        "digest_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("window_end", sa.DateTime()),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_digest_outcomes"),
    )
    op.create_index("ix_digest_outcomes_recipient_at", "digest_outcomes", ["recipient", "at"])


def _deliveries() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime()),
        sa.Column("last_reply", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint(
            "digest", "recipient", "window_end", name="uq_deliveries_digest_recipient_window_end"
        ),
        sa.UniqueConstraint("message_id", name="uq_deliveries_message_id"),
    )
    op.create_index("ix_deliveries_state_next_attempt_at", "deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "delivered_items",
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("recipient", "item_id", name="pk_delivered_items"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_delivered_items_item_id_items", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name="fk_delivered_items_delivery_id_deliveries"
        ),
    )


def _activity() -> None:
    op.create_table(
        "clicks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer()),
        sa.Column("recipient", sa.String()),
        sa.Column("screen", sa.String()),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clicks"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_clicks_item_id_items", ondelete="SET NULL"
        ),
    )
    op.create_table(
        "screen_heartbeats",
        sa.Column("screen", sa.String(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("slide", sa.Text()),
        sa.Column("user_agent", sa.Text()),
        sa.PrimaryKeyConstraint("screen", name="pk_screen_heartbeats"),
    )
