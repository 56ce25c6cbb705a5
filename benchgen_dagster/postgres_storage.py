"""Dagster's PostgreSQL storage, with a connection kept and its schema checks asked once per process.

dagster-postgres asks the database's catalog whether a migration's column or table exists on nearly
every call: each read of runs (`has_run_stats_index_cols`), each run status change and each asset event
(`asset_keys`' columns) reflects a table first, on a new connection each time (its engines hold none).
On the Celery batch that catalog traffic was most of PostgreSQL's CPU (measured: 5 s of the server's CPU
a candidate, as much as a fifth of what the workers spent building and simulating), and it grows with
every run the queue polls. A column or table that exists does not go away while a process lives, so a
check that found one is remembered; one that did not is asked again, so a migration run meanwhile by
`dagster instance migrate` is seen.

Each statement also opened a connection of its own (dagster-postgres's engines pool none, so that an
instance holds no connection open), and a new connection is a new server process that fills its catalog
caches before it answers. Each storage here keeps one connection between statements (checked before
use, so one the server dropped in a restart is replaced) and opens more only while threads overlap, as
dagster-postgres does for the webserver (`optimize_for_webserver`). A forked child drops what it
inherited (SQLAlchemy's advice for pools across fork): Celery's pool processes are forked.

deploy/dagster.yaml selects it (`storage: custom:`), with dagster-postgres's own `postgres_db` config.
"""

import os
import weakref
from typing import Any

from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.config import pg_config
from dagster._core.storage.event_log import EventLogStorage
from dagster._core.storage.runs import RunStorage
from dagster._core.storage.schedules import ScheduleStorage
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
    set_pg_statement_timeout,
)
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

# Kept connections are closed after an hour (a server or a proxy may drop idle ones sooner: the check
# before use covers that).
_RECYCLE_S = 3600
_ENGINES: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    for engine in list(_ENGINES):
        engine.dispose(close=False)  # the parent's connections stay the parent's


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _keep_a_connection(storage: Any) -> None:
    """Replace the storage's engine (which pools none) with one that keeps a connection."""
    storage._engine = create_pg_engine(
        storage.postgres_url,
        storage._token_provider,
        isolation_level="AUTOCOMMIT",
        pool_size=1,
        max_overflow=-1,  # threads that overlap each get a connection, as before, closed after use
        pool_pre_ping=True,
        pool_recycle=_RECYCLE_S,
    )
    _ENGINES.add(storage._engine)


class _KeptConnection:
    """A dagster-postgres storage with a connection kept (`_keep_a_connection`), closed when it is disposed;
    and the webserver's pool, as dagster-postgres makes it (`optimize_for_webserver`: one connection kept,
    its overflow, a statement timeout), with the same care: checked before use, dropped by a fork."""

    postgres_url: str
    _token_provider: Any
    _engine: Engine

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._schema = _FoundOnce()
        super().__init__(*args, **kwargs)
        _keep_a_connection(self)

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engine.dispose()

    def optimize_for_webserver(self, statement_timeout: int, pool_recycle: int, max_overflow: int) -> None:
        options = self._engine.url.query.get("options")
        self._engine = create_pg_engine(
            self.postgres_url,
            self._token_provider,
            isolation_level="AUTOCOMMIT",
            pool_size=1,
            pool_recycle=pool_recycle,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            **({"connect_args": {"options": options}} if options else {}),
        )
        event.listen(
            self._engine, "connect", lambda connection, _: set_pg_statement_timeout(connection, statement_timeout)
        )
        _ENGINES.add(self._engine)


class _FoundOnce:
    """The schema checks that found what they looked for."""

    def __init__(self) -> None:
        self.found: set[tuple[str, ...]] = set()

    def ask(self, key: tuple[str, ...], check: Any) -> bool:
        if key in self.found:
            return True
        present = bool(check())
        if present:
            self.found.add(key)
        return present


class SchemaCachedRunStorage(_KeptConnection, PostgresRunStorage):
    def has_run_stats_index_cols(self) -> bool:
        return self._schema.ask(("run_stats_cols",), super().has_run_stats_index_cols)

    def has_bulk_actions_selector_cols(self) -> bool:
        return self._schema.ask(("bulk_actions_selector",), super().has_bulk_actions_selector_cols)

    def has_backfill_id_column(self) -> bool:
        return self._schema.ask(("backfill_id",), super().has_backfill_id_column)

    def has_bulk_action_job_name_column(self) -> bool:
        return self._schema.ask(("bulk_action_job_name",), super().has_bulk_action_job_name_column)

    def has_backfill_tags_table(self) -> bool:
        return self._schema.ask(("backfill_tags",), super().has_backfill_tags_table)


class SchemaCachedEventLogStorage(_KeptConnection, PostgresEventLogStorage):
    def has_table(self, table_name: str) -> bool:
        return self._schema.ask(
            ("table", table_name), lambda: super(SchemaCachedEventLogStorage, self).has_table(table_name)
        )

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        parent = super()._has_asset_key_col_on_connection
        return self._schema.ask(("asset_keys", column_name), lambda: parent(conn, column_name))


class KeptConnectionScheduleStorage(_KeptConnection, PostgresScheduleStorage):
    pass


class SchemaCachedPostgresStorage(DagsterStorage, ConfigurableClass):
    """dagster-postgres's storage (`DagsterPostgresStorage`), with the storages above."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: Any = None,
        token_provider: Any = None,
    ) -> None:
        self.postgres_url = postgres_url
        self._inst_data = inst_data
        self._run_storage = SchemaCachedRunStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        self._event_log_storage = SchemaCachedEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        self._schedule_storage = KeptConnectionScheduleStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> Any:
        return pg_config()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> "SchemaCachedPostgresStorage":
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    @property
    def event_log_storage(self) -> EventLogStorage:
        return self._event_log_storage

    @property
    def run_storage(self) -> RunStorage:
        return self._run_storage

    @property
    def schedule_storage(self) -> ScheduleStorage:
        return self._schedule_storage
