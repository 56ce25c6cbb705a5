"""The trusted judge's version that judged each benchmark (NULL: made before the judge had one)."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("benchgen_dataset", sa.Column("judge", sa.String(40), nullable=True))
