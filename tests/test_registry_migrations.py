"""The registry's Alembic migrations: a new registry, and registries made by earlier versions (before
there were migrations), all end at the schema the code declares, their rows kept."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from benchgen_dagster.defs.resources import RegistryResource
from benchgen_dagster.migrations import HEAD, VERSION_TABLE, _config, current_revision, migrate
from benchgen_dagster.models.registry import metadata
from tests.services import PG_HOST, PG_PORT, PG_USER, postgres_database


def _differences(engine: sa.Engine, compare_type: bool) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLE,
                "compare_type": compare_type,
                # Only benchgen's tables: Dagster's may share the database.
                "include_name": lambda name, kind, _: kind != "table" or name.startswith("benchgen_"),
            },
        )
        return list(compare_metadata(context, metadata))


def _registry_before_migrations(engine: sa.Engine, revision: str) -> None:
    """A registry as an earlier version left it: the tables of `revision`, no version table, a row."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
        connection.execute(sa.text(f"DROP TABLE {VERSION_TABLE}"))
        now = datetime.now(UTC)
        connection.execute(
            sa.text(
                "INSERT INTO benchgen_candidates (key, request_id, variant, request, model, status, stage, reason,"
                " approved, created_at, updated_at) VALUES ('r1-v1', 'r1', 1, :request, 'offline', 'failed', '', '',"
                " false, :now, :now)"
            ),
            {"now": now, "request": '{"prompt": "a lever"}'},
        )


def test_head_is_the_scripts_head() -> None:
    with sa.create_engine("sqlite://").connect() as connection:
        assert ScriptDirectory.from_config(_config(connection)).get_current_head() == HEAD


def test_a_new_registry_gets_the_declared_schema(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    assert migrate(engine) == "new"
    assert _differences(engine, compare_type=False) == []
    assert migrate(engine) == HEAD  # once there, a no-op


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004"])
def test_a_registry_from_before_migrations_is_stamped_and_upgraded(tmp_path: Path, revision: str) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _registry_before_migrations(sa.create_engine(url), revision)
    registry = RegistryResource(url=url)
    with registry.engine.connect() as connection:
        assert current_revision(connection) == HEAD
        assert connection.execute(sa.text("SELECT key FROM benchgen_candidates")).scalars().all() == ["r1-v1"]
    assert _differences(registry.engine, compare_type=False) == []
    assert registry.get("r1-v1") is not None


@pytest.mark.services
@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_postgres_registry_beside_dagster_storage_is_migrated_in_its_own_version_table() -> None:
    with postgres_database() as database:
        engine = sa.create_engine(f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}")
        try:
            _registry_before_migrations(engine, "0001")
            # Dagster's storage keeps its own Alembic version in the same database.
            with engine.begin() as connection:
                connection.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
                connection.execute(sa.text("INSERT INTO alembic_version VALUES ('dagster-head')"))
            assert migrate(engine) == "unversioned"
            with engine.connect() as connection:
                assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "dagster-head"
                assert current_revision(connection) == HEAD
            # On PostgreSQL the lengths count: the ids widened to what the code declares.
            assert _differences(engine, compare_type=True) == []
        finally:
            engine.dispose()
