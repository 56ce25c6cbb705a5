"""A batch's candidates as queued Dagster runs, executed side by side by the instance's run queue.

`benchgen generate` submits one run of the generation job per candidate to the instance's
QueuedRunCoordinator, which starts at most `max_concurrent_runs` of them at a time; Dagster does the
pooling. Dequeuing needs a daemon: where none of the instance's own is heartbeating, `RunQueue` starts
the batches' daemon (`queue_daemon`) or joins the one another batch started; it stops by itself once no
batch needs it.

Each run executes its steps in its own process, one after another (the job's in-process executor), as
a run launched from the UI does; the judge in it shares the cores with the other runs
(`BENCHGEN_CANDIDATES_AT_ONCE`, set to the queue's limit, divides them; see `SandboxLimits.judge_workers`).
"""

import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, suppress
from typing import TypeVar

import dagster as dg

from benchgen_dagster.models.settings import CANDIDATES_AT_ONCE
from benchgen_dagster.queue_daemon import DEFINITIONS_ATTRIBUTE, DEFINITIONS_MODULE, LOCATION, QueueLocks

_QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
_START_TIMEOUT_S = 120.0
_POLL_S = 0.5
# How long a failed run that is to be retried may take to get its retry (the daemon looks every 2 s).
_RETRY_WAIT_S = 60.0
# The tag that says so is added just after the failure is recorded.
_TAG_WAIT_S = 5.0
_READ_WINDOW_S = 60.0
log = logging.getLogger(__name__)
T = TypeVar("T")
# How often a waiting batch makes sure a daemon is still there to dequeue its runs.
_DAEMON_CHECK_S = 2.0
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


def _instance_daemon_serving(instance: dg.DagsterInstance, locks: QueueLocks) -> bool:
    """Whether a daemon of the instance's own (`dagster-daemon run`, `dagster dev`) runs its queue; the
    heartbeats our daemon left when it stopped do not count."""
    from dagster._daemon.controller import get_daemon_statuses

    status = get_daemon_statuses(instance, [_QUEUE_DAEMON], ignore_errors=True).get(_QUEUE_DAEMON)
    if not (status and status.healthy):
        return False
    heartbeat = status.last_heartbeat
    return heartbeat is None or heartbeat.daemon_id != locks.last_daemon_id()


class RunQueue:
    """Submit runs of a job to the instance's queue and wait for them; a daemon of our own where none runs."""

    def __init__(self, instance: dg.DagsterInstance, limit: int) -> None:
        self.instance, self.limit = instance, limit
        self.locks = QueueLocks(instance)
        # The daemon this batch started, if it did (another batch's, or the instance's own, may serve it).
        self.daemon: subprocess.Popen[bytes] | None = None
        self._workspace: object = None
        self._plans: dict[tuple[str, str], object] = {}
        self._daemon_checked = 0.0
        self._exit = ExitStack()

    def __enter__(self) -> "RunQueue":
        try:
            # A client of the batches' daemon until this batch ends: it stays while any batch waits.
            self._exit.callback(os.close, self.locks.join())
            # The daemon first: it loads the definitions in a process of its own while this one does.
            self.ensure_daemon()
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

    def ensure_daemon(self) -> None:
        """Make sure a daemon dequeues this batch's runs: ours, another batch's, or the instance's own;
        start one where none is. Raises RunQueueError when the one this batch started has failed."""
        self._daemon_checked = time.monotonic()
        daemon = self.daemon
        if daemon is not None and daemon.poll() is None:
            return  # ours is running
        if daemon is not None and daemon.returncode != 0:
            self._daemon_log.seek(0)
            problem = self._daemon_log.read().decode(errors="replace")
            raise RunQueueError(f"the run queue's daemon stopped: {_last_line(problem)}")
        lock = self.locks.take_daemon()
        if lock is None:
            return  # a daemon of ours serves the instance (another batch's, maybe)
        try:
            if not _instance_daemon_serving(self.instance, self.locks):
                self._start_daemon(lock)
        finally:
            os.close(lock)  # the daemon holds it now, if one was started

    def _start_daemon(self, lock: int) -> None:
        env = dict(os.environ)  # DAGSTER_HOME included: the same instance
        # The runs share the cores with each other: their judges divide them by this.
        env.setdefault(CANDIDATES_AT_ONCE, str(self.limit))
        # A file, not a pipe: nobody reads the daemon's warnings while it runs.
        self._daemon_log = self._exit.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the stack closes it
        self.daemon = daemon = subprocess.Popen(
            [sys.executable, "-m", "benchgen_dagster.queue_daemon", str(lock)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._daemon_log,
            pass_fds=(lock,),
            # Not stopped by this batch: it serves every batch that joins it, and stops once none is left.
            start_new_session=True,
        )
        # Reaped whenever it stops, after this batch or with it.
        threading.Thread(target=daemon.wait, daemon=True).start()

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def submit(
        self,
        job_name: str,
        partition_key: str,
        run_config: Mapping[str, object],
        asset_selection: Sequence[dg.AssetKey] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Queue one run of `job_name` for `partition_key` (only `asset_selection` of its assets, when
        given, as a sensor's run request has it); returns its run id."""
        from dagster._core.definitions.selector import JobSubsetSelector
        from dagster._core.workspace.context import BaseWorkspaceRequestContext

        workspace = self._workspace
        assert isinstance(workspace, BaseWorkspaceRequestContext), "submit inside `with RunQueue(...)`"
        location = workspace.get_code_location(LOCATION)
        repository = next(iter(location.get_repositories().values()))
        if asset_selection is None:
            remote_job = repository.get_full_job(job_name)
        else:
            remote_job = location.get_job(
                JobSubsetSelector(
                    location_name=location.name,
                    repository_name=repository.name,
                    job_name=job_name,
                    op_selection=None,
                    asset_selection=list(asset_selection),
                )
            )
        # Every candidate's run has the same plan: it is computed once a batch.
        selected = sorted(k.to_user_string() for k in asset_selection or [])
        key = (job_name, json.dumps([run_config, selected], sort_keys=True, default=str))
        plan = self._plans.get(key)
        if plan is None:
            self._plans[key] = plan = location.get_execution_plan(
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
            tags={**remote_job.tags, **(tags or {}), "dagster/partition": partition_key, "benchgen/origin": "generate"},
            job_snapshot=remote_job.job_snapshot,
            execution_plan_snapshot=plan.execution_plan_snapshot,  # type: ignore[attr-defined]
            parent_job_snapshot=remote_job.parent_job_snapshot,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            asset_selection=frozenset(asset_selection) if asset_selection is not None else None,
            asset_check_selection=None,
            asset_graph=repository.asset_graph,
        )
        self.instance.submit_run(run.run_id, workspace)
        return run.run_id

    def wait(self, run_ids: list[str], first: bool = False) -> dict[str, dg.DagsterRun]:
        """Wait until every run has finished (with `first`, until one has: the finished ones are returned);
        raises RunQueueError when no daemon is left to start them."""
        if not run_ids:  # a RunsFilter without ids is every run of the instance
            return {}
        last_change = time.monotonic()
        seen: tuple[int, ...] = ()

        def ids(statuses: list[dg.DagsterRunStatus]) -> set[str]:
            # Ids only: a batch's every run read whole twice a second cost the control host a core's
            # fifth at 20 runs, and grew with the batch.
            return set(self.instance.get_run_ids(dg.RunsFilter(run_ids=run_ids, statuses=statuses)))

        while True:
            finished_ids = sorted(_read(lambda: ids(list(FINISHED))))
            if finished_ids and (first or len(finished_ids) == len(run_ids)):
                return {run.run_id: run for run in _read(functools.partial(self._runs, finished_ids))}
            queued = _read(lambda: ids([dg.DagsterRunStatus.QUEUED]))
            running = _read(lambda: ids([dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]))
            if (state := (len(finished_ids), len(queued), len(running))) != seen:
                last_change, seen = time.monotonic(), state
            if time.monotonic() - self._daemon_checked > _DAEMON_CHECK_S:
                self.ensure_daemon()  # the daemon that served us may have died, or stopped for want of batches
            if queued and not running and time.monotonic() - last_change > _START_TIMEOUT_S:
                raise RunQueueError(
                    f"queued runs waited {_START_TIMEOUT_S:.0f} s with none running: is the instance's daemon running?"
                )
            time.sleep(_POLL_S)

    def _runs(self, run_ids: list[str]) -> Sequence[dg.DagsterRun]:
        return self.instance.get_runs(dg.RunsFilter(run_ids=run_ids))

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


def retry_of(instance: dg.DagsterInstance, run: dg.DagsterRun, timeout_s: float = _RETRY_WAIT_S) -> str | None:
    """The run id of the re-execution that run retries launch for a failed `run` (`run_retries` in the
    instance's config), or None when it will not be retried. Dagster tags a failed run with whether it will
    be retried as it records the failure; the retry itself comes from the daemon a moment later."""
    from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, WILL_RETRY_TAG

    if not instance.run_retries_enabled or run.status != dg.DagsterRunStatus.FAILURE:
        return None
    started = time.monotonic()
    while True:
        tags = (_read(lambda: instance.get_run_by_id(run.run_id)) or run).tags
        waited = time.monotonic() - started
        if tags.get(WILL_RETRY_TAG) == "false" or (tags.get(WILL_RETRY_TAG) is None and waited > _TAG_WAIT_S):
            return None
        # The daemon names the retry on the failed run when it launches it.
        if tags.get(AUTO_RETRY_RUN_ID_TAG):
            return tags[AUTO_RETRY_RUN_ID_TAG]
        if waited > timeout_s:  # only this candidate is given up on: it ends failed, with its run's reason
            log.warning("run %s was to be retried, but no retry came in %.0f s", run.run_id, timeout_s)
            return None
        time.sleep(_POLL_S)


def _read(query: Callable[[], T]) -> T:
    """A read of the instance's storage that a database restarting under the batch does not end: the
    statement in flight when the server went is read again, for as long as `_READ_WINDOW_S`."""
    import sqlalchemy as sa
    import tenacity
    from dagster_postgres.utils import DagsterPostgresException  # its own connection retries, given up

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type((sa.exc.OperationalError, DagsterPostgresException)),
        stop=tenacity.stop_after_delay(_READ_WINDOW_S),
        wait=tenacity.wait_exponential_jitter(initial=0.2, max=5.0),
        reraise=True,
    )(query)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def run_events(instance: dg.DagsterInstance, run_id: str) -> list[dg.DagsterEvent]:
    return [record.dagster_event for record in instance.all_logs(run_id) if record.dagster_event is not None]
