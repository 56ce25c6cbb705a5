"""A batch's candidates as queued Dagster runs, executed side by side by the instance's run queue.

`benchgen generate` submits one run of the generation job per candidate to the instance's
QueuedRunCoordinator, which starts at most `max_concurrent_runs` of them at a time; Dagster does the
pooling. Dequeuing needs a daemon: where none is heartbeating for this instance, `RunQueue` starts one
for the batch (`python -m benchgen_dagster.run_queue`) and stops it at the end. That daemon runs only
Dagster's run queue (its QueuedRunCoordinatorDaemon, over the definitions as a code location):
sensors, schedules and automation are for `dagster-daemon run` or `dagster dev`, and here they would
race the batch (the automation sensor would publish while candidates are still running).

Each run executes its steps in its own process, one after another (the job's in-process executor), as
a run launched from the UI does; the judge in it shares the cores with the other runs
(`BENCHGEN_CANDIDATES_AT_ONCE`, set to the queue's limit, divides them; see `SandboxLimits.judge_workers`).
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress

import dagster as dg

from benchgen_dagster.models.settings import CANDIDATES_AT_ONCE

# The code location's name, the same in workspace.yaml: runs launched here and from the UI are one location's.
LOCATION = "benchgen_dagster.definitions"
DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE = "benchgen_dagster.definitions", "defs"
_QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
_START_TIMEOUT_S = 120.0
_POLL_S = 0.5
# Runs that finished, one way or the other.
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


class RunQueueError(RuntimeError):
    pass


def queue_limit(instance: dg.DagsterInstance) -> int | None:
    """How many runs the instance's run queue starts at once, or None when it has no queue."""
    from dagster._core.run_coordinator import QueuedRunCoordinator

    coordinator = instance.run_coordinator
    if not isinstance(coordinator, QueuedRunCoordinator):
        return None
    return max(1, int(coordinator.get_run_queue_config().max_concurrent_runs))


def _queue_daemon_healthy(instance: dg.DagsterInstance) -> bool:
    from dagster._daemon.controller import get_daemon_statuses

    status = get_daemon_statuses(instance, [_QUEUE_DAEMON], ignore_errors=True).get(_QUEUE_DAEMON)
    return bool(status and status.healthy)


def _workspace_target():  # type: ignore[no-untyped-def]
    from dagster._core.workspace.load_target import ModuleTarget

    return ModuleTarget(
        module_name=DEFINITIONS_MODULE, attribute=DEFINITIONS_ATTRIBUTE, working_directory=None, location_name=LOCATION
    )


class RunQueue:
    """Submit runs of a job to the instance's queue and wait for them; a daemon of our own where none runs."""

    def __init__(self, instance: dg.DagsterInstance, limit: int) -> None:
        self.instance, self.limit = instance, limit
        self.daemon: subprocess.Popen[bytes] | None = None
        self._workspace: object = None
        self._exit = ExitStack()

    def __enter__(self) -> "RunQueue":
        # The daemon first: it loads the definitions in a process of its own while this one does.
        if not _queue_daemon_healthy(self.instance):
            self._start_daemon()
        try:
            self._load_workspace()
        except BaseException:
            self._exit.close()
            raise
        return self

    def _load_workspace(self) -> None:
        from dagster._core.remote_origin import InProcessCodeLocationOrigin
        from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
        from dagster._core.workspace.context import WorkspaceProcessContext
        from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(
                executable_path=sys.executable, module_name=DEFINITIONS_MODULE, attribute=DEFINITIONS_ATTRIBUTE
            ),
            location_name=LOCATION,
        )
        context = self._exit.enter_context(
            WorkspaceProcessContext(self.instance, InProcessWorkspaceLoadTarget([origin]))
        )
        self._workspace = context.create_request_context()

    def _start_daemon(self) -> None:
        env = dict(os.environ)  # DAGSTER_HOME included: the same instance
        # The runs share the cores with each other: their judges divide them by this.
        env.setdefault(CANDIDATES_AT_ONCE, str(self.limit))
        # A file, not a pipe: nobody reads the daemon's warnings while it runs.
        self._daemon_log = self._exit.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the stack closes it
        self.daemon = subprocess.Popen(
            [sys.executable, "-m", "benchgen_dagster.run_queue"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._daemon_log,
            start_new_session=True,
        )
        self._exit.callback(self._stop_daemon)

    def _stop_daemon(self) -> None:
        daemon = self.daemon
        if daemon is None or daemon.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGINT)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def submit(self, job_name: str, partition_key: str, run_config: Mapping[str, object]) -> str:
        """Queue one run of `job_name` for `partition_key`; returns its run id."""
        from dagster._core.workspace.context import BaseWorkspaceRequestContext

        workspace = self._workspace
        assert isinstance(workspace, BaseWorkspaceRequestContext), "submit inside `with RunQueue(...)`"
        location = workspace.get_code_location(LOCATION)
        repository = next(iter(location.get_repositories().values()))
        remote_job = repository.get_full_job(job_name)
        plan = location.get_execution_plan(
            remote_job, run_config, step_keys_to_execute=None, known_state=None, instance=self.instance
        )
        run = self.instance.create_run(
            job_name=job_name,
            run_id=None,
            run_config=run_config,
            resolved_op_selection=None,
            step_keys_to_execute=None,
            op_selection=None,
            status=None,
            root_run_id=None,
            parent_run_id=None,
            tags={**remote_job.tags, "dagster/partition": partition_key, "benchgen/origin": "generate"},
            job_snapshot=remote_job.job_snapshot,
            execution_plan_snapshot=plan.execution_plan_snapshot,
            parent_job_snapshot=remote_job.parent_job_snapshot,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            asset_selection=None,
            asset_check_selection=None,
            asset_graph=repository.asset_graph,
        )
        self.instance.submit_run(run.run_id, workspace)
        return run.run_id

    def wait(self, run_ids: list[str]) -> dict[str, dg.DagsterRun]:
        """Wait until every run has finished; raises RunQueueError when no daemon is left to start them."""
        last_change = time.monotonic()
        seen: dict[str, dg.DagsterRunStatus | None] = {}
        while True:
            runs = {run_id: self.instance.get_run_by_id(run_id) for run_id in run_ids}
            statuses = {run_id: run.status if run else None for run_id, run in runs.items()}
            if all(status in FINISHED for status in statuses.values()):
                return {run_id: run for run_id, run in runs.items() if run is not None}
            if statuses != seen:
                last_change, seen = time.monotonic(), statuses
            if self.daemon is not None and self.daemon.poll() is not None:
                self._daemon_log.seek(0)
                problem = self._daemon_log.read().decode(errors="replace")
                raise RunQueueError(f"the run queue's daemon stopped: {_last_line(problem)}")
            waiting = dg.DagsterRunStatus.QUEUED in statuses.values()
            running = {dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED} & set(statuses.values())
            if waiting and not running and time.monotonic() - last_change > _START_TIMEOUT_S:
                raise RunQueueError(
                    f"queued runs waited {_START_TIMEOUT_S:.0f} s with none running: is the instance's daemon running?"
                )
            time.sleep(_POLL_S)

    def cancel(self, run_ids: list[str]) -> None:
        """Stop what is left of a batch: queued runs are cancelled, started ones terminated."""
        for run_id in run_ids:
            run = self.instance.get_run_by_id(run_id)
            if run is None or run.status in FINISHED:
                continue
            if run.status == dg.DagsterRunStatus.QUEUED:
                self.instance.report_run_canceled(run, message="the batch was interrupted")
            else:
                with suppress(Exception):
                    self.instance.run_launcher.terminate(run_id)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def run_events(instance: dg.DagsterInstance, run_id: str) -> list[dg.DagsterEvent]:
    return [record.dagster_event for record in instance.all_logs(run_id) if record.dagster_event is not None]


@contextmanager
def _stop_with_parent() -> Iterator[None]:
    """The batch's daemon goes when the command that started it does, however it ended."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, daemon=True).start()
    yield


def main() -> int:
    """The batch's daemon: Dagster's run queue only, until interrupted or its command is gone."""
    from dagster._daemon.controller import daemon_controller_from_instance
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    def queue_only(instance: dg.DagsterInstance) -> list[QueuedRunCoordinatorDaemon]:
        return [QueuedRunCoordinatorDaemon(interval_seconds=instance.run_coordinator.dequeue_interval_seconds)]  # type: ignore[attr-defined]

    with dg.DagsterInstance.get() as instance, _stop_with_parent():
        try:
            with daemon_controller_from_instance(
                instance,
                _workspace_target(),
                gen_daemons=queue_only,
                log_level="warning",
                code_server_log_level="warning",
            ) as controller:
                controller.check_daemon_loop()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
