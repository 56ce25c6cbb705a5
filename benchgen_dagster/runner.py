"""Running the pipeline from Python (what `benchgen generate/promote` do): the Dagster instance under
BENCHGEN_HOME, candidates added as partitions, and a run of the generation job for each.

A batch of several candidates goes through the instance's run queue (`run_queue`), which runs them
side by side; a lone candidate, an approval or a publish runs in this process, where a run costs a
fraction of a second instead of a process of its own.
"""

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import candidate_partitions
from benchgen_dagster.defs.requests import GENERATE_JOB, record_run_failure, submit_requests
from benchgen_dagster.defs.resources import DATASET_LOCK, AgentsResource, RegistryResource
from benchgen_dagster.models.registry import CURATOR_PREFIX, BenchmarkRequest, Candidate, CandidateStatus
from benchgen_dagster.paths import benchgen_home, dataset_dir, gallery_path

EMBEDDED_DAGSTER_YAML = """\
# The embedded default: SQLite storage in this folder, written by benchgen on first use.
# For PostgreSQL, point DAGSTER_HOME at a folder holding the repository's dagster.yaml instead.
# Every run (`benchgen generate`'s batches, the sensor, the schedule, the UI) goes through the run
# queue: {runs} candidates at a time, one per core; each run's judge shares the cores with the others.
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {runs}
    dequeue_interval_seconds: 1
# A run worker per run on this machine, as Dagster's default launcher has it, and run monitoring that
# fails a run whose worker has gone (killed for memory, say) instead of leaving its batch waiting.
run_launcher:
  module: benchgen_dagster.queue_daemon
  class: LocalRunLauncher
run_monitoring:
  enabled: true
  poll_interval_seconds: 5
  max_resume_run_attempts: 0
# Dagster's SQLite storage in this folder, with an event log that keeps its database engines (if the
# folder moves, benchgen writes the new path here on first use).
storage:
  custom:
    module: benchgen_dagster.embedded_storage
    class: EmbeddedSqliteStorage
    config:
      base_dir: {home}
telemetry:
  enabled: false
"""
# What earlier versions wrote, replaced on first use: an instance without a queue runs a batch one
# candidate after another. A dagster.yaml that is none of these is the curator's, and stays as it is.
_EARLIER_HEAD = (
    "# The embedded default: SQLite storage in this folder, written by benchgen on first use.\n"
    "# For PostgreSQL, point DAGSTER_HOME at a folder holding the repository's dagster.yaml instead.\n"
)
_EARLIER_TAIL = "telemetry:\n  enabled: false\n"
_EARLIER_EMBEDDED_YAMLS = (
    _EARLIER_HEAD + _EARLIER_TAIL,
    _EARLIER_HEAD
    + "# Runs launched by the sensor, the schedule or the UI: two candidates at a time (each fills a core).\n"
    "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
    "  config:\n    max_concurrent_runs: 2\n" + _EARLIER_TAIL,
)
# The last one before run monitoring, written with the machine's core count in two places.
_EARLIER_QUEUE_TEMPLATE = (
    _EARLIER_HEAD
    + "# Every run (`benchgen generate`'s batches, the sensor, the schedule, the UI) goes through the run\n"
    "# queue: {runs} candidates at a time, one per core; each run's judge shares the cores with the others.\n"
    "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
    "  config:\n    max_concurrent_runs: {runs}\n    dequeue_interval_seconds: 1\n" + _EARLIER_TAIL
)


def _written_by_benchgen(text: str) -> bool:
    """Whether a dagster.yaml is one benchgen wrote (this version's, for any machine and folder, or an
    earlier version's), so it may be written again; otherwise it is the curator's."""
    if text in _EARLIER_EMBEDDED_YAMLS:
        return True
    for template in (_EARLIER_QUEUE_TEMPLATE, EMBEDDED_DAGSTER_YAML):
        pattern = re.escape(template).replace(re.escape("{runs}"), r"(\d+)").replace(re.escape("{home}"), r"(.+)")
        found = re.fullmatch(pattern, text)
        if found and len(set(found.groups()[:2])) == 1:  # the core count, the same in both places
            return True
    return False


def embedded_dagster_yaml(home: Path) -> str:
    """The embedded instance's configuration for this machine (its queue takes a run per core) and `home`,
    the folder it is in."""
    return EMBEDDED_DAGSTER_YAML.format(runs=max(2, len(os.sched_getaffinity(0))), home=json.dumps(str(home)))


def dagster_instance() -> dg.DagsterInstance:
    """DAGSTER_HOME's instance when set (production: PostgreSQL); otherwise SQLite under BENCHGEN_HOME."""
    if not os.environ.get("DAGSTER_HOME"):
        home = benchgen_home() / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        wanted = embedded_dagster_yaml(home.resolve())
        if not config.exists() or (config.read_text() != wanted and _written_by_benchgen(config.read_text())):
            config.write_text(wanted)
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def definitions() -> dg.Definitions:
    from benchgen_dagster.definitions import defs

    return defs


_resolved: dict[str, object] = {}


def _resource(name: str) -> object:
    """A resource as a run would see it, its environment values resolved, for use outside a run."""
    if not _resolved:
        from benchgen_dagster.definitions import resources

        _resolved.update(resources(resolved=True))
    return _resolved[name]


def tracing_settings() -> Any:
    """The agents' tracing settings, as a run gets them from its resources."""
    agents = _resource("agents")
    assert isinstance(agents, AgentsResource)
    return agents.tracing.settings() if agents.tracing else None


def registry() -> RegistryResource:
    resource = _resource("registry")
    assert isinstance(resource, RegistryResource)
    return resource


def artifacts() -> ArtifactStoreResource:
    resource = _resource("artifacts")
    assert isinstance(resource, ArtifactStoreResource)
    return resource


# Dagster's own step-by-step log goes to the event log (and the UI), not to the terminal.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def check_services() -> None:
    """Fail early, in one line, when a configured database, bucket or Dagster instance cannot be used, or
    when no sandbox can run the agents' scripts here (SandboxUnavailable)."""
    from benchgen_dagster.models.settings import SandboxLimits
    from benchgen_dagster.worker.sandbox import Sandbox

    Sandbox(SandboxLimits())
    registry().engine  # noqa: B018 - connecting is the check
    artifacts().check_reachable()
    dagster_instance().get_runs_count()


def submit(requests: list[BenchmarkRequest], instance: dg.DagsterInstance, origin: str = "cli") -> list[Candidate]:
    candidates, _ = submit_requests([(r, f"{origin}:{n}") for n, r in enumerate(requests)], registry())
    instance.add_dynamic_partitions(candidate_partitions.name or "", [c.key for c in candidates])
    return candidates


def materialize_candidate(key: str, instance: dg.DagsterInstance) -> bool:
    """Run one candidate from request to promotion in this process, each round a rejected review sends
    back to the coder included; a failing step ends this candidate only."""
    from benchgen_dagster.defs.review import claim_revision

    job = definitions().resolve_job_def(GENERATE_JOB)
    result = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False, run_config=QUIET)
    # What review_revision_sensor launches under the daemon: the next round, from cad_script on.
    while not result.success and (revision := claim_revision(instance, registry(), key)) is not None:
        result = job.execute_in_process(
            partition_key=key,
            instance=instance,
            asset_selection=list(revision.asset_selection or []),
            run_config={**QUIET, **revision.run_config},
            tags=revision.tags,
            raise_on_error=False,
        )
    if not result.success:
        # What the run failure sensor does for runs the daemon watches, for this in-process run.
        record_run_failure(registry(), key, failure_reason(result))
    return result.success


def materialize_side_by_side(keys: list[str], instance: dg.DagsterInstance, limit: int) -> None:
    """Run the candidates as queued runs, `limit` at a time, and wait for them all."""
    from benchgen_dagster.defs.review import claim_revision
    from benchgen_dagster.run_queue import RunQueue, retry_of, run_events

    failed: dict[str, str] = {}  # the run that ended each candidate that did not succeed
    with RunQueue(instance, limit) as queue:
        run_ids: dict[str, str] = {}
        try:
            run_ids.update({queue.submit(GENERATE_JOB, key, QUIET): key for key in keys})
            waiting = list(run_ids)
            while waiting:
                # A candidate a rejected review sent back is queued again as soon as its run ends, from
                # cad_script on (what review_revision_sensor launches under the daemon).
                ended = queue.wait(waiting, first=True)
                waiting = [run_id for run_id in waiting if run_id not in ended]
                for run_id, run in ended.items():
                    key = run_ids[run_id]
                    if run.status == dg.DagsterRunStatus.SUCCESS:
                        continue
                    # A run that failed for a reason of its own (its process died) and that run retries
                    # re-execute from its failure: the candidate goes on in the retry.
                    retry = retry_of(instance, run)
                    if retry is not None:
                        run_ids[retry] = key
                        waiting.append(retry)
                        continue
                    revision = claim_revision(instance, registry(), key)
                    if revision is None:
                        failed[key] = run_id
                        continue
                    config = {**QUIET, **revision.run_config}
                    again = queue.submit(GENERATE_JOB, key, config, revision.asset_selection, revision.tags)
                    run_ids[again] = key
                    waiting.append(again)
        except BaseException:
            queue.cancel(list(run_ids))
            raise
    for key, run_id in failed.items():
        # What the run failure sensor does under a full daemon; this batch's daemon runs the queue only.
        record_run_failure(registry(), key, failure_reason(run_events(instance, run_id)))


def failure_reason(result: dg.ExecuteInProcessResult | list[dg.DagsterEvent]) -> str:
    events = result.all_events if isinstance(result, dg.ExecuteInProcessResult) else result
    for event in events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed:
                return f"check {evaluation.check_name} failed: {evaluation.description or ''}"
    for event in events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            message = (error.message if error else "").strip().splitlines()
            return f"{event.step_key} failed: {message[-1] if message else 'unknown error'}"
    for event in events:
        if event.is_run_failure and event.message:  # the run itself failed: its worker died, say
            return event.message.strip().splitlines()[0]
    return "the run did not finish"


def publish(instance: dg.DagsterInstance) -> bool:
    from benchgen_dagster.definitions import PUBLISH_JOB

    job = definitions().resolve_job_def(PUBLISH_JOB)
    return job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET).success


def generate(
    requests: list[BenchmarkRequest],
    on_start: Callable[[list[Candidate]], None] | None = None,
) -> list[Candidate]:
    """Submit `requests`, materialize their candidates (side by side through the run queue when there are
    several and the instance has one), then rebuild the index and gallery."""
    from benchgen_dagster.run_queue import queue_limit

    instance = dagster_instance()
    candidates = submit(requests, instance)
    if on_start:
        on_start(candidates)
    limit = queue_limit(instance)
    if len(candidates) > 1 and limit is not None and limit > 1:
        materialize_side_by_side([c.key for c in candidates], instance, limit)
    else:
        for candidate in candidates:
            materialize_candidate(candidate.key, instance)
    publish(instance)
    return [registry().get(c.key) or c for c in candidates]


def learn(instance: dg.DagsterInstance) -> tuple[bool, dict[str, object]]:
    """Materialize agent_journals and learned_skills now; returns success and learned_skills' metadata."""
    from benchgen_dagster.defs.skills import LEARN_JOB

    job = definitions().resolve_job_def(LEARN_JOB)
    result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET)
    event = instance.get_latest_materialization_event(dg.AssetKey("learned_skills"))
    materialization = event.asset_materialization if event else None
    if not result.success or materialization is None:
        return False, {"error": failure_reason(result)}
    return True, {k: v.value for k, v in materialization.metadata.items()}


def learn_if_due(instance: dg.DagsterInstance) -> tuple[int, dict[str, object] | None]:
    """What skill_learning_sensor does, for a run without the daemon: learn once enough journals are new.
    Returns how many journals were new and, if the learner ran, its metadata."""
    from benchgen_dagster.definitions import learn_after
    from benchgen_dagster.defs.skills import learning_due

    due, fresh, _ = learning_due(instance, learn_after())
    if not due:
        return fresh, None
    _, metadata = learn(instance)
    return fresh, metadata


def dataset_paths() -> tuple[Path, Path]:
    return dataset_dir(), gallery_path()


def approve_and_promote(key: str) -> Candidate:
    """A curator's approval: mark the candidate approved and materialize its promotion, then republish."""
    instance = dagster_instance()
    registry().update(key, approved=True)
    job = definitions().resolve_job_def(GENERATE_JOB)
    result = job.execute_in_process(
        partition_key=key,
        instance=instance,
        asset_selection=[dg.AssetKey("promoted_benchmark")],
        raise_on_error=False,
        run_config=QUIET,
    )
    candidate = registry().get(key)
    assert candidate is not None
    if not result.success and candidate.status == CandidateStatus.RUNNING:
        # Not a verdict on the candidate (that would have been recorded): it stays held for a retry.
        registry().update(key, status=CandidateStatus.AWAITING_APPROVAL, reason=failure_reason(result))
        candidate = registry().get(key) or candidate
    publish(instance)
    return candidate


def withdraw(key: str, reason: str) -> Path | None:
    """A curator's rejection: recorded first (so no queued run can promote the candidate), then a promoted
    benchmark is moved out of the dataset (kept under withdrawn/, never deleted) and out of the index.

    Under the dataset lock: a promotion of this candidate under way either finished before (and its
    benchmark is withdrawn here) or starts after, sees the reject and stops."""
    moved = None
    with registry().locked(DATASET_LOCK):
        candidate = registry().get(key)
        assert candidate is not None
        registry().update(key, status=CandidateStatus.REJECTED, reason=CURATOR_PREFIX + reason, approved=False)
        promoted = candidate.status == CandidateStatus.PROMOTED and candidate.benchmark_id
        if promoted and candidate.benchmark_id:
            folder = dataset_dir() / candidate.benchmark_id
            if folder.is_dir():
                withdrawn = benchgen_home() / "withdrawn"
                withdrawn.mkdir(exist_ok=True)
                moved = withdrawn / f"{candidate.benchmark_id}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}"
                os.replace(folder, moved)
            registry().remove_benchmark(candidate.benchmark_id)
            artifacts().withdraw(f"dataset/{candidate.benchmark_id}")
    publish(dagster_instance())
    return moved
