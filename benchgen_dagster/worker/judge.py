"""The judge: the trusted half of a check, `python -m benchgen_dagster.worker.judge JOB_JSON`.

It runs sandboxed too (it parses untrusted files), but it never imports or executes anything the
builder wrote: it reads the builder's data (`worker.build_reader`), decomposes, writes the MJCF and
runs validate, simulate, solve and render. Its per-seed `seeds/<seed>/verdict.json` files are the
only verdicts the parent accepts, and its meshes, MJCF and renders are what gets promoted.
"""

import os
import resource
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from benchgen_dagster.models.reports import Check, CheckResult, JudgeSummary, SeedOutcome
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.build_reader import BuildInputError, SceneInput, read_build
from benchgen_dagster.worker.compile import CompiledScene, CompileError, DecompositionCache, compile_parts
from benchgen_dagster.worker.mjcf import load_compiled_model, write_compiled
from benchgen_dagster.worker.safe_files import write_file_atomically

VERDICT_NAME = "verdict.json"
SUMMARY_NAME = "judge.json"
RENDERS = "renders"
CACHE_NEW = "cache_new"


class ViewRequest(BaseModel):
    """Views of one judged seed into `renders/<folder>/`: the scene alone, or with its reference solution."""

    seed: int
    width: int
    height: int
    video: bool = False
    with_solution: bool = False
    folder: str


class JudgeJob(BaseModel):
    """What the parent asks of the judge; given on its command line."""

    build_dir: str
    seeds: list[int]
    settings: CheckSettings = CheckSettings()
    cache_dir: str | None = None
    # False: compile and validate only (the geometry gate), no physics.
    simulate: bool = True
    views: list[ViewRequest] = []
    # Seeds judged at once, each in a process forked for it (see `judge`).
    workers: int = 1

    def views_of(self, seed: int) -> list[ViewRequest]:
        return [v for v in self.views if v.seed == seed]


def _solution(scene: SceneInput, compiled, model, out: Path, job: JudgeJob, cache, outcome: SeedOutcome):  # type: ignore[no-untyped-def]
    """Compile the solved scene and, when simulating, prove it; returns the solved scene (or None)."""
    from benchgen_dagster.worker.solve import SolutionError, compile_solved, solve_scene, unsolved

    seed, settings = scene.seed, job.settings
    if scene.solution_error:
        outcome.results.append(unsolved(seed, scene.solution_error))
        return None
    shown = any(v.with_solution for v in job.views_of(seed))
    if scene.solution is None:
        if shown:
            outcome.results.append(unsolved(seed, "the script defines no solution(seed, scale) to show"))
        return None
    if model is None or not (job.simulate or shown):
        return None
    try:
        solved, names = compile_solved(compiled, scene.solution, out / "solution", settings, cache)
    except SolutionError as error:
        outcome.results.append(unsolved(seed, str(error)))
        return None
    except (CompileError, ValueError) as error:
        outcome.results.append(unsolved(seed, f"the solved scene does not compile: {error}"))
        return None
    if job.simulate:
        outcome.solution, result = solve_scene(solved, names, seed, settings)
        outcome.results.append(result)
    return solved


def judge_seed(scene: SceneInput, out: Path, job: JudgeJob, cache: DecompositionCache) -> SeedOutcome:
    """Every per-seed check of one seed's builder output; meshes and MJCF written into `out`."""
    from benchgen_dagster.worker.simulate import simulate_scene
    from benchgen_dagster.worker.validate import validate_compiled

    seed, settings = scene.seed, job.settings
    outcome = SeedOutcome(
        seed=seed,
        scene=scene.spec,
        input_digest=scene.digest,
        results=[CheckResult(check=Check.SCRIPT_RUNS, seed=seed, passed=True, message="build() returned a Scene")],
    )
    try:
        parts = compile_parts(scene.parts, settings.geometry, cache)
    except (CompileError, ValueError) as error:
        outcome.results.append(CheckResult(check=Check.SOLID_VALID, seed=seed, passed=False, message=str(error)))
        return outcome
    compiled = write_compiled(scene.spec, parts, out, settings.simulation.timestep_s)
    outcome.parts = [part.record() for part in compiled.parts]
    outcome.scene_digest = compiled.digest
    outcome.mjcf_path = str(compiled.mjcf_path)
    results, model = validate_compiled(compiled, seed, settings.geometry)
    outcome.results.extend(results)
    if job.simulate and model is not None:
        # At least as long as the solved run: a scene that creeps into the goal by itself late is trivial.
        duration = settings.solvability.time_limit_s * compiled.spec.time_scale
        outcome.simulation, physics = simulate_scene(model, compiled.spec, seed, settings.simulation, duration)
        outcome.results.extend(physics)
    solved = _solution(scene, compiled, model, out, job, cache, outcome)
    if model is not None:
        for view in job.views_of(seed):
            _render(view, (model, compiled), solved, settings)
    return outcome


def _render(
    view: ViewRequest, scene: tuple[Any, CompiledScene], solved: CompiledScene | None, settings: CheckSettings
) -> None:
    from benchgen_dagster.worker.render import render_scene

    if view.with_solution and solved is None:
        return
    model, spec = (
        (load_compiled_model(solved.mjcf_path), solved.spec)
        if view.with_solution and solved
        else (scene[0], scene[1].spec)
    )
    # A solution's video runs for its whole time limit, so it shows the goal reached.
    duration = (settings.solvability.time_limit_s if view.with_solution else settings.simulation.duration_s) * (
        spec.time_scale
    )
    render_scene(
        model,
        spec,
        Path(RENDERS) / view.folder,
        view.width,
        view.height,
        settings.render,
        settings.simulation.model_copy(update={"duration_s": max(duration, 1.0)}),
        video=view.video,
    )


def _judge_one(seed: int, job: JudgeJob, cache: DecompositionCache) -> None:
    out = Path("seeds") / str(seed)
    out.mkdir(parents=True, exist_ok=True)
    try:
        scene = read_build(Path(job.build_dir), seed)
    except BuildInputError as error:
        outcome = SeedOutcome.failed(seed, Check.SCRIPT_RUNS, str(error))
    else:
        try:
            outcome = judge_seed(scene, out, job, cache)
        except Exception as error:  # a mesh no library can digest is the script's failure, not the batch's
            outcome = SeedOutcome.failed(
                seed,
                Check.SCRIPT_RUNS,
                f"the judge could not process this seed's meshes: {type(error).__name__}: {error}",
            )
    _write_verdict(out, outcome)


def _write_verdict(out: Path, outcome: SeedOutcome) -> None:
    # Renamed into place: a worker killed while writing leaves no verdict, never half of one.
    write_file_atomically(out / VERDICT_NAME, outcome.model_dump_json().encode())


def _seed_process(seed: int, job: JudgeJob, cache: DecompositionCache) -> int:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _judge_one(seed, job, cache)
            code = 0
        finally:
            os._exit(code)
    return pid


def judge(job: JudgeJob) -> JudgeSummary:
    """Judge every seed of the job, leaving `seeds/<seed>/verdict.json` as each is done.

    Each seed is judged in a process forked for it, `job.workers` at a time: the seeds of one script use
    the cores they are given, and a seed whose data takes its process down costs that seed only. Such a
    seed is judged once more, from a clean folder; a second death is its verdict. A process killed
    outright (SIGKILL: the memory cap, the OOM killer, a timeout) says nothing about the data, so such a
    seed is left without a verdict for the parent to judge again on its own."""
    started = time.perf_counter()
    cache = DecompositionCache(Path(job.cache_dir) if job.cache_dir else None, Path(CACHE_NEW))
    pending, deaths = list(job.seeds), dict.fromkeys(job.seeds, 0)
    running: dict[int, int] = {}
    while pending or running:
        while pending and len(running) < max(1, job.workers):
            seed = pending.pop(0)
            running[_seed_process(seed, job, cache)] = seed
        pid, status = os.wait()
        lost = running.pop(pid, None)
        if lost is None:
            continue
        out = Path("seeds") / str(lost)
        if (out / VERDICT_NAME).is_file():
            continue
        deaths[lost] += 1
        shutil.rmtree(out, ignore_errors=True)  # nothing the dead attempt left is kept or reused
        if deaths[lost] < 2:
            pending.insert(0, lost)
            continue
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            continue
        code = os.waitstatus_to_exitcode(status)
        cause = f"signal {-code}" if code < 0 else f"exit status {code}"
        out.mkdir(parents=True, exist_ok=True)
        message = f"the judge's process died on this seed's data twice ({cause})"
        _write_verdict(out, SeedOutcome.failed(lost, Check.SCRIPT_RUNS, message))
    # The largest of the seed processes and this one: what one judge process needed at most.
    peak_kb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return JudgeSummary(seeds=job.seeds, peak_rss_mb=peak_kb / 1024.0, wall_s=time.perf_counter() - started)


def warm_up() -> None:
    """The judge's heavy imports, once, before any job is forked (no GL context: each seed makes its own)."""
    import benchgen_dagster.worker.render
    import benchgen_dagster.worker.simulate
    import benchgen_dagster.worker.solve
    import benchgen_dagster.worker.validate  # noqa: F401


def main(argv: list[str]) -> int:
    summary = judge(JudgeJob.model_validate_json(argv[0]))
    Path(SUMMARY_NAME).write_text(summary.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
