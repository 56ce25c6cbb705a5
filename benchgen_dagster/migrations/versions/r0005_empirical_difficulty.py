"""Each benchmark's empirical difficulty (models.calibration), from the solvers evaluated on it."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("benchgen_dataset", sa.Column("empirical_difficulty", sa.Float, nullable=True))
