"""the config in force, for `intracast status` while the file is broken

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08

The daemon records the text of the config it runs on (at start and after
every good reload), by the config file's path.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_in_force",
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_config_in_force"),
    )


def downgrade() -> None:
    op.drop_table("config_in_force")
