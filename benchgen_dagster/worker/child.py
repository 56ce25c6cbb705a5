"""The program that runs inside the sandbox: `python -m benchgen_dagster.worker.child WORKSPACE JOB_JSON`.

It imports the heavy libraries once, then forks a fresh process per seed, so seeds cannot see
each other's state, a seed that crashes or hangs costs only itself, and no seed pays the ~4 s of
imports. Each seed leaves `seeds/<seed>/outcome.json`; the parent validates those files and
nothing else. A seed that takes the whole runner down leaves `started` without `outcome.json`, and
the parent starts a new runner for the remaining seeds.
"""

import contextlib
import importlib.util
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import BaseModel

from benchgen_dagster.models.reports import Check, CheckResult, ChildReport, SeedOutcome
from benchgen_dagster.models.settings import CheckSettings

SCRIPT_NAME = "script.py"
REPORT_NAME = "report.json"
OUTCOME_NAME = "outcome.json"
STARTED_NAME = "started"
_POLL_S = 0.02
_MAX_RUNNER_PID_IN_NAMESPACE = 8


class RenderRequest(BaseModel):
    width: int
    height: int
    video: bool = False


class ChildJob(BaseModel):
    """What the parent asks of the runner; written by the parent into the workspace."""

    mode: Literal["check", "render"] = "check"
    seeds: list[int]
    scale: float = 1.0
    settings: CheckSettings = CheckSettings()
    cache_dir: str | None = None
    determinism_seeds: list[int] = []
    # False: compile and validate only (the geometry gate), no physics.
    simulate: bool = True
    render: RenderRequest | None = None
    # Render the scene with the script's reference solution added (render mode only).
    with_solution: bool = False
    # True only when the runner is alone in its own PID namespace (bubblewrap): then, after each seed,
    # it may signal "every process it can see" to clear what the seed left behind, setsid() or not.
    own_pid_namespace: bool = False


def seed_dir(workspace: Path, seed: int, rerun: bool = False) -> Path:
    return workspace / ("reruns" if rerun else "seeds") / str(seed)


def _load_script(workspace: Path) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
    """The script's `build` and, when it has one, its reference `solution`."""
    spec = importlib.util.spec_from_file_location("benchmark_script", workspace / SCRIPT_NAME)
    if spec is None or spec.loader is None:
        raise ImportError("the script cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    build = getattr(module, "build", None)
    if not callable(build):
        raise AttributeError("the script defines no build(seed: int, scale: float = 1.0) function")
    solution = getattr(module, "solution", None)
    if solution is not None and not callable(solution):
        raise AttributeError("the script's `solution` is not a function solution(seed: int, scale: float = 1.0)")
    return build, solution


def _describe_error(error: BaseException) -> str:
    """The error and the deepest line of the script it came from (not our frames, not importlib's)."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, SyntaxError):
        return text
    in_script = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).name == SCRIPT_NAME]
    return f"{text} (line {in_script[-1].lineno} of {SCRIPT_NAME})" if in_script else text


def run_seed(workspace: Path, job: ChildJob, seed: int, out: Path, simulate: bool) -> SeedOutcome:
    """Build, compile, validate and (optionally) simulate and render one seed. Runs in the forked process."""
    from benchgen_dagster.scene import Scene
    from benchgen_dagster.worker.compile import CompileError, DecompositionCache, compile_scene
    from benchgen_dagster.worker.simulate import simulate_scene
    from benchgen_dagster.worker.solve import SolutionError, compile_solved, solution_parts, solve_scene, unsolved
    from benchgen_dagster.worker.validate import validate_compiled

    started = time.perf_counter()
    settings = job.settings
    try:
        build, solution = _load_script(workspace)
        scene = build(seed, scale=job.scale)
        if not isinstance(scene, Scene):
            raise TypeError(f"build() returned {type(scene).__name__}, not a benchgen Scene")
        spec = scene.spec()
    except Exception as error:
        return SeedOutcome.failed(seed, Check.SCRIPT_RUNS, f"build({seed}) raised {_describe_error(error)}")
    outcome = SeedOutcome(
        seed=seed,
        scene=spec,
        results=[CheckResult(check=Check.SCRIPT_RUNS, seed=seed, passed=True, message="build() returned a Scene")],
    )
    cache = DecompositionCache(Path(job.cache_dir) if job.cache_dir else None, workspace / "cache_new")
    try:
        compiled = compile_scene(scene, out, settings.geometry, cache, settings.simulation.timestep_s)
    except (CompileError, ValueError) as error:
        outcome.results.append(CheckResult(check=Check.SOLID_VALID, seed=seed, passed=False, message=str(error)))
        return outcome
    outcome.scene = compiled.spec
    outcome.parts = [part.record() for part in compiled.parts]
    outcome.scene_digest = compiled.digest
    outcome.mjcf_path = str(compiled.mjcf_path.relative_to(workspace))
    results, model = validate_compiled(compiled, seed, settings.geometry)
    outcome.results.extend(results)
    if simulate and model is not None:
        trace, sim_results = simulate_scene(model, compiled.spec, seed, settings.simulation)
        outcome.simulation = trace
        outcome.results.extend(sim_results)
    solved = None
    if solution is not None and model is not None and (simulate or job.with_solution):
        try:
            parts = solution_parts(solution, scene, seed, job.scale)
            solved = compile_solved(scene, parts, out / "solution", settings, cache)
        except SolutionError as error:
            outcome.results.append(unsolved(seed, str(error)))
        except (CompileError, ValueError) as error:
            outcome.results.append(unsolved(seed, f"the solved scene does not compile: {error}"))
        else:
            if simulate:
                outcome.solution, result = solve_scene(solved, [p.name for p in parts], seed, settings)
                outcome.results.append(result)
    elif job.with_solution and model is not None:
        outcome.results.append(unsolved(seed, "the script defines no solution(seed, scale) to show"))
    if job.render is not None and model is not None:
        from benchgen_dagster.worker.compile import load_compiled_model
        from benchgen_dagster.worker.render import render_scene

        if job.with_solution and solved is None:
            return outcome
        shown = (load_compiled_model(solved.mjcf_path), solved.spec) if solved is not None else (model, compiled.spec)
        # A solution's video runs for its whole time limit, so it shows the goal reached.
        duration = settings.solvability.time_limit_s if solved is not None else settings.simulation.duration_s
        render_scene(
            shown[0],
            shown[1],
            workspace / "renders",
            job.render.width,
            job.render.height,
            settings.render,
            settings.simulation.model_copy(update={"duration_s": max(duration, 1.0)}),
            video=job.render.video,
        )
    outcome.wall_s = time.perf_counter() - started
    return outcome


def _describe_death(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status))
        reasons = {
            signal.SIGXFSZ: "it wrote more than the sandbox's file-size limit",
            signal.SIGXCPU: "it used more CPU time than the sandbox allows",
            signal.SIGKILL: "it was killed (memory exhaustion or a kill signal)",
            signal.SIGSEGV: "it crashed (segmentation fault)",
        }
        return f"the seed's process died by {sig.name}: {reasons.get(sig, 'killed by a signal')}"
    return f"the seed's process exited with status {os.WEXITSTATUS(status)} before reporting (os._exit or sys.exit)"


def run_isolated(workspace: Path, job: ChildJob, seed: int, rerun: bool = False) -> SeedOutcome:
    """Fork, run the seed with its output captured and a timeout; its outcome is left in its folder."""
    out = seed_dir(workspace, seed, rerun)
    outcome = _run_forked(workspace, job, seed, rerun)
    # Written by the runner too (not only the seed's process), so a seed that died still has a verdict.
    _write_atomically(out / OUTCOME_NAME, outcome.model_dump_json())
    return outcome


def _kill_leftovers(job: ChildJob, pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    # In bubblewrap's PID namespace the runner is PID 2 under bubblewrap's init: kill(-1) reaches every
    # process of the sandbox but the runner and init. Never outside a namespace, where it would reach the host.
    if job.own_pid_namespace and os.getpid() < _MAX_RUNNER_PID_IN_NAMESPACE:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(-1, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_text(text)
    os.replace(partial, path)


def _seed_process(workspace: Path, job: ChildJob, seed: int, out: Path, rerun: bool) -> NoReturn:
    """The forked process of one seed: run it, leave the outcome, never return into the runner's loop."""
    os.setpgid(0, 0)
    seed_pid = os.getpid()
    log = os.open(out / "log.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        outcome = run_seed(workspace, job, seed, out, simulate=job.simulate and not rerun)
    except BaseException as error:  # hostile or broken code may raise anything, SystemExit included
        message = f"the script aborted the run: {type(error).__name__}: {error}"
        outcome = SeedOutcome.failed(seed, Check.SCRIPT_RUNS, message)
    # Processes the script forked land here too when their copy of build() returns or raises; only the
    # seed's own process speaks for the seed.
    if os.getpid() == seed_pid:
        _write_atomically(out / OUTCOME_NAME, outcome.model_dump_json())
    os._exit(0)


def _run_forked(workspace: Path, job: ChildJob, seed: int, rerun: bool) -> SeedOutcome:
    out = seed_dir(workspace, seed, rerun)
    out.mkdir(parents=True, exist_ok=True)
    (out / STARTED_NAME).write_text(str(time.time()))
    pid = os.fork()
    if pid == 0:  # the seed's process
        _seed_process(workspace, job, seed, out, rerun)

    deadline = time.monotonic() + job.settings.sandbox.seed_timeout_s
    status = None
    while status is None:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw
        elif time.monotonic() > deadline:
            # The seed's process may have left its group (setpgid, setsid): kill it by pid, then its group.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            _kill_leftovers(job, pid)
            return SeedOutcome.failed(
                seed,
                Check.SCRIPT_RUNS,
                f"seed {seed} did not finish within {job.settings.sandbox.seed_timeout_s:g} s and was killed "
                "(an endless loop, or far too much work)",
            )
        else:
            time.sleep(_POLL_S)
    # Whatever the seed left running (forks, a fork bomb's survivors) must not eat the next seed's budget.
    _kill_leftovers(job, pid)
    outcome_path = out / OUTCOME_NAME
    if status == 0 and outcome_path.exists():
        try:
            return SeedOutcome.model_validate_json(outcome_path.read_text())
        except ValueError as error:
            return SeedOutcome.failed(seed, Check.SCRIPT_RUNS, f"the seed's outcome file is not valid: {error}")
    return SeedOutcome.failed(seed, Check.SCRIPT_RUNS, _describe_death(status))


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def main(argv: list[str]) -> int:
    """argv: the workspace folder and the job as JSON (on the command line: nothing in the workspace,
    which a seed could tamper with, is ever read back as instructions)."""
    started = time.perf_counter()
    workspace = Path(argv[0]).resolve()
    job = ChildJob.model_validate_json(argv[1])
    # Warm the heavy imports once, before forking, so every seed starts from them.
    import build123d  # noqa: F401
    import mujoco  # noqa: F401
    import trimesh  # noqa: F401

    import benchgen_dagster.worker.compile
    import benchgen_dagster.worker.simulate  # noqa: F401

    outcomes = [run_isolated(workspace, job, seed) for seed in job.seeds]
    # Rebuild a few seeds in fresh processes; the parent compares their digests with the first build.
    for seed in job.determinism_seeds:
        if not (seed_dir(workspace, seed, rerun=True) / STARTED_NAME).exists():
            run_isolated(workspace, job, seed, rerun=True)
    report = ChildReport(
        seeds=outcomes,
        peak_rss_mb=_peak_rss_mb(),
        wall_s=time.perf_counter() - started,
    )
    (workspace / REPORT_NAME).write_text(report.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
