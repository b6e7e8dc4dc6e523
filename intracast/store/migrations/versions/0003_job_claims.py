"""several daemons on one database: job claims

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Every daemon schedules every job; the one that claims a job's tick runs it
(`job_claims`: the latest tick claimed per job, and by which instance).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_claims",
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("tick", sa.DateTime(), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job", name="pk_job_claims"),
    )


def downgrade() -> None:
    op.drop_table("job_claims")
