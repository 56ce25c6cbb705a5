"""A solver judged on one benchmark, from the parent's side: the same sandboxes and the same judge as a check.

A solver is untrusted code, and so is the benchmark's script; neither ever sees the other, and neither
computes a verdict:
1. the builder builds the benchmark's scene on the seeds asked, without its reference solution;
2. the judge compiles and validates those scenes (no physics), and each seed's task
   (`models.evaluation.Task`) is made from what it compiled: the parts' bounds and masses, the zones,
   the constraints and the parameters;
3. the solver's module runs in a builder of its own, cold, with only the tasks and the benchmark's
   renders to read (`worker.builder`, `tasks`), and leaves each seed's parts as data;
4. the parts are put beside the scene in the first build's output, read through `safe_files` with the
   judge's bounds and validated as a build record, and the judge judges the solved scene as it judges a
   reference solution (`worker.solve`): in the goal and at rest, inside the build zone, clear of the
   forbid zones, within weight and cost.

`reference` is the script's own `solution()`, judged by `Checker.check` (the audit's check, its verdicts
reused); `none` adds nothing, and a seed counts as solved by it only where the scene alone ends in the
goal, which is what makes a benchmark trivial.
"""

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchgen_dagster.models.build import BUILD_RECORD, MESH_FOLDER, BuildRecord
from benchgen_dagster.models.evaluation import (
    NO_SOLUTION,
    REFERENCE,
    BenchmarkEvaluation,
    SeedEvaluation,
    Task,
    task_parts,
)
from benchgen_dagster.models.reports import Check, SeedOutcome
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.build_reader import MAX_MESH_BYTES, MAX_RECORD_BYTES, scaled_parts
from benchgen_dagster.worker.check import Checker
from benchgen_dagster.worker.runs import RunDirectory

MAX_SOLVER_BYTES = 1024 * 1024
TASKS_NAME = "tasks.json"


class SolverError(ValueError):
    """A solver that cannot be run: neither `reference`, `none` nor a module's source."""


def _first_problem(outcome: SeedOutcome) -> str:
    failed = [r for r in outcome.results if not r.passed]
    return f"{failed[0].check.value}: {failed[0].message}" if failed else "no verdict"


def seed_evaluation(outcome: SeedOutcome, solver: str) -> SeedEvaluation:
    """What the judge found for one seed: solved, and the solution's margins and time to the goal."""
    if solver == NO_SOLUTION:
        alone = [r for r in outcome.results if r.check == Check.NON_TRIVIAL]
        if not alone:
            return SeedEvaluation(seed=outcome.seed, solved=False, message=_first_problem(outcome))
        return SeedEvaluation(seed=outcome.seed, solved=not alone[0].passed, message=alone[0].message)
    found = [r for r in outcome.results if r.check == Check.SOLVABLE]
    if not found:
        return SeedEvaluation(seed=outcome.seed, solved=False, message=_first_problem(outcome))
    trace = outcome.solution
    return SeedEvaluation(
        seed=outcome.seed,
        solved=found[0].passed,
        message=found[0].message,
        mass_g=trace.mass_g if trace else None,
        unit_cost=trace.unit_cost if trace else None,
        weight_margin=trace.weight_margin if trace else None,
        cost_margin=trace.cost_margin if trace else None,
        reached_goal_s=trace.reached_goal_s if trace else None,
        time_limit_s=trace.time_limit_s if trace else None,
    )


def task_of(outcome: SeedOutcome, benchmark_id: str, family: str | None, tier: int | None, renders: list[str]) -> Task:
    """Seed `outcome.seed`'s task, from the judge's compiled scene, in the script's lengths: a benchmark
    grown to a scale (its manifest's `scale`) is judged grown, and the parts a solver returns are grown
    with it, as a reference solution's are."""
    spec = outcome.scene
    if spec is None:
        raise ValueError(f"seed {outcome.seed} has no compiled scene")
    shrink, volume = 1.0 / spec.scale, spec.scale**3
    limits = spec.constraints
    constraints = limits.model_copy(
        update={
            "max_weight_g": None if limits.max_weight_g is None else limits.max_weight_g / volume,
            "max_unit_cost": None if limits.max_unit_cost is None else limits.max_unit_cost / volume,
        }
    )
    # The judge grew the joints with the scene (anchors, strokes, drive speeds and delays): back to the script's.
    parts = [
        p.model_copy(
            update={
                "bounds_mm": tuple(tuple(c * shrink for c in corner) for corner in p.bounds_mm),
                "mass_g": p.mass_g / volume,
            }
        )
        for p in task_parts(outcome.parts, scaled_parts(spec.parts, shrink))
    ]
    return Task(
        benchmark_id=benchmark_id,
        family=family,
        tier=tier,
        seed=outcome.seed,
        title=spec.title,
        scale=spec.scale,
        moved_object=spec.moved_object,
        parts=parts,
        workspace=spec.workspace.scaled(shrink),
        goal_zone=spec.goal_zone.scaled(shrink),
        build_zone=spec.build_zone.scaled(shrink),
        forbid_zones=[z.scaled(shrink) for z in spec.forbid_zones],
        constraints=constraints,
        params=spec.params,
        renders=renders,
    )


def _scene_record(target: Path) -> BuildRecord | None:
    """The scene's build record, or None where it is not one (the judge then says what is wrong with it)."""
    try:
        return BuildRecord.model_validate_json(safe_files.read_bytes(target, BUILD_RECORD, MAX_RECORD_BYTES))
    except (safe_files.UnsafeFileError, ValidationError):
        return None


def _drop_solution(scene: Path, seed: int) -> None:
    target = scene / "seeds" / str(seed)
    record = _scene_record(target)
    if record is not None and (record.solution is not None or record.solution_error is not None):
        record.solution, record.solution_error = None, None
        safe_files.write_file_atomically(target / BUILD_RECORD, record.model_dump_json().encode())


def _take_solution(solved: Path, scene: Path, seed: int, failure: str | None) -> None:
    """Put the solver's parts for `seed` (its build folder `solved`) into the scene's record (`scene`), or
    the reason it has none. Both folders were written by untrusted code: bounded reads, no links."""
    target = scene / "seeds" / str(seed)
    record = _scene_record(target)
    if record is None:
        return
    record.solution, record.solution_error = None, failure
    if failure is None:
        source = solved / "seeds" / str(seed)
        try:
            made = BuildRecord.model_validate_json(safe_files.read_bytes(source, BUILD_RECORD, MAX_RECORD_BYTES))
            for part in made.solution or []:
                for solid in part.solids:
                    if not solid.mesh.startswith("solution-"):
                        raise ValueError(f"the solver's mesh {solid.mesh!r} is not named as a solution's")
                    name = f"{MESH_FOLDER}/{solid.mesh}"
                    safe_files.copy_out(source, name, target / name, MAX_MESH_BYTES)
            record.solution, record.solution_error = made.solution, made.solution_error
        except (safe_files.UnsafeFileError, ValidationError, ValueError) as error:
            record.solution_error = f"the solver's output for seed {seed} cannot be read: {error}"[:4000]
        if record.solution is None and record.solution_error is None:
            record.solution_error = f"the solver returned no parts for seed {seed}"
    safe_files.write_file_atomically(target / BUILD_RECORD, record.model_dump_json().encode())


def _solve(
    checker: Checker, source: bytes, tasks: dict[int, Task], views: list[Path], scale: float
) -> tuple[RunDirectory, dict[int, str]]:
    """Run the solver's module on `tasks` in a cold builder; its run folder and why seeds have no parts."""
    with RunDirectory.create(checker.home, source) as run:
        tasks_file = run.root / "input" / TASKS_NAME
        tasks_file.write_text(json.dumps({str(s): t.model_dump(mode="json") for s, t in tasks.items()}))
        # The views one by one, not their folder: it holds the reference solution's views too.
        inputs = tuple(views)
        missing, _ = checker.seed_runs.build(run, sorted(tasks), scale, solution=True, tasks=tasks_file, inputs=inputs)
    return run, {seed: _first_problem(outcome) for seed, outcome in missing.items()}


def evaluate_benchmark(
    checker: Checker,
    script: Path,
    seeds: Sequence[int],
    solver: str,
    source: bytes | None = None,
    *,
    benchmark_id: str,
    family: str | None = None,
    tier: int | None = None,
    renders: Path | None = None,
    scale: float = 1.0,
) -> BenchmarkEvaluation:
    """Judge a solver on the benchmark `script` at `seeds`: a module's `source` when given (`solver` is then
    only its name), else the baseline `solver` names (`reference` or `none`)."""
    seeds = list(seeds)
    about = {"benchmark_id": benchmark_id, "family": family, "tier": tier}
    kind = "module" if source is not None else solver
    if kind == REFERENCE:
        report = checker.check(script, seeds, scale)
        return _evaluation(about, report.outcomes, kind)
    if kind not in (NO_SOLUTION, "module"):
        raise SolverError(f"solver {solver!r} is not reference or none, and has no module: give solve(task, seed)")
    if source is not None and len(source) > MAX_SOLVER_BYTES:
        raise SolverError(f"the solver's module is over {MAX_SOLVER_BYTES // 1024} KB")
    if kind == "module" and not checker.sandbox.use_bubblewrap:
        # Unsandboxed, a module could read the benchmark's script and its solution() off the disk.
        raise SolverError("a solver's module runs only in the bubblewrap sandbox, which is not available here")
    with RunDirectory.create(checker.home, script.read_bytes()) as run:
        missing, _ = checker.seed_runs.build(run, seeds, scale, solution=False)
        built = [s for s in seeds if s not in missing]
        if kind == NO_SOLUTION or not built:
            # Its verdict is the scene's own run; no solution, even one a script's build() slipped in, is judged.
            for seed in built:
                _drop_solution(run.build, seed)
        else:
            _add_solver_parts(checker, run, built, source or b"", renders, scale, about)
        # Verdicts kept by the build's content: a scene left alone, or the same parts again, is judged once.
        verdicts = checker.judge_new(run, built, True, [])[0] if built else {}
    checker.finish(run)
    return _evaluation(about, [verdicts.get(s) or missing[s] for s in seeds], kind)


def _evaluation(about: dict[str, Any], outcomes: list[SeedOutcome], kind: str) -> BenchmarkEvaluation:
    """The benchmark's evaluation; seeds whose scene did not build or pass the judge's geometry are marked
    (`scene_failed`): they count as unsolved for every solver alike, and say whose fault it was."""
    seeds = []
    for outcome in outcomes:
        found = seed_evaluation(outcome, kind)
        if _scene_failed(outcome):
            found = found.model_copy(
                update={"scene_failed": True, "message": f"the benchmark's scene failed: {found.message}"}
            )
        seeds.append(found)
    error = "the benchmark's scene failed on every seed" if seeds and all(s.scene_failed for s in seeds) else None
    return BenchmarkEvaluation(**about, seeds=seeds, error=error)


def _scene_failed(outcome: SeedOutcome) -> bool:
    scene_checks = {Check.SCRIPT_RUNS, Check.SOLID_VALID, Check.MJCF_LOADS}
    return outcome.status != "judged" or any(r.check in scene_checks and not r.passed for r in outcome.results)


def _add_solver_parts(
    checker: Checker,
    run: RunDirectory,
    built: list[int],
    source: bytes,
    renders: Path | None,
    scale: float,
    about: dict[str, Any],
) -> None:
    """Judge the built scenes (no physics), give the solver their tasks, and put its parts beside them."""
    scenes, tasks, views = _tasks_of_built(checker, run, built, renders, about)
    solved, failures = _solve(checker, source, tasks, views, scale)
    for seed in built:
        refused = f"the judge refused the scene: {_first_problem(scenes[seed])}"
        _take_solution(solved.build, run.build, seed, failures.get(seed) if seed in tasks else refused)
    checker.finish(solved)
    shutil.rmtree(run.judge)  # the tasks' judging: the solved scene is judged afresh
    run.judge.mkdir()


def benchmark_views(renders: Path | None) -> list[Path]:
    """The benchmark's views a solver may look at: the scene's, never the reference solution's (a folder below)."""
    return sorted(p for p in renders.glob("view_*.png") if p.is_file()) if renders is not None else []


def _tasks_of_built(
    checker: Checker, run: RunDirectory, built: list[int], renders: Path | None, about: dict[str, Any]
) -> tuple[dict[int, SeedOutcome], dict[int, Task], list[Path]]:
    scenes = checker.judge_new(run, built, False, [])[0]  # every solver's tasks of these seeds: judged once
    views = benchmark_views(renders)
    shown = [str(p) for p in views]
    tasks = {
        s: task_of(scenes[s], about["benchmark_id"], about["family"], about["tier"], shown)
        for s in built
        if scenes[s].status == "judged" and scenes[s].scene is not None
    }
    return scenes, tasks, views


def scene_tasks(
    checker: Checker,
    script: Path,
    seeds: Sequence[int],
    *,
    benchmark_id: str,
    family: str | None = None,
    tier: int | None = None,
    renders: Path | None = None,
    scale: float = 1.0,
) -> dict[int, Task]:
    """The tasks of the benchmark `script` at `seeds` that its scene builds and the judge accepts (what an
    engineer agent is handed before it designs; the others' tasks do not exist, and those seeds count as
    the benchmark's failures when the design is judged)."""
    about = {"benchmark_id": benchmark_id, "family": family, "tier": tier}
    with RunDirectory.create(checker.home, script.read_bytes()) as run:
        missing, _ = checker.seed_runs.build(run, list(seeds), scale, solution=False)
        built = [s for s in seeds if s not in missing]
        tasks = _tasks_of_built(checker, run, built, renders, about)[1] if built else {}
    checker.finish(run)
    return tasks
