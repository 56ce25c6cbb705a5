"""Review: the reviewer agent looks at the renders and the reports and approves or rejects; a rejection
with rounds left sends the script back to the coder.

The loop's shape. Assets cannot form a cycle, so the review cannot be an input of `cad_script`, and a
round inside one stage (coder, checks and reviewer in the review step) would let a revised script reach
promotion past the sandbox stages' blocking checks. Instead a rejected review with rounds left (the
request's `max_rounds`, else the agents') marks the candidate `revising` and records, as metadata
`next_round`, the run config of the next round: `cad_script`'s `CoderRound` (its round and the review's
comments). That round is a new run of the generation job from `cad_script` to `promoted_benchmark`, so
the revised script passes every sandbox stage and blocking check the first one did, and each round is a
materialization of each stage, its round in the metadata. Under the daemon `review_revision_sensor`
launches it; `benchgen generate` (runner.py) runs it as soon as the round before ends. Both take the
candidate with `claim_revision`, so a round runs once even when both are there.
"""

from typing import Any

import dagster as dg

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.cad import CoderRound
from benchgen_dagster.defs.candidates import (
    AGENT_CODE,
    MAX_RENDER_BYTES,
    MODEL_RETRY,
    REFRESH_WHEN_STALE,
    UntrustedWorkspaceFile,
    candidate_handoff,
    candidate_partitions,
    code_version,
    image_markdown,
    read_workspace_file,
    read_workspace_text,
    session_metadata,
    text_version,
    workspace_of,
)
from benchgen_dagster.defs.planning import AgentSessionError
from benchgen_dagster.defs.requests import GENERATE_JOB
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource
from benchgen_dagster.models.registry import CandidateStatus

THUMBNAIL = "view_az045_el35.png"
# The metadata entry of a rejected review with rounds left: the next round's CoderRound, as JSON.
NEXT_ROUND = "next_round"
# What the next round runs: the script again, and every stage after it, with their blocking checks.
REVISION_ASSETS = ("cad_script", "compiled_scenes", "simulation_report", "benchmark_review", "promoted_benchmark")


@dg.asset(
    partitions_def=candidate_partitions,
    code_version=code_version(__name__, *AGENT_CODE),
    automation_condition=REFRESH_WHEN_STALE,
    group_name="generation",
    kinds={"python"},
    description="The reviewer's verdict (reviews/<round>.md), after looking at the renders.",
    deps=["simulation_report"],
    check_specs=[
        dg.AssetCheckSpec(
            "review_approved",
            asset="benchmark_review",
            blocking=True,
            description="the reviewer approved the benchmark",
        ),
    ],
    retry_policy=MODEL_RETRY,
)
def benchmark_review(
    context: dg.AssetExecutionContext,
    benchmark_request: dict[str, Any],
    cad_script: dict[str, Any],
    agents: AgentsResource,
    registry: RegistryResource,
    artifacts: ArtifactStoreResource,
) -> Any:
    key = context.partition_key
    with candidate_handoff(artifacts, key):
        registry.advance(key, "benchmark_review", CandidateStatus.RUNNING)
        workspace = workspace_of(key)
        result = agents.run(
            ("reviewer",),
            benchmark_request["prompt"],
            workspace,
            model=benchmark_request["model"],
            start_round=max(1, cad_script["rounds"]),
            shared_verdicts=artifacts.shared_entries(),
        )
        if result.decision == "failed":
            registry.advance(key, "benchmark_review", CandidateStatus.FAILED, reason=f"review failed: {result.reason}")
            raise AgentSessionError(f"benchmark_review: {result.reason}")
        review_name = f"reviews/{result.rounds}.md"
        review_path = workspace / review_name
        try:
            review = read_workspace_text(key, review_name)
        except UntrustedWorkspaceFile:
            review = ""
        approved = result.decision == "approved"
        review_round, max_rounds = result.rounds, agents.max_rounds_for(benchmark_request)
        rounds_left = not approved and review_round < max_rounds
        revision = CoderRound(round=review_round + 1, review=result.reason) if rounds_left else None
        if approved:
            verdict = f"approved in round {review_round}"
        elif revision is not None:
            verdict = f"rejected in round {review_round}: {result.reason}; back to the coder for round {revision.round}"
        else:
            verdict = f"rejected in round {review_round}, the last of {max_rounds}: {result.reason}"
        metadata: dict[str, Any] = {
            "round": review_round,
            "max_rounds": max_rounds,
            "verdict": verdict,
            "review": dg.MetadataValue.md(review or result.reason),
            **session_metadata(result),
        }
        if revision is not None:
            metadata[NEXT_ROUND] = dg.MetadataValue.json(revision.model_dump())
        try:
            thumbnail = read_workspace_file(key, f"renders/{THUMBNAIL}", MAX_RENDER_BYTES)
            metadata["render_reviewed"] = dg.MetadataValue.md(image_markdown(thumbnail, "seed 0, azimuth 45°"))
            metadata["renders"] = dg.MetadataValue.path(str(workspace / "renders"))
        except UntrustedWorkspaceFile:
            metadata["render_reviewed"] = "no render was found for the reviewer"
        yield dg.Output(
            {
                "decision": result.decision,
                "reason": result.reason,
                "review": review,
                "review_file": review_name,  # in the candidate's workspace, handed on with it
                "script_sha256": cad_script["script_sha256"],
                "round": review_round,
            },
            data_version=text_version(review + result.decision),
            metadata=metadata,
        )
    if not approved:
        # After the output, and after the folder is handed on: `revising` sends whoever claims the round
        # (on any host) to this materialization's next_round, and it must find this round's workspace.
        status = CandidateStatus.REVISING if revision is not None else CandidateStatus.REJECTED
        registry.advance(key, "benchmark_review", status, reason=f"review {verdict}")
    yield dg.AssetCheckResult(
        check_name="review_approved",
        passed=approved,
        severity=dg.AssetCheckSeverity.ERROR,
        description=verdict,
        metadata={"review": dg.MetadataValue.path(str(review_path))},
    )


def claim_revision(instance: dg.DagsterInstance, registry: RegistryResource, key: str) -> dg.RunRequest | None:
    """The run of the coder's next round for a `revising` candidate, its review's comments as
    `cad_script`'s config; None when the candidate is not revising or another process claimed it."""
    candidate = registry.get(key)
    if candidate is None or candidate.status != CandidateStatus.REVISING:
        return None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("benchmark_review"), asset_partitions=[key]), limit=1
    ).records
    materialization = records[0].asset_materialization if records else None
    entry = materialization.metadata.get(NEXT_ROUND) if materialization else None
    if not isinstance(entry, dg.JsonMetadataValue):
        return None
    revision = CoderRound.model_validate(entry.value)
    reason = f"round {revision.round}: the coder revises the script after review round {revision.round - 1}"
    if not registry.claim(key, CandidateStatus.REVISING, CandidateStatus.RUNNING, stage="cad_script", reason=reason):
        return None
    return dg.RunRequest(
        run_key=f"{key}-round-{revision.round}",
        partition_key=key,
        asset_selection=[dg.AssetKey(name) for name in REVISION_ASSETS],
        run_config={"ops": {"cad_script": {"config": revision.model_dump()}}},
        tags={"benchgen/round": str(revision.round)},
    )


@dg.sensor(
    job_name=GENERATE_JOB,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends a candidate whose review was rejected with rounds left back to the coder: a run of "
    "cad_script and every stage after it, the review's comments as cad_script's config.",
)
def review_revision_sensor(context: dg.SensorEvaluationContext, registry: RegistryResource) -> dg.SensorResult:
    runs = [
        run
        for candidate in registry.in_status(CandidateStatus.REVISING)
        if (run := claim_revision(context.instance, registry, candidate.key)) is not None
    ]
    return dg.SensorResult(run_requests=runs, skip_reason=None if runs else "no rejected review waits for its round")
