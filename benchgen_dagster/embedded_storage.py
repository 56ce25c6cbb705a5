"""The embedded instance's storage: Dagster's SQLite storage, the same files, with an event log that keeps
its database engines.

Dagster's SQLite event log makes a new SQLAlchemy engine for every statement it runs, so every one of
a run's few hundred events pays an engine, a connection and the compilation of its SQL anew (about
1 s of a candidate's 10 s on two cores, measured with cProfile). This one keeps an engine per database
file (the index, and each of the few runs a process writes at a time), with their compiled SQL; it is
otherwise Dagster's, reading and writing the same files, so a home keeps its history and the UI and the
daemons read it as before. Production's PostgreSQL storage has a cost of its own: postgres_storage.py.
"""

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

# Run databases a process keeps an engine for (besides the index): the runs it is writing or reading now.
_ENGINES_KEPT = 8


class KeptEnginesSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with an engine kept for each database file it uses, the last few of them."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._engines: OrderedDict[str, Engine] = OrderedDict()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> Self:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            while len(self._engines) >= _ENGINES_KEPT:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
        self._engines[shard] = engine  # the most recently used last
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # As Dagster's, one statement at a time per storage (its lock), but on a kept engine.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as connection, connection.begin():
                yield connection

    def dispose(self) -> None:
        super().dispose()
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


class EmbeddedSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage under `base_dir` (runs, schedules, event log: the same files), with the
    event log that keeps its engines."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._event_log_storage = KeptEnginesSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> Self:
        return cls.from_local(inst_data=inst_data, **config_value)
