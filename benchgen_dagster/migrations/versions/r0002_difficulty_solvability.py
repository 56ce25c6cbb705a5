"""Each benchmark's difficulty score and whether its reference solution proved it solvable."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("benchgen_dataset", sa.Column("difficulty", sa.Float, nullable=True))
    op.add_column("benchgen_dataset", sa.Column("solvability", sa.String(16), nullable=True))
