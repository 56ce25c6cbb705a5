"""Production's Dagster storage (benchgen_dagster/postgres_storage.py, as deploy/dagster.yaml selects it):
dagster-postgres's tables, with a connection kept between statements and the schema asked once, on a
database of the shared server of its own."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import event

from benchgen_dagster.postgres_storage import SchemaCachedEventLogStorage, SchemaCachedRunStorage
from tests.services import PG_HOST, PG_PORT, PG_USER, postgres_database

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.services, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    shutil.copyfile(REPO / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    with postgres_database() as database:
        for name, value in {
            "HOST": PG_HOST,
            "PORT": str(PG_PORT),
            "USER": PG_USER,
            "PASSWORD": "",
            "DB": database,
        }.items():
            monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        with dg.DagsterInstance.get() as found:
            yield found


class Statements:
    """What an engine asks the server, and the connections it opens for that."""

    def __init__(self, engine: object) -> None:
        self.connections = 0
        self.catalog = 0
        event.listen(engine, "connect", self._connected)
        event.listen(engine, "before_cursor_execute", self._executed)

    def _connected(self, *_: object) -> None:
        self.connections += 1

    def _executed(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        self.catalog += "pg_catalog" in statement


def _runs_and_events(instance: dg.DagsterInstance, count: int) -> None:
    @dg.asset
    def probe() -> None:
        return None

    for _ in range(count):
        assert dg.materialize([probe], instance=instance).success
        assert instance.get_runs(limit=5)


def test_runs_and_events_keep_one_connection_and_ask_the_schema_once(instance: dg.DagsterInstance) -> None:
    runs, events = instance.run_storage, instance.event_log_storage
    assert isinstance(runs, SchemaCachedRunStorage) and isinstance(events, SchemaCachedEventLogStorage)
    _runs_and_events(instance, 1)  # the schema's answers, and the connections, made once
    asked = [Statements(runs._engine), Statements(events._engine)]  # type: ignore[attr-defined]

    _runs_and_events(instance, 3)

    # Three runs: a few dozen statements each (their events, status changes, reads), on the connections
    # kept; dagster-postgres alone opens one for every statement and reflects a table for most of them.
    assert [a.connections for a in asked] == [0, 0]
    assert [a.catalog for a in asked] == [0, 0]


def test_a_forked_child_opens_connections_of_its_own(instance: dg.DagsterInstance) -> None:
    runs = instance.run_storage
    assert instance.get_runs(limit=1) == []  # the parent holds a connection now
    asked = Statements(runs._engine)  # type: ignore[attr-defined]
    child = os.fork()
    if child == 0:  # a Celery pool process, forked from its worker
        status = 1
        try:
            instance.get_runs(limit=1)
            status = 0 if asked.connections == 1 else 2  # not the parent's socket
        finally:
            os._exit(status)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert instance.get_runs(limit=1) == []  # and the parent's still answers
    assert asked.connections == 0
