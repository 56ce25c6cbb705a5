"""The registry as first made: the candidates and the dataset index."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "benchgen_candidates",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False, index=True),
        sa.Column("variant", sa.Integer, nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("benchmark_id", sa.String(80), nullable=True),
        sa.Column("approved", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "benchgen_dataset",
        sa.Column("benchmark_id", sa.String(80), primary_key=True),
        sa.Column("candidate", sa.String(80), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("tier", sa.Integer, nullable=True),
        sa.Column("family", sa.String(80), nullable=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("script_sha256", sa.String(64), nullable=False),
        sa.Column("seeds", sa.Integer, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("mesh_digests", sa.JSON, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=False),
    )
