"""The batches' run queue: one daemon per instance that outlives no batch and stops under none, run
monitoring that fails a run whose worker has gone, and the cores shared between runs and their seeds."""

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import EngineEventData
from dagster._core.events.log import EventLogEntry

from benchgen_dagster import queue_daemon, run_queue, runner


@pytest.fixture
def embedded(_benchgen_home: Path, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    """The embedded instance a curator gets (its dagster.yaml as benchgen writes it)."""
    monkeypatch.setenv("DAGSTER_HOME", "")  # unset as far as benchgen can tell; set back after the test
    return runner.dagster_instance()


def test_batches_share_one_queue_daemon_that_stops_after_the_last(embedded: dg.DagsterInstance) -> None:
    first, second = run_queue.RunQueue(embedded, 2), run_queue.RunQueue(embedded, 2)
    first.__enter__()
    daemon = first.daemon
    assert daemon is not None, "the first batch starts the daemon"
    try:
        with second:
            assert second.daemon is None, "a second batch joins the first one's daemon"
            first.__exit__(None, None, None)
            # The first batch is done; the second still waits on its runs, so the daemon stays.
            time.sleep(4 * queue_daemon._IDLE_CHECK_S)
            assert daemon.poll() is None, "the daemon stopped under a batch that still needed it"
            second.ensure_daemon()
            assert second.daemon is None
    finally:
        first._exit.close()
    # No batch is left: it stops by itself, and the next batch starts one of its own.
    assert daemon.wait(timeout=60) == 0
    with run_queue.RunQueue(embedded, 2) as third:
        assert third.daemon is not None and third.daemon.pid != daemon.pid


def _started_run(instance: dg.DagsterInstance, pid: int, reported_at: float | None = None) -> dg.DagsterRun:
    run = instance.add_run(dg.DagsterRun(job_name="generate_benchmarks", status=dg.DagsterRunStatus.STARTED))
    event = dg.DagsterEvent(
        event_type_value=dg.DagsterEventType.ENGINE_EVENT.value,
        job_name=run.job_name,
        message=f"Started process for run (pid: {pid}).",
        event_specific_data=EngineEventData.in_process(pid),
    )
    instance.handle_new_event(
        EventLogEntry(
            error_info=None,
            level=logging.INFO,
            user_message=event.message or "",
            run_id=run.run_id,
            timestamp=reported_at if reported_at is not None else time.time(),
            dagster_event=event,
        )
    )
    return run


def test_run_monitoring_fails_a_run_whose_worker_is_gone(embedded: dg.DagsterInstance) -> None:
    from dagster._daemon.daemon import MonitoringDaemon
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    # The embedded instance launches runs with the launcher that can tell, and its daemon monitors them.
    assert isinstance(embedded.run_launcher, queue_daemon.LocalRunLauncher)
    assert embedded.run_monitoring_enabled
    assert any(isinstance(daemon, MonitoringDaemon) for daemon in queue_daemon._daemons(embedded))

    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        alive = _started_run(embedded, worker.pid)
        # An hour before this process started: the pid is another's now.
        reused = _started_run(embedded, worker.pid, reported_at=time.time() - 3600)
        for run in (alive, reused):
            monitor_started_run(embedded, None, embedded.get_run_record_by_id(run.run_id), logging.getLogger())  # type: ignore[arg-type]
        assert embedded.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
        assert embedded.get_run_by_id(reused.run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        assert queue_daemon.runs_in_flight(embedded), "a run whose worker lives keeps the daemon"
    finally:
        worker.kill()
        worker.wait()
    monitor_started_run(embedded, None, embedded.get_run_record_by_id(alive.run_id), logging.getLogger())  # type: ignore[arg-type]
    failed = embedded.get_run_by_id(alive.run_id)
    assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE
    # What the batch records as the candidate's reason.
    assert "its run worker process is gone" in runner.failure_reason(run_queue.run_events(embedded, alive.run_id))
    assert not queue_daemon.runs_in_flight(embedded), "a dead run worker does not keep the daemon"


def test_a_batchs_runs_and_their_seeds_share_the_cores(
    embedded: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchgen_dagster.models.settings import CANDIDATES_AT_ONCE, SandboxLimits

    started: list[dict[str, str]] = []

    class Recorded:
        def __init__(self, command: list[str], env: dict[str, str], **_: object) -> None:
            started.append(env)
            self.pid = 0

        def poll(self) -> int:
            return 0

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(run_queue.subprocess, "Popen", Recorded)
    monkeypatch.delenv(CANDIDATES_AT_ONCE, raising=False)
    queue = run_queue.RunQueue(embedded, limit=2)
    with queue._exit:
        queue.ensure_daemon()
    # The batch's daemon, and so every run it starts, knows how many candidates share the machine...
    assert started and started[0][CANDIDATES_AT_ONCE] == "2"
    # ...and each run's judge takes its share of the cores for its seeds (at least one).
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setenv(CANDIDATES_AT_ONCE, "2")
    assert SandboxLimits().judge_processes() == max(1, min(cores // 2, SandboxLimits().max_processes // 8))
    monkeypatch.setenv(CANDIDATES_AT_ONCE, "1")
    assert SandboxLimits().judge_processes() == max(1, min(cores, SandboxLimits().max_processes // 8))


def test_the_embedded_event_log_keeps_its_engines_and_reads_the_history_dagsters_own_wrote(
    _benchgen_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchgen_dagster import embedded_storage

    # A home as Dagster's own SQLite storage left it (an earlier benchgen's embedded instance).
    folder = _benchgen_home / "dagster"
    folder.mkdir()
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(folder)) as earlier:
        before = _started_run(earlier, os.getpid())
    made: list[str] = []
    create_engine = embedded_storage.create_engine

    def counted(url: str, **kwargs: object) -> object:
        made.append(url)
        return create_engine(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(embedded_storage, "create_engine", counted)
    (folder / "dagster.yaml").write_text(runner.embedded_dagster_yaml(folder))
    # Read as the UI or a script would read it (DAGSTER_HOME or not).
    with dg.DagsterInstance.from_config(str(folder)) as instance:
        assert isinstance(instance.event_log_storage, embedded_storage.KeptEnginesSqliteEventLogStorage)
        # The history is the same files: the earlier run and its events are there.
        assert instance.get_run_by_id(before.run_id) is not None
        assert queue_daemon.run_worker_status(instance, before).name == "RUNNING"
        made.clear()
        runs = []
        for _ in range(12):  # a run's events come one after another, as a run worker writes them
            runs.append(_started_run(instance, os.getpid()))
            for _ in range(3):
                instance.report_engine_event("a step", runs[-1])
        # An engine for each run's database and the index, not one for every statement...
        assert len(made) <= len(runs) + 1, len(made)
        # ...and only the last few kept.
        assert len(instance.event_log_storage._engines) <= embedded_storage._ENGINES_KEPT
        assert len(instance.all_logs(runs[0].run_id)) == 4


def test_a_revision_round_is_queued_as_a_run_of_the_script_and_the_stages_after_it(
    embedded: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchgen_dagster.defs.review import REVISION_ASSETS

    class NoDaemon:  # the run stays queued: only what was queued is looked at
        def __init__(self, *_: object, **__: object) -> None:
            self.pid = 0

        def poll(self) -> int | None:
            return None

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(run_queue.subprocess, "Popen", NoDaemon)
    embedded.add_dynamic_partitions("benchmark_candidates", ["r1-v1"])
    selection = [dg.AssetKey(name) for name in REVISION_ASSETS]
    config = {"ops": {"cad_script": {"config": {"round": 2, "review": "make the goal larger"}}}}
    with run_queue.RunQueue(embedded, 2) as queue:
        run_id = queue.submit("generate_benchmarks", "r1-v1", config, selection, {"benchgen/round": "2"})
        run = embedded.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.QUEUED
        assert run.asset_selection == set(selection) and run.run_config == config
        assert run.tags["dagster/partition"] == "r1-v1" and run.tags["benchgen/round"] == "2"
        plan = embedded.get_execution_plan_snapshot(run.execution_plan_snapshot_id or "")
        assert {step.key for step in plan.steps} == set(REVISION_ASSETS)
        queue.cancel([run_id])


class _StorageDown:
    """An instance whose storage cannot be reached (a database restarting), and that counts the asks."""

    def __init__(self) -> None:
        self.asked = 0

    def get_runs(self, *_: object, **__: object) -> list[dg.DagsterRun]:
        self.asked += 1
        raise ConnectionError("could not connect to server: Connection refused")


def test_the_daemons_watch_outlives_an_unreachable_storage_then_stops_after_its_bound(
    embedded: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(queue_daemon, "_IDLE_CHECK_S", 0.01)
    locks = queue_daemon.QueueLocks(embedded)
    down = _StorageDown()
    started = time.monotonic()
    fd = queue_daemon.wait_until_unneeded(down, locks, storage_wait_s=0.5)  # type: ignore[arg-type]
    try:
        assert time.monotonic() - started >= 0.5
        assert down.asked > 5, "asked again while the storage was down, not given up at the first error"
        assert "asking again" in caplog.text and "stopping after 0.5 s without an answer" in caplog.text
        assert locks.alone() is None, "the watch holds clients.lock alone as it returns"
    finally:
        os.close(fd)
    # Reachable again: with no run going it returns at once.
    os.close(queue_daemon.wait_until_unneeded(embedded, locks, storage_wait_s=0.5))
