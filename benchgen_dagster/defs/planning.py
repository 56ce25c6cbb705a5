"""Planning: the planner agent writes plan.md for the candidate."""

from typing import Any

import dagster as dg

from benchgen_dagster.defs.candidates import (
    MODEL_RETRY,
    candidate_partitions,
    code_version,
    session_metadata,
    text_version,
    workspace_of,
)
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource
from benchgen_dagster.models.registry import CandidateStatus

HANDED_OFF = "handed_off"


class AgentSessionError(RuntimeError):
    """The model failed mid-session (after its own retries); Dagster's retry policy may run the step again."""


def finish_role(result: Any, key: str, stage: str, registry: RegistryResource) -> None:
    """A role that did not hand off ends the candidate: refusals are final, model failures retryable."""
    if result.decision == HANDED_OFF:
        return
    status = CandidateStatus.FAILED if result.decision == "failed" else CandidateStatus.REJECTED
    registry.update(key, status=status, stage=stage, reason=f"{result.decision}: {result.reason}")
    if result.decision == "failed":
        raise AgentSessionError(f"{stage}: {result.reason}")
    raise dg.Failure(f"{stage}: {result.decision}: {result.reason}", allow_retries=False)


@dg.asset(
    partitions_def=candidate_partitions,
    code_version=code_version("plan"),
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
) -> dg.Output[dict[str, Any]]:
    key = context.partition_key
    registry.update(key, stage="benchmark_plan")
    workspace = workspace_of(key)
    result = agents.run(("planner",), benchmark_request["prompt"], workspace, model=benchmark_request["model"])
    finish_role(result, key, "benchmark_plan", registry)
    plan = (workspace / "plan.md").read_text()
    return dg.Output(
        {"plan": plan, "workspace": str(workspace), "usage": result.usage},
        data_version=text_version(plan),
        metadata={"plan": dg.MetadataValue.md(plan), **session_metadata(result)},
    )
