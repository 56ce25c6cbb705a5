"""The registry's schema, versioned with Alembic: `migrate(engine)` brings any registry to the head.

A registry made before these migrations (its tables created by `create_all`, columns added by hand
on first use) is stamped with the revision its columns match, then upgraded. The version is kept in
a table of benchgen's own, `benchgen_alembic_version`: Dagster's storage keeps `alembic_version` in
the same PostgreSQL database when both share one.

Several processes may open a new registry at once (runs side by side): the upgrade runs under a lock
all of them share (a PostgreSQL advisory lock, or a file lock beside a SQLite database).
"""

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import sqlalchemy as sa

VERSION_TABLE = "benchgen_alembic_version"
# The newest revision; `test_registry_migrations` checks that it is the scripts' head.
HEAD = "0005"
_FOLDER = Path(__file__).resolve().parent
# pg_advisory_lock's key: any constant of benchgen's own ("bgmigr" in ASCII).
_PG_LOCK_KEY = 0x62676D696772


def current_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _matching_revision(connection: sa.Connection) -> str | None:
    """The revision an unversioned registry's columns match; None where it has no tables yet."""
    inspector = sa.inspect(connection)
    if not inspector.has_table("benchgen_dataset"):
        return None
    columns = {c["name"] for c in inspector.get_columns("benchgen_dataset")}
    if "judge" in columns:
        return "0003"
    return "0002" if "difficulty" in columns else "0001"


def _config(connection: sa.Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_FOLDER))
    config.attributes["connection"] = connection
    return config


def _lock(engine: sa.Engine, connection: sa.Connection) -> AbstractContextManager[object]:
    if engine.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        return nullcontext()
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        from filelock import FileLock

        return FileLock(f"{database}.migrate.lock")
    return nullcontext()


def migrate(engine: sa.Engine) -> str:
    """Upgrade the registry behind `engine` to HEAD (a no-op, one query, when it is there). Returns the
    revision it was at before: "new" for an empty database, "unversioned" for one made before Alembic."""
    with engine.connect() as connection:
        if current_revision(connection) == HEAD:
            return HEAD
    from alembic import command

    with engine.begin() as connection, _lock(engine, connection):
        before = current_revision(connection)
        if before == HEAD:  # another process upgraded it while this one waited
            return HEAD
        config = _config(connection)
        if before is None:
            matching = _matching_revision(connection)
            if matching is not None:
                command.stamp(config, matching)
            before = "unversioned" if matching else "new"
        command.upgrade(config, "head")
    return before
