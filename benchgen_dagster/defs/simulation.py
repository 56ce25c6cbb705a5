"""Simulation: every seed's scene runs in MuJoCo in the trusted judge; stability and non-triviality gate it,
and the reference solution proves it solvable (required unless the sandbox resource relaxes it).

The judge ran the physics when it compiled the seeds: this stage reads that verdict from
`compiled_scenes`' output and gates on its physics, so a changed script, setting or judge means new
work upstream and here, and nothing is judged twice."""

import json
from typing import Any

import dagster as dg

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.cad import record_gate_failures, sandbox_limits
from benchgen_dagster.defs.candidates import (
    REFRESH_WHEN_STALE,
    SANDBOX_CODE,
    candidate_dir,
    candidate_handoff,
    candidate_partitions,
    check_result,
    code_version,
    seed_table,
    text_version,
)
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import RegistryResource, SandboxResource
from benchgen_dagster.models.registry import CandidateStatus
from benchgen_dagster.models.reports import CheckReport

STABILITY_CHECKS = ["stability"]
NON_TRIVIAL_CHECKS = ["non_trivial"]
SOLVABLE_CHECKS = ["solvable"]
UNPROVEN = "the script defines no solution(seed, scale): solvability is unproven"


_TRACE_COLUMNS = [
    dg.TableColumn("seed", "int"),
    dg.TableColumn("max speed m/s", "float"),
    dg.TableColumn("max penetration mm", "float"),
    dg.TableColumn("final speed m/s", "float"),
    dg.TableColumn("moved from → to (mm)"),
]


def simulation_document(report: CheckReport) -> dict[str, Any]:
    """The simulation's verdict as the benchmark keeps it: the judge's report, without the parts it read."""
    return report.model_dump(mode="json", exclude={"outcomes": {"__all__": {"parts"}}})


def _trace_table(report: CheckReport) -> dg.TableMetadataValue:
    rows: list[dict[str, object]] = []
    for outcome in report.outcomes:
        trace = outcome.simulation
        if trace is None:
            rows.append({"seed": outcome.seed, "moved from → to (mm)": "not simulated"})
            continue
        start = ", ".join(f"{v:.0f}" for v in trace.moved_start_mm)
        end = ", ".join(f"{v:.0f}" for v in trace.moved_end_mm)
        rows.append(
            {
                "seed": outcome.seed,
                "max speed m/s": round(trace.max_speed_m_s, 2),
                "max penetration mm": round(trace.max_penetration_mm, 2),
                "final speed m/s": round(trace.final_speed_m_s, 3),
                "moved from → to (mm)": f"({start}) → ({end})",
            }
        )
    return table(_TRACE_COLUMNS, rows)


@dg.asset(
    partitions_def=candidate_partitions,
    code_version=code_version(__name__, *SANDBOX_CODE),
    automation_condition=REFRESH_WHEN_STALE,
    group_name="generation",
    kinds={"mujoco"},
    description="Per-seed physics, judged by the trusted judge: stable, settled, not solved by itself over the "
    "whole solvability time, and solved by the reference solution (in the goal and at rest): the verdict the "
    "judge made with compiled_scenes.",
    check_specs=[
        dg.AssetCheckSpec(
            "stability",
            asset="simulation_report",
            blocking=True,
            description="no NaN or warnings, no body over 100 m/s, no energy gain, settles",
        ),
        dg.AssetCheckSpec(
            "non_triviality",
            asset="simulation_report",
            blocking=True,
            description="the moved object does not reach the goal by itself",
        ),
        dg.AssetCheckSpec(
            "solvability",
            asset="simulation_report",
            blocking=True,
            description="the script's reference solution() puts the moved object in the goal on every seed, "
            "inside the build zone, clear of forbid zones, within max_weight and max_unit_cost",
        ),
    ],
)
def simulation_report(
    context: dg.AssetExecutionContext,
    compiled_scenes: dict[str, Any],
    sandbox: SandboxResource,
    registry: RegistryResource,
    artifacts: ArtifactStoreResource,
) -> Any:
    key = context.partition_key
    with candidate_handoff(artifacts, key):
        registry.advance(key, "simulation_report")
        if "report" not in compiled_scenes:
            raise dg.Failure(
                "compiled_scenes was made by an earlier benchgen, without its verdict: materialize it again"
            )
        report = CheckReport.model_validate_json(compiled_scenes["report"])
        path = candidate_dir(key) / "simulation_report.json"
        path.write_text(json.dumps(simulation_document(report), indent=1))
        solvability = report.solvability
        physics_passed = not [f for f in report.failures if f.check not in SOLVABLE_CHECKS]
        summary = {
            "passed": physics_passed and (solvability == "proven" or not sandbox.require_solvable),
            "solvability": solvability,
            "seeds": report.seeds,
            "failed_checks": sorted({f.check for f in report.failures}),
            "failures": [f.model_dump() for f in report.failures[:20]],
            "script_sha256": compiled_scenes["script_sha256"],
            "judge": compiled_scenes["judge"],
        }
        gates = {"stability": STABILITY_CHECKS, "non_triviality": NON_TRIVIAL_CHECKS}
        if sandbox.require_solvable:
            gates["solvability"] = SOLVABLE_CHECKS
        record_gate_failures(registry, key, "simulation_report", report, gates)
        if physics_passed and solvability == "unproven" and sandbox.require_solvable:
            registry.advance(
                key, "simulation_report", CandidateStatus.REJECTED, reason=f"check solvability failed: {UNPROVEN}"
            )
        yield dg.Output(
            summary,
            data_version=text_version(
                json.dumps([summary["failed_checks"], summary["passed"]]) + compiled_scenes["script_sha256"]
            ),
            metadata={
                "round": compiled_scenes.get("round", 1),
                "passed": summary["passed"],
                "checks_by_seed": seed_table(report, [c.value for c in _all_checks()]),
                "trajectories": _trace_table(report),
                "solvability": solvability,
                "solutions": _solution_table(report),
                "report": dg.MetadataValue.path(str(path)),
                "sandbox_wall_s": dg.MetadataValue.float(round(report.wall_s, 2)),
                "judge_peak_rss_mb": dg.MetadataValue.float(round(report.peak_rss_mb, 1)),
                "judge": compiled_scenes["judge"],
                "sandbox_limits": dg.MetadataValue.md(sandbox_limits(report)),
            },
        )
        yield check_result(report, "stability", STABILITY_CHECKS, "every seed is stable and settles")
        yield check_result(report, "non_triviality", NON_TRIVIAL_CHECKS, "no seed solves itself")
        yield solvability_result(report, solvability, sandbox.require_solvable)


def solvability_result(report: CheckReport, solvability: str, required: bool) -> dg.AssetCheckResult:
    """The solvability gate: blocking while solvability is required, a recorded warning once relaxed."""
    result = check_result(report, "solvability", SOLVABLE_CHECKS, "the reference solution solves every seed")
    if solvability == "unproven":
        message = UNPROVEN
        result = dg.AssetCheckResult(
            check_name="solvability",
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=message,
            metadata={"failed_seeds": dg.MetadataValue.text("all"), "failures": dg.MetadataValue.md(f"- {message}")},
        )
    if result.passed or required:
        return result
    return dg.AssetCheckResult(
        check_name="solvability",
        passed=True,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{solvability}, and not required (require_solvable is off): promoted as unproven",
        metadata=result.metadata,
    )


_SOLUTION_COLUMNS = [
    dg.TableColumn("seed", "int"),
    dg.TableColumn("parts"),
    dg.TableColumn("weight g", description="the reference solution's weight / max_weight"),
    dg.TableColumn("cost", description="its unit cost / max_unit_cost"),
    dg.TableColumn("reached goal s", description="when the moved object first entered the goal zone"),
    dg.TableColumn("in goal at end"),
]


def _solution_table(report: CheckReport) -> dg.TableMetadataValue:
    rows: list[dict[str, object]] = []
    for outcome in report.outcomes:
        solution = outcome.solution
        if solution is None:
            rows.append({"seed": outcome.seed, "in goal at end": "no solution run"})
            continue
        reached = f"{solution.reached_goal_s:.2f}" if solution.reached_goal_s is not None else "never"
        rows.append(
            {
                "seed": outcome.seed,
                "parts": ", ".join(solution.parts),
                "weight g": f"{solution.mass_g:.0f} / {solution.max_weight_g}",
                "cost": f"{solution.unit_cost:.2f} / {solution.max_unit_cost}",
                "reached goal s": reached,
                "in goal at end": str(solution.in_goal_at_end),
            }
        )
    return table(_SOLUTION_COLUMNS, rows)


def _all_checks() -> list[Any]:
    from benchgen_dagster.models.reports import Check

    return list(Check)
