"""Promotion: an approved candidate becomes a benchmark folder in the dataset.

A promoted benchmark is a folder `dataset/<benchmark_id>/` (script.py, benchmark.yaml, seeds/<seed>/
scene.xml + meshes, renders/, reports/), built aside and moved into place in one rename, so an
interrupted run never leaves half a benchmark.
"""

import hashlib
import json
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from benchgen_dagster import __version__
from benchgen_dagster.agent.configuration import RENDERED_SCRIPT, rendered_marker
from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.cad import COMPILED_DIR, checked_script, trusted_renders_dir
from benchgen_dagster.defs.candidates import (
    REFRESH_WHEN_STALE,
    SANDBOX_RETRY,
    candidate_dir,
    candidate_handoff,
    candidate_partitions,
    code_version,
    text_version,
)
from benchgen_dagster.defs.folders import folder_swapped_in
from benchgen_dagster.defs.registry_db import RegistryLockTimeout
from benchgen_dagster.defs.resources import DATASET_LOCK, CandidateClosedError, RegistryResource, SandboxResource
from benchgen_dagster.defs.simulation import simulation_document
from benchgen_dagster.models.difficulty import difficulty
from benchgen_dagster.models.manifest import (
    BenchmarkManifest,
    ChecksEntry,
    Difficulty,
    JudgeEntry,
    Provenance,
    ReferenceSolution,
    ReviewEntry,
    SolvabilityEntry,
)
from benchgen_dagster.models.registry import CandidateStatus
from benchgen_dagster.models.reports import CheckReport, SeedOutcome
from benchgen_dagster.paths import MANIFEST, dataset_dir
from benchgen_dagster.worker.versions import judge_version

RENDER_SIZE = (320, 240)  # as the reviewer saw them
RENDER_VIEWS = 24


def _title(plan: str, fallback: str) -> str:
    match = re.search(r"^# (.+)$", plan, re.M)
    return match.group(1).strip() if match else fallback


def benchmark_id(script_sha256: str, family: str | None) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (family or "benchmark").lower()).strip("-")[:60] or "benchmark"
    return f"{slug}-{script_sha256[:10]}"


def scene_scale(report: dict[str, Any]) -> float:
    """The scale the checked scene was built at (what its script gave its Scene), 1 where none was judged."""
    scales = [
        float(scene["scale"]) for o in report.get("outcomes", []) if (scene := o.get("scene")) and "scale" in scene
    ]
    return max(scales, default=1.0)


def parameter_ranges(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each randomized parameter's declared range and the values the checked seeds drew."""
    ranges: dict[str, dict[str, float]] = {}
    for outcome in report.get("outcomes", []):
        for param in (outcome.get("scene") or {}).get("params", []):
            entry = ranges.setdefault(
                param["name"],
                {
                    "nominal": param["nominal"],
                    "low": param["low"],
                    "high": param["high"],
                    "min": param["value"],
                    "max": param["value"],
                },
            )
            entry["min"], entry["max"] = min(entry["min"], param["value"]), max(entry["max"], param["value"])
    return ranges


def _renders(key: str, script: Path, script_sha256: str, out: Path, checker: Any) -> None:
    """The benchmark's views: the worker's renders made for the review when they show this very script
    (kept outside the agents' reach), else rendered now in the sandbox. Never the workspace's copies."""
    trusted = trusted_renders_dir(key)
    marker = trusted / RENDERED_SCRIPT
    views = sorted(trusted.glob("view_*.png"))
    if marker.is_file() and marker.read_text() == rendered_marker(script_sha256) and len(views) == RENDER_VIEWS:
        out.mkdir()
        for view in views:
            shutil.copyfile(view, out / view.name)
        return
    width, height = RENDER_SIZE
    _, written = checker.render(script, 0, out, width, height, video=False)
    if not written:
        raise dg.Failure("the promoted script's scene could not be rendered", allow_retries=True)


def _solution_renders(script: Path, out: Path, checker: Any) -> int:
    """Seed 0 with its reference solution in place (`renders/solution/`), for the gallery; 0 if none shows."""
    width, height = RENDER_SIZE
    _, written = checker.render(script, 0, out, width, height, video=False, with_solution=True)
    return len(written)


def solvability_entry(simulation_report: dict[str, Any], simulation: dict[str, Any]) -> SolvabilityEntry:
    """The manifest's `solvability`: proven by the reference solution, or promoted unproven (and why)."""
    if simulation_report.get("solvability") == "proven":
        first = next((o["solution"] for o in simulation["outcomes"] if o.get("solution")), None) or {}
        return SolvabilityEntry(
            status="proven",
            seeds=simulation_report["seeds"],
            reference_solution=ReferenceSolution.model_validate(
                {k: first.get(k) for k in ("parts", "drives", "mass_g", "unit_cost", "reached_goal_s", "time_limit_s")}
            ),
        )
    failures = [f["message"] for f in simulation.get("failures", []) if f["check"] == "solvable"]
    reason = failures[0] if failures else "the script defines no solution(seed, scale)"
    return SolvabilityEntry(status="unproven", reason=reason)


def difficulty_entry(simulation: dict[str, Any], compiled: dict[str, Any]) -> Difficulty | None:
    """The manifest's `difficulty`: the score and its features over the checked seeds (models.difficulty)."""
    parts = {o["seed"]: o.get("parts", []) for o in compiled.get("outcomes", [])}
    outcomes = [
        SeedOutcome.model_validate({**o, "parts": parts.get(o["seed"], [])}) for o in simulation.get("outcomes", [])
    ]
    return difficulty(outcomes)


def write_benchmark(
    key: str,
    bid: str,
    manifest: BenchmarkManifest,
    script: Path,
    compiled: Path,
    reports: dict[str, Any],
    checker: Any,
) -> Path:
    """Build the benchmark folder aside in the dataset's folder, complete, and return it: the promotion moves
    it into place (`folder_swapped_in`) for as long as publishing and indexing it take."""
    dataset = dataset_dir()
    building = dataset / f".building-{bid}-{uuid.uuid4().hex[:8]}"
    building.mkdir()
    try:
        shutil.copyfile(script, building / "script.py")
        shutil.copytree(compiled, building / "seeds")
        _renders(key, script, str(manifest.provenance.script_sha256), building / "renders", checker)
        if manifest.solvability_status == "proven":
            _solution_renders(script, building / "renders" / "solution", checker)
        (building / "reports").mkdir()
        for name, content in reports.items():
            (building / "reports" / f"{name}.json").write_text(json.dumps(content, indent=1, default=str))
        # The manifest last: a folder with a manifest is complete.
        (building / MANIFEST).write_text(manifest.to_yaml())
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return building


def reject_duplicate(
    registry: RegistryResource, key: str, stage: str, digests: dict[str, str], script_sha256: str
) -> None:
    """Reject the candidate, and fail the step for good, when the dataset already holds its benchmark."""
    duplicate = registry.duplicate_of(digests, key, script_sha256)
    if duplicate:
        reason = f"its meshes duplicate {duplicate}, already in the dataset"
        registry.advance(key, stage, CandidateStatus.REJECTED, reason=reason)
        raise dg.Failure(f"not promoted: {reason}", allow_retries=False)


def promote_built(
    key: str,
    stage: str,
    bid: str,
    built: Path,
    row: dict[str, Any],
    registry: RegistryResource,
    artifacts: ArtifactStoreResource,
) -> tuple[Path, str]:
    """Move the built benchmark into the dataset, publish and index it; returns its folder and location.

    Under the dataset lock, which every host shares (defs/resources.py): the duplicate rule is asked
    again here, with every other promotion finished or not yet begun, so two at once of the same scene
    give one benchmark; and a curator's reject (which takes the same lock) cannot interleave."""
    with registry.locked(DATASET_LOCK):
        reject_duplicate(registry, key, stage, row["mesh_digests"], row["script_sha256"])
        registry.advance(key, stage)  # raises when a curator rejected it meanwhile
        # In place while it is published and indexed; a failure puts back the copy promoted before, if any.
        with folder_swapped_in(built, dataset_dir() / bid) as folder:
            location = artifacts.publish(folder, f"dataset/{bid}")
            # The index row and the candidate's PROMOTED status in one transaction.
            indexed = {**row, "path": str(folder), "location": location, "promoted_at": datetime.now(UTC)}
            registry.put_benchmark(indexed, promoted=(key, stage))
    return folder, location


def _same_script(*outputs: dict[str, Any]) -> bool:
    return len({o.get("script_sha256") for o in outputs}) == 1


@dg.asset(
    partitions_def=candidate_partitions,
    code_version=code_version(__name__, "models"),
    automation_condition=REFRESH_WHEN_STALE,
    group_name="dataset",
    kinds={"python"},
    output_required=False,
    description="The approved benchmark, written into the dataset (and uploaded to the artifact store). "
    "Held for `benchgen promote` when the request asks for human approval.",
    # A store or a database that went away for longer than their own windows (a refusal is final).
    retry_policy=SANDBOX_RETRY,
)
def promoted_benchmark(
    context: dg.AssetExecutionContext,
    benchmark_request: dict[str, Any],
    benchmark_plan: dict[str, Any],
    cad_script: dict[str, Any],
    compiled_scenes: dict[str, Any],
    simulation_report: dict[str, Any],
    benchmark_review: dict[str, Any],
    registry: RegistryResource,
    artifacts: ArtifactStoreResource,
    sandbox: SandboxResource,
) -> Any:
    key = context.partition_key
    with candidate_handoff(artifacts, key):
        stage = "promoted_benchmark"
        try:
            registry.advance(key, stage)
        except CandidateClosedError as error:
            raise dg.Failure(str(error), allow_retries=False) from None
        candidate = registry.get(key)
        assert candidate is not None
        # The blocking checks upstream stop failing candidates in the same run; a promotion launched on its
        # own (`benchgen promote`, the UI) must still see one script passed every stage.
        if not _same_script(cad_script, compiled_scenes, simulation_report, benchmark_review):
            reason = "the script changed since it was checked and reviewed: run the candidate again"
            registry.advance(key, stage, CandidateStatus.REJECTED, reason=reason)
            raise dg.Failure(reason, allow_retries=False)
        if not simulation_report["passed"] or benchmark_review["decision"] != "approved":
            raise dg.Failure(f"{key} has not passed its checks and review", allow_retries=False)
        judged = {compiled_scenes.get("judge"), simulation_report.get("judge")}
        if judged != {judge_version()}:
            # Checked before the trusted judge existed (or by another version of it): never promoted on that word.
            reason = (
                "its checks were not made by the current trusted judge "
                f"({', '.join(sorted(str(j) for j in judged))}, now {judge_version()}): run the candidate again"
            )
            registry.advance(key, stage, CandidateStatus.REJECTED, reason=reason)
            raise dg.Failure(reason, allow_retries=False)
        if benchmark_request["require_approval"] and not candidate.approved:
            registry.advance(key, stage, CandidateStatus.AWAITING_APPROVAL)
            context.log.info(f"{key} waits for a curator: benchgen promote {key}")
            return
        from benchgen_dagster.models.plans import NEW_FAMILY, plan_fields  # the planner's reader, imported late

        plan = benchmark_plan["plan"]
        front = plan_fields(plan)
        family = front.family if front.family != NEW_FAMILY else None  # a new mechanism is no library family
        bid = benchmark_id(cad_script["script_sha256"], family)
        # Asked before the folder is built (renders take a while), and again under the dataset lock.
        reject_duplicate(registry, key, stage, compiled_scenes["digests"], cad_script["script_sha256"])
        # The judge's whole verdict travels in compiled_scenes' output (never a file another step left).
        checked = CheckReport.model_validate_json(compiled_scenes["report"])
        simulation = simulation_document(checked)
        compiled_report = checked.model_dump(mode="json")
        ranges = parameter_ranges(compiled_report)
        tier = front.tier or benchmark_request["tier"]
        solvability = solvability_entry(simulation_report, simulation)
        measured = difficulty_entry(simulation, compiled_report)
        manifest = BenchmarkManifest(
            id=bid,
            title=_title(plan, bid),
            tier=tier,
            family=family,
            scale=scene_scale(compiled_report),
            learning_objectives=front.learning_objectives,
            parameters=ranges,
            seeds_checked=simulation_report["seeds"],
            checks=ChecksEntry(passed=True, failed=[]),
            # Who computed those verdicts: the trusted judge, by the hash of its code.
            judge=JudgeEntry(status="judged", version=judge_version(), seeds=list(simulation_report["seeds"])),
            solvability=solvability,
            difficulty=measured,
            review=ReviewEntry(decision=benchmark_review["decision"], comments=benchmark_review["reason"]),
            provenance=Provenance(
                candidate=key,
                request_id=benchmark_request["request_id"],
                prompt=benchmark_request["prompt"],
                model=benchmark_request["model"],
                plan_sha256=hashlib.sha256(plan.encode()).hexdigest(),
                script_sha256=cad_script["script_sha256"],
                skill_versions=cad_script["skills"],
                code_version=__version__,
                human_approved=candidate.approved,
            ),
            promoted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        row = {
            "benchmark_id": bid,
            "candidate": key,
            "title": manifest.title,
            "tier": tier,
            "family": family,
            "prompt": benchmark_request["prompt"],
            "model": benchmark_request["model"],
            "script_sha256": cad_script["script_sha256"],
            "seeds": len(simulation_report["seeds"]),
            "parameters": ranges,
            "mesh_digests": compiled_scenes["digests"],
            "difficulty": measured.score if measured else None,
            "solvability": solvability.status,
            "judge": judge_version(),
        }
        built = write_benchmark(
            key,
            bid,
            manifest,
            checked_script(key, cad_script),
            candidate_dir(key) / COMPILED_DIR,
            {"validation": compiled_report, "simulation": simulation, "review": benchmark_review},
            sandbox.checker(artifacts.shared_entries()),
        )
        try:
            folder, location = promote_built(key, stage, bid, built, row, registry, artifacts)
        except RegistryLockTimeout as error:
            raise dg.Failure(f"not promoted yet: {error}", allow_retries=True) from None
        except CandidateClosedError as error:  # a curator rejected it while its folder was being built
            raise dg.Failure(str(error), allow_retries=False) from None
        finally:
            shutil.rmtree(built, ignore_errors=True)  # only there if it never went into place
        yield dg.Output(
            {"benchmark_id": bid, "path": str(folder), "location": location},
            data_version=text_version(cad_script["script_sha256"] + bid),
            metadata={
                "benchmark_id": bid,
                "title": manifest.title,
                "tier": str(tier),
                "solvability": solvability.status,
                "difficulty": dg.MetadataValue.float(measured.score) if measured else "not measured",
                "location": dg.MetadataValue.url(location)
                if location.startswith("s3://")
                else dg.MetadataValue.path(location),
                "model": benchmark_request["model"],
                "prompt": dg.MetadataValue.text(benchmark_request["prompt"]),
                "plan_sha256": manifest.provenance.plan_sha256,
                "skill_versions": dg.MetadataValue.json(cad_script["skills"]),
                "code_version": __version__,
                "manifest": dg.MetadataValue.md(f"```yaml\n{manifest.to_yaml(allow_unicode=False)}\n```"),
            },
        )
