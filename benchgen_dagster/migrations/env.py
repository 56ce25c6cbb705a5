"""Alembic's environment: always online, on the connection `migrate` hands over."""

from alembic import context

from benchgen_dagster.migrations import VERSION_TABLE

context.configure(connection=context.config.attributes["connection"], version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
