"""Prove a benchmark solvable: add the script's reference `solution()` to the scene and run it.

Together with the non-triviality check this brackets a benchmark on every seed: left alone for the
whole time limit the moved object ends outside the goal; with the reference solution it ends inside
the goal and at rest (slower than `rest_speed_m_s` over the last `rest_window_s`), so a solution that
adds nothing proves nothing, and neither does one that only throws the object through the goal. The solution
must also play by the benchmark's rules: every collision piece of its parts stays inside the build
zone and clear of every forbid zone at every sampled instant (checked on the pieces' bounding boxes
in the world, so a rotated arm is judged conservatively), and its weight and unit cost (from the
materials table, `models.materials`) stay within `max_weight` and `max_unit_cost`. A solution may not
be built into the scene either: its parts must not overlap anything at spawn.

The zones bind the solution's parts, not the moved object: where the object may travel is the
scene's own geometry (a fence, a bar), as for any solver.
"""

import itertools
from pathlib import Path

import mujoco
import numpy as np

from benchgen_dagster.models.materials import MATERIALS, unit_cost
from benchgen_dagster.models.reports import Check, CheckResult, SolutionTrace
from benchgen_dagster.models.scene import SceneSpec, ZoneSpec
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.models.units import m_to_mm, mm_to_m
from benchgen_dagster.worker.compile import CompiledPart, CompiledScene, DecompositionCache, InputPart, compile_parts
from benchgen_dagster.worker.mjcf import DriveSchedule, load_compiled_model, start_data, write_compiled
from benchgen_dagster.worker.simulate import STEPS_PER_SAMPLE
from benchgen_dagster.worker.validate import spawn_interpenetration

_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)


class SolutionError(ValueError):
    """The solution cannot be judged as a solution: its names clash with the scene's, or it is priced
    with a material the table does not have."""


def solution_problem(scene: list[CompiledPart], solution: list[InputPart]) -> str | None:
    """Why these parts cannot stand as a solution of this scene, or None."""
    taken = {p.spec.name for p in scene}
    clashes = sorted(p.spec.name for p in solution if p.spec.name in taken)
    if clashes:
        return f"solution part names clash with the scene's parts: {', '.join(clashes)}"
    names = [p.spec.name for p in solution]
    if len(set(names)) != len(names):
        return "the solution names a part twice"
    for part in solution:
        material = part.spec.material
        # Weight and cost come from the one materials table, whatever the builder declared.
        if MATERIALS.get(material.name) != material:
            return (
                f"solution part {part.spec.name!r} is made of {material.name!r} as the script defines it, not as the "
                f"materials table does ({', '.join(sorted(MATERIALS))}): a solution is weighed and priced by the table"
            )
    return None


def compile_solved(
    scene: CompiledScene,
    solution: list[InputPart],
    out: Path,
    settings: CheckSettings,
    cache: DecompositionCache,
) -> tuple[CompiledScene, list[str]]:
    """The compiled scene with the solution's parts added (only those are compiled), written into `out`."""
    problem = solution_problem(scene.parts, solution)
    if problem:
        raise SolutionError(problem)
    added = compile_parts(solution, settings.geometry, cache)
    spec = scene.spec.model_copy(update={"parts": [*scene.spec.parts, *(p.spec for p in added)]})
    compiled = write_compiled(spec, [*scene.parts, *added], out, settings.simulation.timestep_s)
    return compiled, [p.spec.name for p in added]


def _driven(part: CompiledPart) -> bool:
    return part.spec.joint is not None and part.spec.joint.drive is not None


def _collision_geoms(model: mujoco.MjModel, part: CompiledPart) -> list[int]:
    names = [f"{part.spec.name}_c{i}" for i in range(len(part.pieces))]
    return [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, n) for n in names]


def _world_boxes(model: mujoco.MjModel, data: mujoco.MjData, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each geom's bounding box in the world (mm): its local box's eight corners, moved and turned."""
    local = model.geom_aabb[geoms]
    corners = local[:, None, :3] + _CORNERS[None] * local[:, None, 3:]
    rotations = data.geom_xmat[geoms].reshape(-1, 3, 3)
    world = data.geom_xpos[geoms][:, None, :] + np.einsum("gij,gkj->gki", rotations, corners)
    return m_to_mm(1.0) * world.min(axis=1), m_to_mm(1.0) * world.max(axis=1)


def _zone_problem(
    spec: SceneSpec, owners: list[str], lo: np.ndarray, hi: np.ndarray, tolerance: float, time_s: float
) -> str | None:
    build = spec.build_zone
    for name, box_lo, box_hi in zip(owners, lo, hi, strict=True):
        if not build.contains_box(tuple(box_lo), tuple(box_hi), tolerance):
            return f"solution part {name!r} leaves the build zone at t={time_s:.2f} s"
        box = ZoneSpec(lo=tuple(box_lo), hi=tuple(box_hi))
        for index, zone in enumerate(spec.forbid_zones):
            if box.overlaps(zone):
                return f"solution part {name!r} enters forbid zone {index} at t={time_s:.2f} s"
    return None


def solve_scene(
    compiled: CompiledScene, solution_names: list[str], seed: int, settings: CheckSettings
) -> tuple[SolutionTrace, CheckResult]:
    """Simulate the solved scene for the time limit and judge the solution (goal, zones, weight, cost)."""
    spec = compiled.spec
    # Times, speeds and tolerances follow the scene's scale, so a grown layout is judged as the same puzzle.
    limit = settings.solvability.time_limit_s * spec.time_scale
    rest_speed = settings.solvability.rest_speed_m_s * spec.scale / spec.time_scale
    tolerance = settings.solvability.zone_tolerance_mm * spec.scale
    own = [p for p in compiled.parts if p.spec.name in solution_names]
    mass = sum(p.mass_g for p in own)
    cost = sum(unit_cost(p.mass_g, p.spec.material, driven=_driven(p), volume_scale=spec.scale**3) for p in own)
    trace = SolutionTrace(
        parts=[p.spec.name for p in own],
        drives=sum(_driven(p) for p in own),
        mass_g=mass,
        unit_cost=cost,
        max_weight_g=spec.constraints.max_weight_g,
        max_unit_cost=spec.constraints.max_unit_cost,
        time_limit_s=limit,
    )
    problems = trace.problems
    if trace.max_weight_g is not None and mass > trace.max_weight_g:
        problems.append(f"the solution weighs {mass:.0f} g (max_weight {trace.max_weight_g:g} g)")
    if trace.max_unit_cost is not None and cost > trace.max_unit_cost:
        problems.append(f"the solution costs {cost:.2f} per unit (max_unit_cost {trace.max_unit_cost:g})")

    model = load_compiled_model(compiled.mjcf_path)
    model.opt.timestep = settings.simulation.timestep_s
    # The scene alone passed this check, so any overlap now involves the solution's parts.
    overlap = spawn_interpenetration(model, seed, settings.geometry)
    if not overlap.passed:
        problems.append(f"the solution is built into the scene: {overlap.message}")
    data = start_data(model)
    drives = DriveSchedule.of(model)
    moved = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.moved_object)
    owners, geoms = [], []
    for part in own:
        ids = _collision_geoms(model, part)
        owners += [part.spec.name] * len(ids)
        geoms += ids
    geom_ids = np.array(geoms, int)
    total_steps = max(1, round(limit / settings.simulation.timestep_s))
    rest_window = settings.solvability.rest_window_s * spec.time_scale
    rest_samples = max(1, round(rest_window / (STEPS_PER_SAMPLE * model.opt.timestep)))
    path: list[tuple[float, np.ndarray]] = []
    zone_problem = None
    steps = 0
    while True:
        if zone_problem is None and len(geom_ids):
            lo, hi = _world_boxes(model, data, geom_ids)
            zone_problem = _zone_problem(spec, owners, lo, hi, tolerance, float(data.time))
        if moved >= 1:
            position = m_to_mm(1.0) * data.xipos[moved]
            path.append((float(data.time), position.copy()))
            if trace.reached_goal_s is None and spec.goal_zone.contains_point(tuple(position)):
                trace.reached_goal_s = float(data.time)
        if steps >= total_steps:
            break
        chunk = min(STEPS_PER_SAMPLE, total_steps - steps)
        # A waiting drive starts on its step, not at the next sample.
        chunk = min(chunk, drives.steps_to_next_start(float(data.time), model.opt.timestep) or chunk)
        drives.apply(data)
        mujoco.mj_step(model, data, nstep=chunk)
        steps += chunk
        if not np.isfinite(data.qvel).all():
            problems.append(f"the solved scene became NaN/Inf at t={data.time:.3f} s")
            break
    trace.final_speed_m_s = _final_speed(path, rest_samples)
    if zone_problem:
        problems.append(zone_problem)
    if moved < 1:
        problems.append(f"the moved object {spec.moved_object!r} is not a movable body")
    else:
        end = m_to_mm(1.0) * data.xipos[moved]
        trace.moved_end_mm = (float(end[0]), float(end[1]), float(end[2]))
        trace.in_goal_at_end = spec.goal_zone.contains_point(trace.moved_end_mm)
        if not trace.in_goal_at_end:
            where = np.round(end, 1).tolist()
            reached = (
                f"it passed through the goal at t={trace.reached_goal_s:.2f} s but "
                if trace.reached_goal_s is not None
                else ""
            )
            problems.append(
                f"with the solution, {reached}{spec.moved_object!r} is not in the goal "
                f"after {limit:g} s (ends at {where} mm)"
            )
        elif trace.final_speed_m_s > rest_speed:
            problems.append(
                f"with the solution, {spec.moved_object!r} is in the goal at {limit:g} s but not at rest: "
                f"it still moves at {trace.final_speed_m_s:.3f} m/s "
                f"(rest_speed_m_s {rest_speed:g})"
            )
    passed = not problems
    message = (
        f"solved: {spec.moved_object!r} reached the goal at t={trace.reached_goal_s:.2f} s with "
        f"{len(own)} part(s), {mass:.0f} g, cost {cost:.2f}"
        if passed and trace.reached_goal_s is not None
        else "; ".join(problems)
    )
    details = {
        "mass_g": round(mass, 1),
        "unit_cost": round(cost, 2),
        "reached_goal_s": trace.reached_goal_s,
        "parts": len(own),
    }
    return trace, CheckResult(check=Check.SOLVABLE, seed=seed, passed=passed, message=message, details=details)


def _final_speed(path: list[tuple[float, np.ndarray]], samples: int) -> float:
    """The moved object's highest speed (m/s) between the last `samples` samples."""
    window = path[-(samples + 1) :]
    speeds = [
        mm_to_m(float(np.linalg.norm(b - a))) / (tb - ta) for (ta, a), (tb, b) in itertools.pairwise(window) if tb > ta
    ]
    return max(speeds, default=0.0)


def unsolved(seed: int, reason: str) -> CheckResult:
    return CheckResult(check=Check.SOLVABLE, seed=seed, passed=False, message=reason)
