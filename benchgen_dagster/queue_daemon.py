"""The batches' queue daemon: Dagster's run queue and run monitoring for an instance, while a batch needs them.

`benchgen generate` needs a daemon to dequeue its runs (`run_queue.RunQueue`). Where none of the
instance's own is heartbeating, the first batch starts this one (`python -m benchgen_dagster.queue_daemon`)
and every later batch joins it. Two locks under the instance's folder say who is there, and the kernel
drops them when a process goes, however it ended:
- `daemon.lock`, held by the daemon while it serves: one daemon for the instance, and a batch that finds it
  free starts one;
- `clients.lock`, held shared by every batch that is waiting on its runs. The daemon stops itself once it
  can take it alone and no run it may be hosting is still alive, so it never stops under another batch's
  runs, and never outlives the batches that needed it.

It runs Dagster's QueuedRunCoordinatorDaemon and, where the instance enables them, its MonitoringDaemon
(run monitoring) and the EventLogConsumerDaemon that re-executes failed runs (run retries). Sensors,
schedules and automation are for `dagster-daemon run` or `dagster dev`: here the automation sensor
would race the batch (it publishes while candidates are still running).

`LocalRunLauncher` is Dagster's DefaultRunLauncher that can tell when a run's worker process has gone (a
run worker killed by the out-of-memory killer, say), so run monitoring fails the run instead of leaving it
STARTED, and its batch waiting, forever.
"""

import fcntl
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import psutil
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

LOCATION = "benchgen_dagster.definitions"  # the code location's name, the same in workspace.yaml
DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE = "benchgen_dagster.definitions", "defs"
_IDLE_CHECK_S = 1.0
# How often the run-retry consumer looks for failed runs (Dagster's default is 5 s).
_RETRY_CHECK_S = 2
IN_FLIGHT = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
# How long the daemon, with no batch left, keeps asking a storage it cannot reach whether runs it may host
# are still going, before it stops anyway: it could not dequeue without its storage either.
STORAGE_WAIT_S = 300.0
log = logging.getLogger(__name__)


class QueueLocks:
    """The instance's two lock files (see the module's docstring)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        folder = Path(instance.root_directory) / "benchgen-run-queue"
        folder.mkdir(parents=True, exist_ok=True)
        self.daemon, self.clients = folder / "daemon.lock", folder / "clients.lock"

    def join(self) -> int:
        """Become a client, for as long as the returned fd is open; waits while a daemon is stopping."""
        fd = os.open(self.clients, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
        return fd

    def take_daemon(self) -> int | None:
        """`daemon.lock` (its fd), for the daemon about to be started with it, or None while a daemon has it.
        Taking it is deciding who starts the daemon: the fd is passed on to it."""
        return _exclusive(self.daemon)

    def last_daemon_id(self) -> str:
        """The Dagster daemon id the last daemon of ours heartbeats with (its heartbeats outlive it)."""
        try:
            return self.daemon.read_text().strip()
        except OSError:
            return ""

    def alone(self) -> int | None:
        """`clients.lock` for this process alone (its fd), or None while a batch holds it."""
        return _exclusive(self.clients)


def _exclusive(path: Path) -> int | None:
    """An fd holding `path`'s lock exclusively, or None while another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def run_worker_status(instance: dg.DagsterInstance, run: dg.DagsterRun) -> WorkerStatus:
    """Whether the process executing `run` on this machine is still there, from the pid it reported."""
    if run.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return WorkerStatus.SUCCESS if run.status == dg.DagsterRunStatus.SUCCESS else WorkerStatus.FAILED
    started: tuple[int, float] | None = None
    for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        reported = data.metadata.get("pid") if data else None
        if reported is not None and str(reported.value).isdigit():
            started = int(str(reported.value)), record.timestamp
    if started is None:  # no worker has reported yet: the run is starting
        return WorkerStatus.RUNNING
    pid, reported_at = started
    try:
        worker = psutil.Process(pid)
        # A pid the system gave to a process started after the worker reported it is someone else's.
        alive = worker.status() != psutil.STATUS_ZOMBIE and worker.create_time() <= reported_at + 1.0
    except psutil.Error:
        alive = False
    return WorkerStatus.RUNNING if alive else WorkerStatus.FAILED


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher (a run worker process per run, on this machine) whose run workers run monitoring
    can check: a worker that is gone fails its run."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        status = run_worker_status(self._instance, run)
        message = None if status == WorkerStatus.RUNNING else "its run worker process is gone"
        return CheckRunHealthResult(status, message)


def runs_in_flight(instance: dg.DagsterInstance) -> bool:
    """Whether a run that a daemon's code server may be hosting is still going."""
    runs = instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT))
    return any(run_worker_status(instance, run) == WorkerStatus.RUNNING for run in runs)


def _workspace_target():  # type: ignore[no-untyped-def]
    from dagster._core.workspace.load_target import ModuleTarget

    return ModuleTarget(
        module_name=DEFINITIONS_MODULE, attribute=DEFINITIONS_ATTRIBUTE, working_directory=None, location_name=LOCATION
    )


def wait_until_unneeded(instance: dg.DagsterInstance, locks: QueueLocks, storage_wait_s: float = STORAGE_WAIT_S) -> int:
    """Return, holding `clients.lock` alone (its fd), once no batch is waiting and no run this daemon may
    host is alive. A storage that cannot be asked (a database restarting) is asked again, for up to
    `storage_wait_s`; the watch never dies of it, which would leave the daemon running for good."""
    unreachable_since: float | None = None
    while True:
        time.sleep(_IDLE_CHECK_S)
        alone = locks.alone()
        if alone is None:
            unreachable_since = None
            continue
        try:
            busy = runs_in_flight(instance)
            unreachable_since = None
        except Exception as error:
            now = time.monotonic()
            unreachable_since = now if unreachable_since is None else unreachable_since
            busy = now - unreachable_since < storage_wait_s
            log.warning(
                "the run queue's daemon could not tell whether runs are still going (%s); %s",
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__,
                "asking again" if busy else f"stopping after {storage_wait_s:g} s without an answer",
            )
        if not busy:
            return alone
        os.close(alone)


def _stop_when_unneeded(instance: dg.DagsterInstance, locks: QueueLocks, serving: int) -> None:
    """Stop this daemon once it is not needed (`wait_until_unneeded`). It gives up `daemon.lock` first and
    keeps `clients.lock` until it has exited: a batch that arrives meanwhile waits, then starts a daemon of
    its own."""
    wait_until_unneeded(instance, locks)
    os.close(serving)
    os.kill(os.getpid(), signal.SIGINT)


def _daemons(instance: dg.DagsterInstance) -> list[object]:
    from dagster._daemon.daemon import MonitoringDaemon
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    daemons: list[object] = [
        QueuedRunCoordinatorDaemon(interval_seconds=instance.run_coordinator.dequeue_interval_seconds)  # type: ignore[attr-defined]
    ]
    if instance.run_monitoring_enabled:
        daemons.append(MonitoringDaemon(interval_seconds=instance.run_monitoring_poll_interval_seconds))
    if instance.run_retries_enabled:
        # Run retries (`run_retries` in the instance's config): a run that failed for a reason of its own is
        # re-executed from its failure, as `dagster-daemon run` does.
        from dagster._daemon.auto_run_reexecution.event_log_consumer import EventLogConsumerDaemon

        daemons.append(EventLogConsumerDaemon(interval_seconds=_RETRY_CHECK_S))
    return daemons


def main(argv: list[str]) -> int:
    """LOCK_FD: the daemon, holding `daemon.lock` (taken for it by the batch that started it), until no
    batch needs it (or it is interrupted)."""
    from dagster._daemon.controller import daemon_controller_from_instance

    serving = int(argv[0])
    os.set_inheritable(serving, False)  # not the code server's, nor the runs': the lock is this process's
    with dg.DagsterInstance.get() as instance:
        locks = QueueLocks(instance)
        try:
            with daemon_controller_from_instance(
                instance,
                _workspace_target(),
                gen_daemons=_daemons,  # type: ignore[arg-type]
                log_level="warning",
                code_server_log_level="warning",
            ) as controller:
                os.ftruncate(serving, 0)
                os.pwrite(serving, str(getattr(controller, "_daemon_uuid", "")).encode(), 0)
                watcher = threading.Thread(target=_stop_when_unneeded, args=(instance, locks, serving), daemon=True)
                watcher.start()
                controller.check_daemon_loop()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
