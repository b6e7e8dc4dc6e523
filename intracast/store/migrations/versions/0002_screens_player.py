"""screens: takeover items, richer heartbeats, overrides

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

An item may take a screen over (`takeover`); a heartbeat also says how old
the player's playlist is, which player version runs, and its JS heap. An
admin's override puts a message over the rotation of chosen screens. An
admin who resubscribes someone records why (`resubscriptions`). A new TV
waits to be paired under a short code (`pairing_codes`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("takeover", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("screen_heartbeats") as batch:
        batch.add_column(sa.Column("playlist_age", sa.Float()))
        batch.add_column(sa.Column("version", sa.Text()))
        batch.add_column(sa.Column("heap", sa.BigInteger()))
    op.create_table(
        "screen_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("screens", sa.JSON(), nullable=False),
        sa.Column("until", sa.DateTime()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("lifted_at", sa.DateTime()),
        sa.Column("lifted_by", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_screen_overrides"),
    )
    op.create_table(
        "resubscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("admin", sa.Text(), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_resubscriptions"),
    )
    op.create_index("ix_resubscriptions_email_at", "resubscriptions", ["email", "at"])
    op.create_table(
        "pairing_codes",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("screen", sa.String()),
        sa.Column("claimed_by", sa.Text()),
        sa.Column("claimed_at", sa.DateTime()),
        sa.PrimaryKeyConstraint("code", name="pk_pairing_codes"),
        sa.UniqueConstraint("secret_hash", name="uq_pairing_codes_secret_hash"),
    )


def downgrade() -> None:
    op.drop_table("pairing_codes")
    op.drop_table("resubscriptions")
    op.drop_table("screen_overrides")
    with op.batch_alter_table("screen_heartbeats") as batch:
        batch.drop_column("heap")
        batch.drop_column("version")
        batch.drop_column("playlist_age")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("takeover")
