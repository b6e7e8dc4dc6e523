"""screens: takeover items, richer heartbeats

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

An item may take a screen over (`takeover`); a heartbeat also says how old
the player's playlist is, which player version runs, and its JS heap.
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


def downgrade() -> None:
    with op.batch_alter_table("screen_heartbeats") as batch:
        batch.drop_column("heap")
        batch.drop_column("version")
        batch.drop_column("playlist_age")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("takeover")
