"""Concurrency is safe (issue 16): two promotions at once of the same scene give one benchmark, a curator's
reject and a promotion do not interleave, and the registry's lock is shared between processes (on every host,
for PostgreSQL) and let go by a process that dies holding it.

Each test runs on the embedded SQLite registry and on PostgreSQL (a fresh database on 127.0.0.1:5432)."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.promotion import promote_built
from benchgen_dagster.defs.registry_db import RegistryLockTimeout
from benchgen_dagster.defs.resources import DATASET_LOCK, CandidateClosedError, RegistryResource
from benchgen_dagster.models.registry import CURATOR_PREFIX, BenchmarkRequest, CandidateStatus
from benchgen_dagster.paths import MANIFEST, dataset_dir
from tests.services import PG_HOST, PG_PORT, PG_USER, postgres_database, private_postgres

STAGE = "promoted_benchmark"
ON_POSTGRES = [pytest.mark.services, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=ON_POSTGRES)])
def registry(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[RegistryResource]:
    from benchgen_dagster import runner

    monkeypatch.setattr(runner, "_resolved", {})  # the CLI's resources, resolved again for this registry
    if request.param == "sqlite":
        yield RegistryResource()
        return
    with postgres_database() as database:
        url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
        monkeypatch.setenv("BENCHGEN_REGISTRY_URL", url)  # what the CLI's commands (runner) use
        resource = RegistryResource(url=url)
        yield resource
        resource.engine.dispose()  # before the database is dropped


def _candidates(registry: RegistryResource, count: int) -> list[str]:
    from benchgen_dagster.defs.requests import new_candidates

    candidates = new_candidates(BenchmarkRequest(prompt="push a box into a goal", count=count), "test")
    registry.add(candidates)
    for candidate in candidates:
        registry.advance(candidate.key, STAGE, CandidateStatus.RUNNING)
    return [c.key for c in candidates]


def _built(name: str) -> Path:
    """A complete benchmark folder built aside in the dataset's folder, as write_benchmark leaves it."""
    built = dataset_dir() / f".building-{name}"
    built.mkdir(parents=True)
    (built / MANIFEST).write_text(f"id: {name}\n")
    return built


def _row(bid: str, key: str, script_sha256: str) -> dict[str, Any]:
    return {
        "benchmark_id": bid,
        "candidate": key,
        "title": bid,
        "tier": 1,
        "family": "box",
        "prompt": "push a box into a goal",
        "model": "offline",
        "script_sha256": script_sha256,
        "seeds": 1,
        "parameters": {},
        "mesh_digests": {"0": "the-same-scene"},  # what the duplicate rule compares
        "difficulty": None,
        "solvability": "proven",
        "judge": "test",
    }


@pytest.fixture
def slow_publish(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Publishing takes a second, and says when it began: the window in which a second promotion (or a
    reject) would interleave with the first if nothing held it back."""
    publishing = threading.Event()

    def publish(self: ArtifactStoreResource, folder: Path, name: str, complete_marker: str = MANIFEST) -> str:
        publishing.set()
        time.sleep(1.0)
        return str(folder)

    monkeypatch.setattr(ArtifactStoreResource, "publish", publish)
    return publishing


def _in_thread(target: Any, *args: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as error:  # reported to the test, which asserts on it
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_two_promotions_of_the_same_scene_at_once_give_one_benchmark(
    registry: RegistryResource, slow_publish: threading.Event
) -> None:
    first, second = _candidates(registry, 2)
    artifacts = ArtifactStoreResource()
    row_a, row_b = _row("box-aaaaaaaaaa", first, "a" * 64), _row("box-bbbbbbbbbb", second, "b" * 64)
    thread_a, errors_a = _in_thread(
        promote_built, first, STAGE, row_a["benchmark_id"], _built("a"), row_a, registry, artifacts
    )
    assert slow_publish.wait(30)
    # The second asks the duplicate rule while the first is still publishing, before it is indexed.
    thread_b, errors_b = _in_thread(
        promote_built, second, STAGE, row_b["benchmark_id"], _built("b"), row_b, registry, artifacts
    )
    thread_a.join(60)
    thread_b.join(60)
    assert errors_a == []
    assert len(errors_b) == 1 and isinstance(errors_b[0], dg.Failure), errors_b
    assert "duplicate box-aaaaaaaaaa" in str(errors_b[0])
    assert [r["benchmark_id"] for r in registry.dataset_rows()] == ["box-aaaaaaaaaa"]
    promoted, rejected = registry.get(first), registry.get(second)
    assert promoted is not None and promoted.status == CandidateStatus.PROMOTED
    assert rejected is not None and rejected.status == CandidateStatus.REJECTED
    assert rejected.reason == "its meshes duplicate box-aaaaaaaaaa, already in the dataset"
    # The second's folder never went into place: it is still aside, for its caller to remove.
    assert sorted(p.name for p in dataset_dir().iterdir()) == [".building-b", "box-aaaaaaaaaa"]


def test_a_curators_reject_during_a_promotion_waits_for_it_and_withdraws_what_it_promoted(
    registry: RegistryResource, slow_publish: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchgen_dagster import runner

    monkeypatch.setattr(runner, "publish", lambda instance: None)  # the index rebuild is not what is tested
    (key,) = _candidates(registry, 1)
    row = _row("box-cccccccccc", key, "c" * 64)
    promoting, promotion_errors = _in_thread(
        promote_built, key, STAGE, row["benchmark_id"], _built("c"), row, registry, ArtifactStoreResource()
    )
    assert slow_publish.wait(30)
    rejecting, reject_errors = _in_thread(runner.withdraw, key, "not what we asked for")
    promoting.join(60)
    rejecting.join(60)
    assert promotion_errors == [] and reject_errors == []
    candidate = registry.get(key)
    assert candidate is not None and candidate.rejected_by_curator
    assert registry.dataset_rows() == []
    assert not (dataset_dir() / "box-cccccccccc").exists()
    assert [p.name.startswith("box-cccccccccc-") for p in (dataset_dir().parent / "withdrawn").iterdir()] == [True]


def test_a_reject_waits_while_the_dataset_lock_is_held(
    registry: RegistryResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchgen_dagster import runner

    monkeypatch.setattr(runner, "publish", lambda instance: None)
    (key,) = _candidates(registry, 1)
    with registry.locked(DATASET_LOCK):
        rejecting, errors = _in_thread(runner.withdraw, key, "no")
        time.sleep(0.5)
        waiting = registry.get(key)
        assert waiting is not None and waiting.status == CandidateStatus.RUNNING
    rejecting.join(60)
    rejected = registry.get(key)
    assert errors == [] and rejected is not None and rejected.rejected_by_curator


def test_indexing_a_benchmark_for_a_candidate_a_curator_rejected_writes_neither(registry: RegistryResource) -> None:
    (key,) = _candidates(registry, 1)
    registry.update(key, status=CandidateStatus.REJECTED, reason=CURATOR_PREFIX + "no")
    with pytest.raises(CandidateClosedError, match="rejected by a curator"):
        registry.put_benchmark(
            {**_row("box-dddddddddd", key, "d" * 64), "path": "/x", "location": "/x", "promoted_at": datetime.now(UTC)},
            promoted=(key, STAGE),
        )
    assert registry.dataset_rows() == []
    after = registry.get(key)
    assert after is not None and after.rejected_by_curator and after.stage == STAGE
    with pytest.raises(CandidateClosedError, match="rejected by a curator"):
        registry.advance(key, "cad_script", CandidateStatus.RUNNING)


def test_the_registry_lock_is_shared_between_processes_and_let_go_when_its_holder_dies(
    registry: RegistryResource,
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from benchgen_dagster.defs.resources import RegistryResource\n"
            f"with RegistryResource(url={registry.database_url!r}).locked('skills'):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(RegistryLockTimeout, match=r"'skills' was not free in 0\.5 s"),
            registry.locked("skills", 0.5),
        ):
            pass
        with registry.locked("another name", 5):  # locks of other names are not held back
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        with registry.locked("skills", 30):
            pass
    finally:
        holder.kill()
        holder.communicate()


@pytest.mark.services
@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_the_registry_waits_out_a_database_restart_and_loses_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL stopped (every pooled connection dropped) and started again 2 s later, in a private cluster:
    a registry call made meanwhile waits, says so, and goes through; what was written before is there."""
    with private_postgres() as cluster:
        registry = RegistryResource(url=f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{cluster.port}/postgres")
        try:
            (key,) = _candidates(registry, 1)
            cluster.stop()
            threading.Timer(2.0, cluster.start).start()
            registry.advance(key, "compiled_scenes")  # while the server is down
            assert registry.get(key).stage == "compiled_scenes"  # type: ignore[union-attr]
            assert "cannot be reached (try 1" in caplog.text
            with registry.locked(DATASET_LOCK):  # locks are taken again after the restart
                registry.update(key, reason="after the restart")
            assert registry.get(key).reason == "after the restart"  # type: ignore[union-attr]
        finally:
            registry.engine.dispose()


@pytest.mark.services
@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_server_that_refuses_the_registry_is_one_error_at_once_not_waited_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only a server that is not there is waited for: one that is there and refuses (here a role it does
    not know, as a wrong password would be) is answered at the first try."""
    import sqlalchemy as sa

    from benchgen_dagster.defs.registry_db import connect

    engine = sa.create_engine(f"postgresql+psycopg2://no_such_role_benchgen@{PG_HOST}:{PG_PORT}/postgres")
    try:
        with pytest.raises(sa.exc.OperationalError, match="no_such_role_benchgen"):
            connect(engine, window_s=60.0)
        assert "retrying" not in caplog.text
    finally:
        engine.dispose()


@pytest.mark.services
@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_write_under_a_lock_the_server_dropped_is_refused_and_nothing_is_written() -> None:
    """The connection that holds the dataset lock dropped (as in a restart; here the server ends that one
    backend): the lock is gone without a word from PostgreSQL, so a write that relied on it must not land."""
    import sqlalchemy as sa

    from benchgen_dagster.defs.registry_db import RegistryLockLost

    with postgres_database() as database:
        registry = RegistryResource(url=f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}")
        try:
            (key,) = _candidates(registry, 1)
            with registry.locked(DATASET_LOCK):
                with registry.engine.connect() as admin:
                    holders = (
                        admin.execute(
                            sa.text(
                                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND database = "
                                "(SELECT oid FROM pg_database WHERE datname = current_database())"
                            )
                        )
                        .scalars()
                        .all()
                    )
                    assert len(holders) == 1
                    admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": holders[0]})
                with pytest.raises(RegistryLockLost, match="'dataset' was lost"):
                    registry.update(key, reason="written without the lock")
            assert registry.get(key).reason != "written without the lock"  # type: ignore[union-attr]
        finally:
            registry.engine.dispose()
