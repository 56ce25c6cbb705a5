"""Planning: the planner agent writes plan.md for the candidate."""

from typing import Any

import dagster as dg

from benchgen_dagster.defs.candidates import (
    AGENT_CODE,
    MODEL_RETRY,
    UntrustedWorkspaceFile,
    candidate_partitions,
    code_version,
    read_workspace_text,
    session_metadata,
    text_version,
    workspace_of,
)
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource, SandboxResource
from benchgen_dagster.models.registry import CandidateStatus

HANDED_OFF = "handed_off"


class AgentSessionError(dg.Failure):
    """The model failed mid-session, after the retries of each model call (agent/model_calls.py).

    Final for the step: Dagster's retry policy is for crashes of the step itself, and retrying a model
    failure here too would multiply the retries and redo the sandbox work the session did."""

    def __init__(self, description: str) -> None:
        super().__init__(description, allow_retries=False)


def model_failed(result: Any) -> bool:
    """The session ended because its model failed, not because of what it made (checks, a refusal)."""
    return bool(result.decision == "failed" and not result.failed_checks)


def finish_role(result: Any, key: str, stage: str, registry: RegistryResource) -> None:
    """A role that did not hand off ends the candidate: rejected for a refusal, failed for a model failure."""
    if result.decision == HANDED_OFF:
        return
    if model_failed(result):
        registry.advance(key, stage, CandidateStatus.FAILED, reason=f"{stage}: the model failed: {result.reason}")
        raise AgentSessionError(f"{stage}: {result.reason}")
    registry.advance(key, stage, CandidateStatus.REJECTED, reason=f"{stage}: {result.decision}: {result.reason}")
    raise dg.Failure(f"{stage}: {result.decision}: {result.reason}", allow_retries=False)


def workspace_text(key: str, relative: str, stage: str) -> str:
    try:
        return read_workspace_text(key, relative)
    except UntrustedWorkspaceFile as error:
        raise dg.Failure(f"{stage}: {error}", allow_retries=False) from None


@dg.asset(
    partitions_def=candidate_partitions,
    code_version=code_version(__name__, *AGENT_CODE),
    group_name="generation",
    kinds={"python"},
    retry_policy=MODEL_RETRY,
    description="The planner's plan.md: learning objectives, geometry, randomization, self-verification.",
)
def benchmark_plan(
    context: dg.AssetExecutionContext,
    benchmark_request: dict[str, Any],
    agents: AgentsResource,
    registry: RegistryResource,
    sandbox: SandboxResource,
) -> dg.Output[dict[str, Any]]:
    key = context.partition_key
    # A run again after a crash of the step: the candidate is running, not failed, until it ends.
    registry.advance(key, "benchmark_plan", CandidateStatus.RUNNING, reason="")
    # The coder's first check comes next: its sandboxes warm up while the planner plans.
    sandbox.prewarm()
    result = agents.run(("planner",), benchmark_request["prompt"], workspace_of(key), model=benchmark_request["model"])
    finish_role(result, key, "benchmark_plan", registry)
    plan = workspace_text(key, "plan.md", "benchmark_plan")
    return dg.Output(
        {"plan": plan, "usage": result.usage},
        data_version=text_version(plan),
        metadata={"plan": dg.MetadataValue.md(plan), **session_metadata(result)},
    )
