"""The builder: the untrusted half of a check, `python -m benchgen_dagster.worker.builder JOB_JSON`.

It runs inside the sandbox, imports build123d once, then forks a fresh process per seed (its own CPU
limit and process group). That process imports the script, calls `build(seed, scale)` and
`solution(seed, scale)`, tessellates every solid and writes data only: `seeds/<seed>/build.json`
(a `BuildRecord`) and one PLY mesh per solid in `seeds/<seed>/meshes/`. It computes no check. The
judge (`worker.judge`) reads these files as untrusted input and computes every verdict.

With `tasks` (an evaluation), the script is a solver's module instead: the seed's process calls its
`solve(task, seed)` with that seed's task (`models.evaluation.Task`, read from the file `tasks` names,
which the sandbox mounts read-only) and writes the parts it returns as the record's solution. The
benchmark's own script is never in that sandbox.

The first seed that exceeds its CPU (or wall-clock) limit stops the builder: the rest are not run,
so a hung script costs seconds whatever the seed count.
"""

import contextlib
import importlib.util
import os
import resource
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from pydantic import BaseModel

from benchgen_dagster.models.build import (
    BUILD_ERROR,
    BUILD_RECORD,
    BUILD_STATUS,
    BUILD_STOPPED,
    MESH_FOLDER,
    BuildFailure,
    BuildRecord,
    BuiltPart,
    BuiltSolid,
)
from benchgen_dagster.worker.sandbox import KILL_ALL_SAFE

SCRIPT_NAME = "script.py"
STARTED_NAME = "started"
# Solution parts are drawn in this colour unless the script picks one, so renders tell them apart.
SOLUTION_RGBA = (0.95, 0.55, 0.1, 1.0)
_POLL_S = 0.01
# Below this much free space the workspace counts as full (a few small files must still fit).
DISK_RESERVE_BYTES = 4 * 1024 * 1024
# Failures that end the build there: the seeds after it are not run.
STOPPING = ("cpu_limit", "timeout", "disk_quota")


class BuildJob(BaseModel):
    """What the parent asks of the builder; given on its command line, never read from the workspace."""

    script: str
    seeds: list[int]
    scale: float = 1.0
    with_solution: bool = True
    mesh_tolerance_mm: float = 0.2
    mesh_angular_tolerance_rad: float = 0.25
    seed_cpu_seconds: int = 10
    seed_timeout_s: float = 60.0
    workspace_mb: int = 512
    # An evaluation: a JSON file of each seed's task, and `script` is the solver's module.
    tasks: str | None = None


def seed_dir(seed: int) -> Path:
    return Path("seeds") / str(seed)


def ply_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """A binary little-endian PLY of a triangle mesh, vertices as doubles (no precision lost)."""
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(vertices)}\nproperty double x\nproperty double y\nproperty double z\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode()
    rows = np.empty(len(faces), np.dtype([("n", "u1"), ("i", "<i4", (3,))]))
    rows["n"], rows["i"] = 3, faces
    return header + np.ascontiguousarray(vertices, dtype="<f8").tobytes() + rows.tobytes()


def _solids_of(name: str, shape: Any) -> list[Any]:
    solids = getattr(shape, "solids", None)
    if not callable(solids):
        raise TypeError(f"part {name!r}: shape is a {type(shape).__name__}, not a build123d shape")
    found = list(solids())
    if not found:
        raise TypeError(f"part {name!r}: the shape has no solids (is it a face or a sketch?)")
    return found


def tessellate(
    part: Any, tolerance_mm: float, angular_tolerance_rad: float
) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """Each solid of `part` as the CAD kernel tessellates it (vertices, triangles, BREP valid); the judge
    merges and cleans the mesh."""
    found = []
    for solid in _solids_of(part.name, part.shape):
        vertices, triangles = solid.tessellate(tolerance_mm, angular_tolerance_rad)
        v = np.array([(p.X, p.Y, p.Z) for p in vertices], dtype=float).reshape(-1, 3)
        f = np.array(triangles, dtype=np.int64).reshape(-1, 3)
        found.append((v, f, bool(solid.is_valid)))
    return found


def _write_part(part: Any, kind: str, out: Path, job: BuildJob) -> BuiltPart:
    """The part's spec, and each of its solids as a PLY mesh in `out/meshes/`."""
    spec = part.spec()
    solids = []
    for index, (v, f, valid) in enumerate(tessellate(part, job.mesh_tolerance_mm, job.mesh_angular_tolerance_rad)):
        mesh = f"{kind}-{part.name}-{index}.ply"
        (out / MESH_FOLDER / mesh).write_bytes(ply_bytes(v, f))
        solids.append(BuiltSolid(mesh=mesh, cad_valid=valid))
    return BuiltPart(spec=spec, solids=solids)


def _module_at(path: Path, name: str, what: str) -> Any:
    """The Python file at `path`, run as the module `name`; `what` ("the script", "the solver") for the error."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{what} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_script(path: Path) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
    module = _module_at(path, "benchmark_script", "the script")
    build = getattr(module, "build", None)
    if not callable(build):
        raise AttributeError("the script defines no build(seed: int, scale: float = 1.0) function")
    solution = getattr(module, "solution", None)
    if solution is not None and not callable(solution):
        raise AttributeError("the script's `solution` is not a function solution(seed: int, scale: float = 1.0)")
    return build, solution


def describe_error(error: BaseException) -> str:
    """The error and the deepest line of the script it came from (not our frames, not importlib's)."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, SyntaxError):
        return text
    in_script = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).name == SCRIPT_NAME]
    return f"{text} (line {in_script[-1].lineno} of {SCRIPT_NAME})" if in_script else text


def _solution_parts(made: Any, call: str, out: Path, job: BuildJob) -> list[BuiltPart]:
    from dataclasses import replace

    from benchgen_dagster.scene import Part

    if not isinstance(made, list | tuple) or not made or not all(isinstance(p, Part) for p in made):
        raise TypeError(f"{call} must return a non-empty list of Part, not {type(made).__name__}")
    made = [p if p.color is not None else replace(p, color=SOLUTION_RGBA) for p in made]
    return [_write_part(part, "solution", out, job) for part in made]


def solve_seed(job: BuildJob, seed: int, out: Path) -> BuildRecord:
    """A solver's parts for one seed's task, as the record's solution (the scene is the task's, unbuilt)."""
    import json

    from benchgen_dagster.models.evaluation import Task
    from benchgen_dagster.models.scene import SceneSpec

    tasks = json.loads(Path(job.tasks or "").read_text())
    task = Task.model_validate(tasks[str(seed)])
    solve = getattr(_module_at(Path(job.script), "solver", "the solver"), "solve", None)
    if not callable(solve):
        raise AttributeError("the solver defines no solve(task, seed) function")
    scene = SceneSpec.model_validate(task.model_dump(include=set(SceneSpec.model_fields)) | {"parts": []})
    record = BuildRecord(seed=seed, scene=scene, parts=[])
    (out / MESH_FOLDER).mkdir(parents=True, exist_ok=True)
    try:
        record.solution = _solution_parts(solve(task, seed), f"solve(task, {seed})", out, job)
    except Exception as error:
        record.solution_error = f"solve(task, {seed}) raised {describe_error(error)}"[:4000]
    return record


def build_seed(job: BuildJob, seed: int, out: Path) -> BuildRecord:
    """Build one seed's scene (and solution) and write its meshes into `out`. Raises what the script raised."""
    from benchgen_dagster.scene import Scene

    if job.tasks is not None:
        return solve_seed(job, seed, out)
    build, solution = _load_script(Path(job.script))
    scene = build(seed, scale=job.scale)
    if not isinstance(scene, Scene):
        raise TypeError(f"build() returned {type(scene).__name__}, not a benchgen Scene")
    if not scene.parts:
        raise ValueError("the scene has no parts")
    (out / MESH_FOLDER).mkdir(parents=True, exist_ok=True)
    spec = scene.spec().model_copy(update={"parts": []})
    parts = [_write_part(part, "scene", out, job) for part in scene.parts]
    record = BuildRecord(seed=seed, scene=spec, parts=parts)
    if solution is None or not job.with_solution:
        return record
    try:
        record.solution = _solution_parts(solution(seed, scale=job.scale), f"solution({seed})", out, job)
    except Exception as error:
        record.solution_error = f"solution({seed}) raised {describe_error(error)}"[:4000]
    return record


def _seed_process(job: BuildJob, seed: int, out: Path) -> NoReturn:
    """The forked process of one seed: build it, leave its record, never return into the runner's loop."""
    own_pid = os.getpid()
    try:
        os.setpgid(0, 0)
        resource.setrlimit(resource.RLIMIT_CPU, (job.seed_cpu_seconds, job.seed_cpu_seconds + 1))
        log = os.open(out / "log.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        try:
            text, name = build_seed(job, seed, out).model_dump_json(), BUILD_RECORD
        except BaseException as error:  # hostile or broken code may raise anything, SystemExit included
            call = f"solve(task, {seed})" if job.tasks is not None else f"build({seed})"
            message = f"{call} raised {describe_error(error)}"[:4000]
            text, name = BuildFailure(status="raised", message=message).model_dump_json(), BUILD_ERROR
        # Processes the script forked land here too when their copy of build() returns; only the seed's own speaks.
        if os.getpid() == own_pid:
            (out / name).write_text(text)
    finally:
        os._exit(0)


def _death(status: int, job: BuildJob, cpu_s: float) -> BuildFailure:
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status))
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= job.seed_cpu_seconds):
            return BuildFailure(
                status="cpu_limit",
                message=f"the seed used more than its {job.seed_cpu_seconds} CPU seconds and was stopped "
                "(an endless loop, or far too much work)",
            )
        reasons = {
            signal.SIGXFSZ: "it wrote more than the sandbox's file-size limit",
            signal.SIGKILL: "it was killed (memory exhaustion or a kill signal)",
            signal.SIGSEGV: "it crashed (segmentation fault)",
        }
        return BuildFailure(
            status="died", message=f"the seed's process died by {sig.name}: {reasons.get(sig, 'a signal')}"
        )
    return BuildFailure(
        status="died",
        message=f"the seed's process exited with status {os.WEXITSTATUS(status)} before reporting "
        "(os._exit or sys.exit)",
    )


def _kill_leftovers(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    if os.environ.get(KILL_ALL_SAFE) == "1":
        # Whatever left the seed's group (setsid, a fork bomb's survivors): kill(-1) spares only us here.
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def run_seed(job: BuildJob, seed: int) -> BuildFailure | None:
    """Fork the seed's process and wait for it; a failure the runner saw itself, or None."""
    out = seed_dir(seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / STARTED_NAME).write_text(str(time.time()))
    pid = os.fork()
    if pid == 0:
        _seed_process(job, seed, out)
    deadline = time.monotonic() + job.seed_timeout_s
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            _kill_leftovers(pid)
            return BuildFailure(
                status="timeout",
                message=f"seed {seed} did not finish within {job.seed_timeout_s:g} s of wall-clock time and was "
                "stopped (it waits or sleeps, or the machine is overloaded)",
            )
        time.sleep(_POLL_S)
    _kill_leftovers(pid)
    if status == 0:
        return None
    return _death(status, job, usage.ru_utime + usage.ru_stime)


def _disk_full() -> bool:
    stats = os.statvfs(".")
    return stats.f_bavail * stats.f_frsize < DISK_RESERVE_BYTES


def _clear(folder: Path, keep: set[str]) -> None:
    """Remove what a seed left in `folder`, but the entries named in `keep` (links removed, never followed)."""
    for entry in os.scandir(folder):
        if entry.name in keep:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            continue


def warm_up() -> None:
    """The heavy imports, once, before any seed is forked, so no seed pays them."""
    import build123d  # noqa: F401

    import benchgen_dagster.scene  # noqa: F401


def build_all(job: BuildJob) -> None:
    """Build every seed of the job in the current folder, a fresh process each, stopping at the first hang."""
    done: list[str] = []
    for seed in job.seeds:
        failure = run_seed(job, seed)
        if _disk_full():
            # The seed filled the workspace quota: take back everything but the other seeds' output.
            _clear(Path("."), {"seeds"})
            _clear(Path("seeds"), set(done))
            seed_dir(seed).mkdir(parents=True, exist_ok=True)
            failure = BuildFailure(
                status="disk_quota",
                message=f"seed {seed} filled the sandbox's disk quota ({job.workspace_mb} MB workspace) "
                "and was stopped",
            )
        done.append(str(seed))
        if failure is None:
            continue
        (seed_dir(seed) / BUILD_STATUS).write_text(failure.model_dump_json())
        if failure.status in STOPPING:
            Path(BUILD_STOPPED).write_text(
                BuildFailure(status=failure.status, message=f"seed {seed}").model_dump_json()
            )
            break


def main(argv: list[str]) -> int:
    warm_up()
    build_all(BuildJob.model_validate_json(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
