"""Benchmark ids up to 120 characters and family names up to 200, as the tables have been declared
since; registries made before had 80. SQLite does not enforce a VARCHAR's length, so only other
databases (PostgreSQL) are altered."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        return
    op.alter_column("benchgen_candidates", "benchmark_id", type_=sa.String(120), existing_nullable=True)
    op.alter_column("benchgen_dataset", "benchmark_id", type_=sa.String(120), existing_nullable=False)
    op.alter_column("benchgen_dataset", "family", type_=sa.String(200), existing_nullable=True)
