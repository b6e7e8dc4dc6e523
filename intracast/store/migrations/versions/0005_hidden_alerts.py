"""pinned items hidden from the screens by an admin

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08

A hide holds while the item's content hash is the one it was hidden with.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hidden_alerts",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("guid", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("hidden_at", sa.DateTime(), nullable=False),
        sa.Column("hidden_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("source", "guid", name="pk_hidden_alerts"),
    )


def downgrade() -> None:
    op.drop_table("hidden_alerts")
