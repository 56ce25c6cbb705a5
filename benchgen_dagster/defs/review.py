"""Review: the reviewer agent looks at the renders and the reports and approves or rejects."""

from typing import Any

import dagster as dg

from benchgen_dagster.defs.candidates import (
    AGENT_CODE,
    MAX_RENDER_BYTES,
    MODEL_RETRY,
    REFRESH_WHEN_STALE,
    UntrustedWorkspaceFile,
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
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource
from benchgen_dagster.models.registry import CandidateStatus

THUMBNAIL = "view_az045_el35.png"


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
) -> Any:
    key = context.partition_key
    registry.advance(key, "benchmark_review", CandidateStatus.RUNNING)
    workspace = workspace_of(key)
    result = agents.run(
        ("reviewer",),
        benchmark_request["prompt"],
        workspace,
        model=benchmark_request["model"],
        start_round=max(1, cad_script["rounds"]),
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
    if not approved:
        registry.advance(key, "benchmark_review", CandidateStatus.REJECTED, reason=f"review: {result.reason}")
    metadata: dict[str, Any] = {"review": dg.MetadataValue.md(review or result.reason), **session_metadata(result)}
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
            "review_path": str(review_path),
            "script_sha256": cad_script["script_sha256"],
        },
        data_version=text_version(review + result.decision),
        metadata=metadata,
    )
    yield dg.AssetCheckResult(
        check_name="review_approved",
        passed=approved,
        severity=dg.AssetCheckSeverity.ERROR,
        description="approved" if approved else f"rejected: {result.reason}",
        metadata={"review": dg.MetadataValue.path(str(review_path))},
    )
