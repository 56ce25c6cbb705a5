"""Build and judge a scene in this process, with no sandbox and no files in between.

For trusted callers only: the worker's own tests, the benchmark floor in `bench/`, and the agents'
advice-only `utils` inside their own sandbox. The same tessellation as the builder and the same
judge functions, so what it says matches the sandboxed check; a verdict on untrusted code is only
ever `worker.check.Checker`'s.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco

from benchgen_dagster.models.reports import SeedOutcome
from benchgen_dagster.models.scene import PartSpec
from benchgen_dagster.models.settings import CheckSettings, GeometrySettings
from benchgen_dagster.worker.build_reader import SceneInput, scaled_parts, scaled_spec
from benchgen_dagster.worker.builder import SOLUTION_RGBA, tessellate
from benchgen_dagster.worker.compile import (
    CompiledScene,
    DecompositionCache,
    InputPart,
    SolidMesh,
    clean_mesh,
    compile_parts,
)
from benchgen_dagster.worker.judge import JudgeJob, judge_seed
from benchgen_dagster.worker.mjcf import write_compiled


def _input_parts(parts: list[Any], specs: list[PartSpec], scale: float, geometry: GeometrySettings) -> list[InputPart]:
    found = []
    for part, spec in zip(parts, specs, strict=True):
        solids = [
            SolidMesh(mesh=clean_mesh(v, f, scale), cad_valid=valid)
            for v, f, valid in tessellate(part, geometry.mesh_tolerance_mm, geometry.mesh_angular_tolerance_rad)
        ]
        found.append(InputPart(spec=spec, solids=solids))
    return found


def scene_input(
    scene: Any, seed: int = 0, solution: list[Any] | None = None, settings: CheckSettings | None = None
) -> SceneInput:
    """What the judge would read had the builder written `scene` (a benchgen Scene) and `solution`."""
    geometry = (settings or CheckSettings()).geometry
    spec = scaled_spec(scene.spec())
    parts = _input_parts(scene.parts, spec.parts, scene.scale, geometry)
    solved = None
    if solution is not None:
        coloured = [p if p.color is not None else _coloured(p) for p in solution]
        specs = scaled_parts([p.spec() for p in coloured], scene.scale)
        solved = _input_parts(coloured, specs, scene.scale, geometry)
    return SceneInput(seed=seed, spec=spec, parts=parts, solution=solved, solution_error=None, digest="")


def _coloured(part: Any) -> Any:
    from dataclasses import replace

    return replace(part, color=SOLUTION_RGBA)


def compile_scene(
    scene: Any, out: Path, geometry: GeometrySettings, cache: DecompositionCache, timestep_s: float
) -> CompiledScene:
    """A benchgen Scene compiled into `out` (scene.xml + meshes), as the judge compiles builder output."""
    settings = CheckSettings(geometry=geometry)
    given = scene_input(scene, settings=settings)
    return write_compiled(given.spec, compile_parts(given.parts, geometry, cache), out, timestep_s)


@dataclass
class LocalJudgement:
    outcome: SeedOutcome
    out: Path

    def model(self) -> mujoco.MjModel:
        from benchgen_dagster.worker.mjcf import load_compiled_model

        return load_compiled_model(self.out / "scene.xml")


def judge_scene(
    scene: Any,
    out: Path,
    seed: int = 0,
    solution: list[Any] | None = None,
    settings: CheckSettings | None = None,
    simulate: bool = True,
) -> LocalJudgement:
    """Every per-seed check of `scene` (and `solution`), judged here; meshes and MJCF written into `out`."""
    settings = settings or CheckSettings()
    job = JudgeJob(build_dir=str(out), seeds=[seed], settings=settings, simulate=simulate)
    given = scene_input(scene, seed, solution, settings)
    return LocalJudgement(judge_seed(given, out, job, DecompositionCache(None, out / "cache")), out)
