"""CAD: the coder agent writes script.py; the sandboxed worker compiles it to meshes and MJCF per seed.

`compiled_scenes` carries the geometry gates as blocking checks: nothing whose solids, zones, spawn
overlaps, MJCF, determinism or randomization fail goes further.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import (
    AGENT_CODE,
    MODEL_RETRY,
    REFRESH_WHEN_STALE,
    SANDBOX_CODE,
    SANDBOX_RETRY,
    candidate_dir,
    candidate_handoff,
    candidate_partitions,
    check_result,
    code_version,
    is_workspace_file,
    seed_table,
    session_metadata,
    text_version,
    workspace_of,
)
from benchgen_dagster.defs.planning import finish_role, model_failed, workspace_text
from benchgen_dagster.defs.resources import (
    AgentsResource,
    CandidateClosedError,
    RegistryResource,
    SandboxResource,
)
from benchgen_dagster.defs.skills import skill_store
from benchgen_dagster.models.registry import CandidateStatus
from benchgen_dagster.models.reports import Check, CheckReport
from benchgen_dagster.worker.versions import judge_version

GEOMETRY_CHECKS = [
    Check.SCRIPT_RUNS.value,
    Check.SOLID_VALID.value,
    Check.INSIDE_WORKSPACE.value,
    Check.ZONES_CONSISTENT.value,
    Check.NO_INTERPENETRATION.value,
    Check.MJCF_LOADS.value,
    Check.DETERMINISTIC.value,
]
RANDOMIZATION_CHECKS = [Check.RANDOMIZATION_COVERAGE.value, Check.GEOMETRIC_VARIETY.value]


class CoderRound(dg.Config):
    """Which round of the coder a materialization of cad_script begins in, and the comments of the
    rejected review that sent the script back: the revision run's config (see defs/review.py)."""

    round: int = Field(default=1, ge=1, le=10)
    review: str = ""

    def feedback(self) -> str:
        """What the coder is told: the review of the round before, in the reviewer's words."""
        return f"Review of round {self.round - 1}: {self.review}" if self.review else ""


@dg.asset(
    partitions_def=candidate_partitions,
    code_version=code_version(__name__, *AGENT_CODE),
    group_name="generation",
    kinds={"python", "build123d"},
    retry_policy=MODEL_RETRY,
    deps=["learned_skills"],
    description="The coder's parametric build123d script, verified by the coder with the worker's utilities, "
    "written with the current learned skills (a new skill version marks it stale).",
)
def cad_script(
    context: dg.AssetExecutionContext,
    config: CoderRound,
    benchmark_request: dict[str, Any],
    benchmark_plan: dict[str, Any],
    agents: AgentsResource,
    registry: RegistryResource,
    artifacts: ArtifactStoreResource,
) -> dg.Output[dict[str, Any]]:
    key = context.partition_key
    with candidate_handoff(artifacts, key):
        try:
            registry.advance(key, "cad_script", CandidateStatus.RUNNING)
        except CandidateClosedError as error:  # a curator rejected it while its revision was queued
            raise dg.Failure(str(error), allow_retries=False) from None
        workspace = workspace_of(key)
        store = skill_store(registry, artifacts)
        versions = store.labels()
        feedback = config.feedback()
        result = agents.run(
            ("coder",),
            benchmark_request["prompt"],
            workspace,
            model=benchmark_request["model"],
            feedback=feedback,
            skills_dir=store.current_dir if versions else None,
            start_round=config.round,
            max_rounds=agents.max_rounds_for(benchmark_request),
            renders_dir=trusted_renders_dir(key),
            shared_verdicts=artifacts.shared_entries(),
        )
        if model_failed(result):
            finish_role(result, key, "cad_script", registry)
        if not is_workspace_file(key, "script.py"):
            finish_role(result, key, "cad_script", registry)
            registry.advance(
                key, "cad_script", CandidateStatus.REJECTED, reason="cad_script: the coder wrote no script.py"
            )
            raise dg.Failure("cad_script: the coder wrote no script.py", allow_retries=False)
        # Checks that failed in the coder's own loop are not final here: the pipeline's gates check the
        # script again and say which seeds fail and why.
        script = workspace_text(key, "script.py", "cad_script")
        digest = hashlib.sha256(script.encode()).hexdigest()
        return dg.Output(
            {
                "script": script,
                "script_sha256": digest,
                # The round the script was handed on in (the review's round); `first_round` the one it began in.
                "rounds": result.rounds,
                "first_round": config.round,
                "agent_checks_passed": result.checks_passed,
                "skills": versions,
                "skills_read": {name: versions.get(name, "unknown") for name in result.skills_read},
                "usage": result.usage,
            },
            data_version=text_version(script),
            metadata={
                "script": dg.MetadataValue.md(f"```python\n{script}\n```"),
                "script_sha256": digest[:16],
                "round": result.rounds,
                "first_round": config.round,
                "review_feedback": dg.MetadataValue.md(feedback or "none: the first round"),
                "agent_gate": "passed" if result.checks_passed else "failed: " + ", ".join(result.failed_checks),
                "skill_versions": dg.MetadataValue.json(versions),
                "skills_read": dg.MetadataValue.md(
                    "\n".join(f"- {name} {versions.get(name, '')}" for name in result.skills_read) or "none"
                ),
                **session_metadata(result),
            },
        )


# The judge's compiled seeds in the candidate's folder (handed on with it, to the promotion).
COMPILED_DIR = "compiled"


def trusted_renders_dir(key: str) -> Path:
    """The worker's renders of the coder's checked script, outside the agents' workspace."""
    return candidate_dir(key) / "renders"


def checked_script(key: str, cad: dict[str, Any]) -> Path:
    """The materialized script text, written where the worker reads it (not the agents' workspace copy)."""
    path = candidate_dir(key) / "checked" / "script.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cad["script"])
    return path


@dg.asset(
    partitions_def=candidate_partitions,
    code_version=code_version(__name__, *SANDBOX_CODE),
    automation_condition=REFRESH_WHEN_STALE,
    group_name="generation",
    kinds={"mujoco"},
    description="Meshes and MJCF per seed: the builder writes the script's scenes as data, the trusted judge "
    "compiles and validates them (its output is what gets promoted).",
    check_specs=[
        dg.AssetCheckSpec(
            "geometry",
            asset="compiled_scenes",
            blocking=True,
            description="valid solids, inside the "
            "workspace, consistent zones, no spawn overlaps, MJCF loads, deterministic",
        ),
        dg.AssetCheckSpec(
            "randomization_coverage",
            asset="compiled_scenes",
            blocking=True,
            description="draws cover ±40 % of each declared range; at least 5 distinct mesh sets",
        ),
    ],
    retry_policy=SANDBOX_RETRY,
)
def compiled_scenes(
    context: dg.AssetExecutionContext,
    cad_script: dict[str, Any],
    sandbox: SandboxResource,
    registry: RegistryResource,
    artifacts: ArtifactStoreResource,
) -> Any:
    key = context.partition_key
    with candidate_handoff(artifacts, key):
        registry.advance(key, "compiled_scenes")
        dest = candidate_dir(key) / COMPILED_DIR
        # The full check (the coder's gate made the same one, so the judge's verdict is reused): this stage
        # gates on its geometry, simulation_report on its physics.
        report = sandbox.checker(artifacts.shared_entries()).check(
            checked_script(key, cad_script), list(range(sandbox.seeds)), compiled_dest=dest
        )
        folders = [p for p in dest.iterdir() if p.is_dir()] if dest.is_dir() else []
        # The builder's output per seed: what a script builds, whatever version of the judge reads it, so a
        # duplicate is recognised across judge versions.
        digests = {str(o.seed): o.input_digest for o in report.outcomes if o.input_digest}
        parameters = {str(o.seed): {p.name: p.value for p in o.scene.params} for o in report.outcomes if o.scene}
        record_gate_failures(
            registry,
            key,
            "compiled_scenes",
            report,
            {"geometry": GEOMETRY_CHECKS, "randomization_coverage": RANDOMIZATION_CHECKS},
        )
        yield dg.Output(
            {
                "seeds": report.seeds,
                "digests": digests,
                "parameters": parameters,
                "script_sha256": cad_script["script_sha256"],
                "round": cad_script.get("rounds", 1),
                "judge": judge_version(),
                # The whole verdict, physics included: simulation_report gates on it, without asking again.
                "report": report.model_dump_json(),
            },
            data_version=text_version(json.dumps(digests, sort_keys=True)),
            metadata={
                "round": cad_script.get("rounds", 1),
                "seeds": len(report.seeds),
                "compiled_seeds": len(folders),
                "distinct_mesh_sets": len({o.scene_digest for o in report.outcomes if o.scene_digest}),
                "checks_by_seed": seed_table(report, GEOMETRY_CHECKS + RANDOMIZATION_CHECKS),
                "folder": dg.MetadataValue.path(str(dest)),
                "sandbox_wall_s": dg.MetadataValue.float(round(report.wall_s, 2)),
                "verdict_reused": report.cached,
                "isolation": str(report.sandbox.get("isolation", "")),
                "judge": judge_version(),
                "sandbox_limits": dg.MetadataValue.md(sandbox_limits(report)),
            },
        )
        yield check_result(report, "geometry", GEOMETRY_CHECKS, "every seed compiles to valid, consistent geometry")
        yield check_result(report, "randomization_coverage", RANDOMIZATION_CHECKS, "the seeds really vary the scene")


def sandbox_limits(report: CheckReport) -> str:
    """The limits that applied to the check's sandbox runs, as the report states them (never more)."""
    keys = ("isolation", "judge", "user", "processes", "memory", "disk", "cpu", "file_size", "cgroups")
    return "\n".join(f"- {key}: {report.sandbox[key]}" for key in keys if key in report.sandbox)


def record_gate_failures(
    registry: RegistryResource, key: str, stage: str, report: CheckReport, gates: dict[str, list[str]]
) -> None:
    """A failed gate ends the candidate: the registry says which check, which seed and why."""
    for gate, checks in gates.items():
        failure = next((f for f in report.failures if f.check in checks), None)
        if failure is not None:
            where = f"seed {failure.seed}" if failure.seed is not None else "all seeds"
            reason = f"check {gate} failed ({failure.check}, {where}): {failure.message}"
            registry.advance(key, stage, CandidateStatus.REJECTED, reason=reason)
            return
