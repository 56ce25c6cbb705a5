"""Planning: the planner agent writes plan.md for the candidate, and its front matter is validated here.

A plan whose front matter does not validate (`models.plans.read_plan`) rejects the candidate with the one
line that says which field is wrong; it is not a model failure to retry. The stage's output and metadata
carry the plan's structured fields, its deviations from the request among them (what `benchgen generate`'s
table shows).
"""

from typing import Any

import dagster as dg

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import (
    AGENT_CODE,
    MODEL_RETRY,
    UntrustedWorkspaceFile,
    candidate_handoff,
    candidate_partitions,
    code_version,
    is_workspace_file,
    read_workspace_text,
    session_metadata,
    text_version,
    workspace_of,
)
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource, SandboxResource
from benchgen_dagster.library import catalogue, layout_scales
from benchgen_dagster.models.plans import Deviation, PlanError, PlanFrontMatter, read_plan
from benchgen_dagster.models.registry import CandidateStatus

HANDED_OFF = "handed_off"


class AgentSessionError(dg.Failure):
    """The model failed mid-session, after the retries of each model call (agent/model_calls.py).

    Final for the step: Dagster's retry policy is for crashes of the step itself, and retrying a model
    failure here too would multiply the retries and redo the sandbox work the session did."""

    def __init__(self, description: str) -> None:
        super().__init__(description, allow_retries=False)


def model_failed(result: Any) -> bool:
    """The session ended because its model failed (after its retries, or out of its budget), not because of
    what it made (checks, a refusal), even where a check the role ran had failed before."""
    return bool(result.decision == "failed" and getattr(result, "model_failed", False))


def finish_role(result: Any, key: str, stage: str, registry: RegistryResource) -> None:
    """A role that did not hand off ends the candidate: rejected for a refusal, failed for a model failure."""
    if result.decision == HANDED_OFF:
        return
    if model_failed(result):
        registry.advance(key, stage, CandidateStatus.FAILED, reason=f"{stage}: the model failed: {result.reason}")
        raise AgentSessionError(f"{stage}: {result.reason}")
    registry.advance(key, stage, CandidateStatus.REJECTED, reason=f"{stage}: {result.decision}: {result.reason}")
    raise dg.Failure(f"{stage}: {result.decision}: {result.reason}", allow_retries=False)


def validated_plan(key: str, plan: str, registry: RegistryResource) -> PlanFrontMatter:
    """The plan's front matter, or the candidate rejected with the one line that says what is wrong with it."""
    try:
        return read_plan(plan, catalogue(), layout_scales())
    except PlanError as error:
        reason = f"benchmark_plan: {error}"
        registry.advance(key, "benchmark_plan", CandidateStatus.REJECTED, reason=reason)
        raise dg.Failure(reason, allow_retries=False) from None


DEVIATION_COLUMNS = [
    dg.TableColumn("quantity", description="what the request asked for"),
    dg.TableColumn("requested"),
    dg.TableColumn("planned", description="empty: the plan does not represent it"),
    dg.TableColumn("unit"),
    dg.TableColumn("reason"),
]


def deviation_table(deviations: list[Deviation]) -> dg.TableMetadataValue:
    return table(DEVIATION_COLUMNS, [d.model_dump() for d in deviations])


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
    artifacts: ArtifactStoreResource,
) -> dg.Output[dict[str, Any]]:
    key = context.partition_key
    with candidate_handoff(artifacts, key):
        # A run again after a crash of the step: the candidate is running, not failed, until it ends.
        registry.advance(key, "benchmark_plan", CandidateStatus.RUNNING, reason="")
        # The coder's first check comes next: its sandboxes warm up while the planner plans.
        sandbox.prewarm()
        result = agents.run(
            ("planner",), benchmark_request["prompt"], workspace_of(key), model=benchmark_request["model"]
        )
        if result.decision == "failed" and is_workspace_file(key, "plan.md"):
            # The planner ran out of tries at valid front matter: the candidate's plan is bad, not its model.
            validated_plan(key, workspace_text(key, "plan.md", "benchmark_plan"), registry)
        finish_role(result, key, "benchmark_plan", registry)
        plan = workspace_text(key, "plan.md", "benchmark_plan")
        front = validated_plan(key, plan, registry)
        return dg.Output(
            {"plan": plan, "usage": result.usage, "front_matter": front.model_dump(mode="json")},
            data_version=text_version(plan),
            metadata={
                "plan": dg.MetadataValue.md(plan),
                **({"family": front.family} if front.family else {}),
                **({"tier": front.tier} if front.tier else {}),
                # The family's layout grown to reach the request (1: as the family is).
                "layout_scale": front.scale,
                "learning_objectives": dg.MetadataValue.md("".join(f"- {o}\n" for o in front.learning_objectives)),
                "deviations": deviation_table(front.deviations),
                "deviation_count": len(front.deviations),
                **session_metadata(result),
            },
        )


def plan_deviations(keys: list[str], instance: dg.DagsterInstance) -> dict[str, list[str]]:
    """Each candidate's deviations from its request, one line each, as its latest plan's metadata lists them
    (`benchmark_plan`, above), after how far its layout grew; [] where none or never planned."""
    found: dict[str, list[str]] = {}
    for key in keys:
        plans = dg.AssetRecordsFilter(asset_key=dg.AssetKey("benchmark_plan"), asset_partitions=[key])
        records = instance.fetch_materializations(plans, limit=1).records
        made = records[0].asset_materialization if records else None
        listed = made.metadata.get("deviations") if made else None
        rows = listed.records if isinstance(listed, dg.TableMetadataValue) else []
        scale = made.metadata.get("layout_scale") if made else None
        grown = [f"layout grown {scale.value:g}× to reach the request"] if scale and scale.value != 1 else []
        found[key] = grown + [Deviation.model_validate(row.data).summary() for row in rows]
    return found
