"""Requests: a curator's request becomes candidates (dynamic partitions) and the runs that make them.

Requests arrive as YAML files in BENCHGEN_HOME/requests/ (the sensor), from the daily schedule's list,
or from `benchgen generate`. Each becomes `count` candidates, one partition each.
"""

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import ValidationError

from benchgen_dagster.agent.configuration import default_model
from benchgen_dagster.defs.candidates import candidate_partitions, code_version, text_version
from benchgen_dagster.defs.resources import CandidateClosedError, RegistryResource
from benchgen_dagster.models.registry import BenchmarkRequest, Candidate, CandidateStatus
from benchgen_dagster.paths import benchgen_home

GENERATE_JOB = "generate_benchmarks"
REQUEST_SUFFIXES = (".yaml", ".yml")


class RequestError(ValueError):
    """A request that cannot be accepted; the message says why in one line."""


def parse_request(data: Any) -> BenchmarkRequest:
    if not isinstance(data, dict):
        raise RequestError("a request must be a mapping with at least `prompt`")
    try:
        return BenchmarkRequest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        raise RequestError(f"{where}: {first['msg']}") from None


def read_request_file(path: Path) -> BenchmarkRequest:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RequestError(f"cannot read {path.name}: {str(error).splitlines()[0]}") from None
    return parse_request(data)


def read_batch_file(path: Path) -> list[BenchmarkRequest]:
    """A YAML list of requests (what `benchgen generate --batch` and the daily schedule read)."""
    try:
        listed = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RequestError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(listed, list) or not listed:
        raise RequestError(f"{path} must be a non-empty YAML list of requests")
    requests = []
    for n, item in enumerate(listed, 1):
        try:
            requests.append(parse_request(item))
        except RequestError as error:
            raise RequestError(f"{path}, request {n}: {error}") from None
    return requests


def request_id(request: BenchmarkRequest, origin: str, when: datetime | None = None) -> str:
    """Short and unique per submission: the request's content, where it came from, and when. A schedule
    passes its tick's time, so evaluating the same tick twice names the same candidates."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%f")
    digest = hashlib.sha256(f"{request.model_dump_json()}|{origin}|{stamp}".encode()).hexdigest()[:8]
    return f"r{stamp[:8]}-{digest}"


def new_candidates(request: BenchmarkRequest, origin: str, when: datetime | None = None) -> list[Candidate]:
    rid = request_id(request, origin, when)
    model = request.model or default_model()
    return [
        Candidate(key=f"{rid}-v{n}", request_id=rid, variant=n, request=request, model=model)
        for n in range(1, request.count + 1)
    ]


@dg.asset(
    partitions_def=candidate_partitions,
    code_version=code_version(__name__, "models"),
    group_name="generation",
    kinds={"python"},
    description="The curator's request for this candidate: prompt, tier, model, constraints.",
)
def benchmark_request(context: dg.AssetExecutionContext, registry: RegistryResource) -> dg.Output[dict[str, Any]]:
    try:
        registry.advance(context.partition_key, "benchmark_request", CandidateStatus.RUNNING, reason="")
    except CandidateClosedError as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    candidate = registry.get(context.partition_key)
    assert candidate is not None
    request = candidate.request
    value = {
        "key": candidate.key,
        "request_id": candidate.request_id,
        "variant": candidate.variant,
        "prompt": request.agent_prompt(candidate.variant),
        "model": candidate.model,
        "tier": request.tier,
        "require_approval": request.require_approval,
        "request": request.model_dump(mode="json"),
    }
    return dg.Output(
        value,
        data_version=text_version(json.dumps(value, sort_keys=True)),
        metadata={
            "prompt": dg.MetadataValue.text(request.agent_prompt(candidate.variant)),
            "model": candidate.model,
            "tier": str(request.tier or "any"),
            "variant": f"{candidate.variant} of {request.count}",
            "request_id": candidate.request_id,
        },
    )


def _set_aside(path: Path, folder: str, error: str | None = None) -> None:
    target = path.parent / folder
    target.mkdir(exist_ok=True)
    destination = target / path.name
    if destination.exists():
        destination = target / f"{path.stem}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}{path.suffix}"
    shutil.move(str(path), destination)
    if error is not None:
        destination.with_name(destination.name + ".error.txt").write_text(error + "\n")


def submit_requests(
    requests: list[tuple[BenchmarkRequest, str]], registry: RegistryResource, when: datetime | None = None
) -> tuple[list[Candidate], list[dg.RunRequest]]:
    """Register the candidates of each request (those not registered yet); the run requests that make them."""
    made: list[Candidate] = []
    for request, origin in requests:
        candidates = new_candidates(request, origin, when)
        registry.add([c for c in candidates if registry.get(c.key) is None])
        made += candidates
    runs = [dg.RunRequest(run_key=c.key, partition_key=c.key, tags={"benchgen/request": c.request_id}) for c in made]
    return made, runs


@dg.sensor(
    job_name=GENERATE_JOB,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns request files in BENCHGEN_HOME/requests/ into candidates and runs; bad files are moved "
    "to requests/rejected/ with an .error.txt next to them.",
)
def request_files_sensor(context: dg.SensorEvaluationContext, registry: RegistryResource) -> dg.SensorResult:
    folder = benchgen_home() / "requests"
    folder.mkdir(exist_ok=True)
    accepted: list[tuple[BenchmarkRequest, Path]] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in REQUEST_SUFFIXES):
        try:
            request = read_request_file(path)
        except RequestError as error:
            context.log.warning(f"request {path.name} set aside: {error}")
            _set_aside(path, "rejected", str(error))
            continue
        accepted.append((request, path))
    if not accepted:
        return dg.SensorResult(skip_reason="no new request files")
    # Registered first, moved after: a tick that fails in between leaves the file to be read again.
    candidates, runs = submit_requests([(r, p.name) for r, p in accepted], registry)
    for _, path in accepted:
        _set_aside(path, "accepted")
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[candidate_partitions.build_add_request([c.key for c in candidates])],
    )


def daily_requests_path() -> Path:
    return benchgen_home() / "daily_requests.yaml"


@dg.schedule(
    cron_schedule="0 3 * * *",
    job_name=GENERATE_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 03:00, the requests listed in BENCHGEN_HOME/daily_requests.yaml.",
)
def daily_batch_schedule(
    context: dg.ScheduleEvaluationContext, registry: RegistryResource
) -> list[dg.RunRequest] | dg.SkipReason:
    path = daily_requests_path()
    if not path.is_file():
        return dg.SkipReason(f"no {path} (a YAML list of requests) to generate from")
    try:
        requests = read_batch_file(path)
    except RequestError as error:
        return dg.SkipReason(f"not generating: {error}")
    tick = context.scheduled_execution_time
    candidates, runs = submit_requests([(r, f"daily:{n}") for n, r in enumerate(requests)], registry, tick)
    context.instance.add_dynamic_partitions(candidate_partitions.name or "", [c.key for c in candidates])
    return runs


def record_run_failure(registry: RegistryResource, key: str, reason: str) -> None:
    """A run ended without the candidate's steps saying how it ended (a crash, a failed step): say so."""
    candidate = registry.get(key)
    if candidate is not None and candidate.status == CandidateStatus.RUNNING:
        registry.update(key, status=CandidateStatus.FAILED, reason=reason)


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks the candidate of a failed generation run as failed, with the reason, in the registry.",
)
def candidate_run_failure_sensor(context: dg.RunFailureSensorContext, registry: RegistryResource) -> None:
    key = context.dagster_run.tags.get("dagster/partition")
    # A run stopped by a failed blocking check ended on a verdict its step recorded (for a rejected review
    # with rounds left, the next round may already be running): only a crash is the run's to record.
    if key and not _failed_a_check(context.instance, context.dagster_run.run_id):
        record_run_failure(registry, key, f"the run failed: {context.failure_event.message or 'no message'}")


def _failed_a_check(instance: dg.DagsterInstance, run_id: str) -> bool:
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed:
            return True
    return False
