"""Run a compiled scene untouched and judge it: stable, settled, contained, and not solving itself."""

import time

import mujoco
import numpy as np

from benchgen_dagster.models.reports import Check, CheckResult, SimulationTrace
from benchgen_dagster.models.scene import SceneSpec
from benchgen_dagster.models.settings import SimulationSettings
from benchgen_dagster.models.units import m_to_mm, mm_to_m
from benchgen_dagster.worker.mjcf import start_data

# Steps run inside MuJoCo between two looks from Python (40 ms at the default timestep): the checks
# stay cheap next to the physics. MuJoCo's own warning counters still see every step.
STEPS_PER_SAMPLE = 20


def _warnings(data: mujoco.MjData) -> list[str]:
    return [f"{mujoco.mjtWarning(i).name} ×{int(w.number)}" for i, w in enumerate(data.warning) if w.number > 0]


def _max_penetration_mm(data: mujoco.MjData) -> float:
    if data.ncon == 0:
        return 0.0
    return max(0.0, -m_to_mm(float(np.min(data.contact.dist[: data.ncon]))))


def _energy(data: mujoco.MjData) -> float:
    return float(data.energy[0] + data.energy[1])


def _not_simulated(spec: SceneSpec, seed: int, reason: str) -> tuple[SimulationTrace, list[CheckResult]]:
    trace = SimulationTrace(
        duration_s=0.0,
        steps=0,
        steps_per_second=0.0,
        max_speed_m_s=0.0,
        max_penetration_mm=0.0,
        energy_start_j=0.0,
        energy_max_j=0.0,
        final_speed_m_s=0.0,
        moved_start_mm=(0.0, 0.0, 0.0),
        moved_end_mm=(0.0, 0.0, 0.0),
    )
    return trace, [
        CheckResult(check=Check.STABILITY, seed=seed, passed=False, message=f"not simulated: {reason}"),
        CheckResult(check=Check.NON_TRIVIAL, seed=seed, passed=False, message=f"not simulated: {reason}"),
    ]


def simulate_scene(
    model: mujoco.MjModel, spec: SceneSpec, seed: int, settings: SimulationSettings, duration_s: float | None = None
) -> tuple[SimulationTrace, list[CheckResult]]:
    """Simulate the scene left alone for `duration_s` (the judge passes at least the solvability time
    limit, so a scene that creeps into the goal late is caught); returns the trace and the stability and
    non-triviality checks."""
    duration = max(settings.duration_s, duration_s or 0.0)
    model.opt.timestep = settings.timestep_s
    data = start_data(model)
    moved = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.moved_object)
    if moved < 1:
        # Missing or fixed (welded to the world body): zones_consistent already says so; judging the
        # motion of some other body here would only mislead.
        return _not_simulated(spec, seed, f"the moved object {spec.moved_object!r} is not a movable body")
    timestep = settings.timestep_s
    total_steps = max(1, round(duration / settings.timestep_s))
    sample_dt = STEPS_PER_SAMPLE * settings.timestep_s
    # A scene built at another scale settles as the same scene would, in its own time (`SceneSpec.time_scale`).
    settle_samples = max(1, round(settings.settle_window_s * spec.time_scale / sample_dt))
    settle_speed = settings.settle_speed_m_s * spec.scale / spec.time_scale

    energy_start = energy_max = _energy(data)
    # Views into MuJoCo's buffers, taken once: the loop below must cost little next to the physics.
    qvel, energy, positions = data.qvel, data.energy, data.xipos[1:]
    moved_position = data.xipos[moved]
    start_mm = m_to_mm(1.0) * moved_position.copy()
    workspace_lo = mm_to_m(1.0) * np.array(spec.workspace.lo)
    workspace_hi = mm_to_m(1.0) * np.array(spec.workspace.hi)
    previous = positions.copy()
    speeds = np.zeros(-(-total_steps // STEPS_PER_SAMPLE))
    max_penetration = _max_penetration_mm(data)
    problems: list[str] = []
    left_workspace_at: float | None = None
    steps = samples = 0
    started = time.perf_counter()
    while steps < total_steps:
        chunk = min(STEPS_PER_SAMPLE, total_steps - steps)
        mujoco.mj_step(model, data, nstep=chunk)
        steps += chunk
        if not np.isfinite(qvel).all():
            problems.append(f"state became NaN/Inf at t={data.time:.3f} s")
            break
        moved_by = positions - previous
        speeds[samples] = np.sqrt((moved_by * moved_by).sum(axis=1).max(initial=0.0)) / (chunk * timestep)
        previous[:] = positions
        samples += 1
        if data.ncon:
            max_penetration = max(max_penetration, -m_to_mm(float(data.contact.dist[: data.ncon].min())))
        energy_max = max(energy_max, energy[0] + energy[1])
        if left_workspace_at is None and not (
            (moved_position >= workspace_lo).all() and (moved_position <= workspace_hi).all()
        ):
            left_workspace_at = float(data.time)
    wall = time.perf_counter() - started
    speeds = speeds[:samples]
    end_mm = m_to_mm(1.0) * moved_position.copy()
    final_speed = float(speeds[-settle_samples:].max()) if samples else 0.0
    max_speed = float(speeds.max()) if samples else 0.0
    energy_max = float(energy_max)

    warnings = _warnings(data)
    if warnings:
        problems.append("MuJoCo warned: " + ", ".join(warnings))
    if max_speed > settings.max_body_speed_m_s:
        problems.append(f"a body reached {max_speed:.1f} m/s (limit {settings.max_body_speed_m_s:g} m/s)")
    gain_allowed = max(settings.max_energy_gain_j, settings.max_energy_gain_ratio * abs(energy_start))
    if energy_max - energy_start > gain_allowed:
        problems.append(
            f"energy rose from {energy_start:.3f} J to {energy_max:.3f} J: the scene gains energy on its own"
        )
    if max_penetration > settings.max_penetration_mm:
        problems.append(f"contacts penetrate {max_penetration:.1f} mm (limit {settings.max_penetration_mm:g} mm)")
    if final_speed > settle_speed:
        problems.append(
            f"the scene has not settled: bodies still move at {final_speed:.3f} m/s "
            f"after {data.time:.2f} s (limit {settle_speed:g} m/s)"
        )
    if left_workspace_at is not None:
        problems.append(f"the moved object {spec.moved_object!r} left the workspace at t={left_workspace_at:.2f} s")

    trace = SimulationTrace(
        duration_s=float(data.time),
        steps=steps,
        steps_per_second=steps / wall if wall > 0 else 0.0,
        max_speed_m_s=max_speed,
        max_penetration_mm=max_penetration,
        energy_start_j=energy_start,
        energy_max_j=energy_max,
        final_speed_m_s=final_speed,
        moved_start_mm=tuple(start_mm),
        moved_end_mm=tuple(end_mm),
    )
    stability = CheckResult(
        check=Check.STABILITY,
        seed=seed,
        passed=not problems,
        message="; ".join(problems)
        if problems
        else (
            f"stable for {data.time:.2f} s: max speed {max_speed:.2f} m/s, "
            f"penetration {max_penetration:.2f} mm, settled at {final_speed:.3f} m/s"
        ),
        details=trace.model_dump(include={"max_speed_m_s", "max_penetration_mm", "final_speed_m_s"}),
    )
    in_goal = spec.goal_zone.contains_point(tuple(end_mm))
    non_trivial = CheckResult(
        check=Check.NON_TRIVIAL,
        seed=seed,
        passed=not in_goal,
        message=(
            f"left alone for {data.time:.1f} s, {spec.moved_object!r} ends in the goal zone at "
            f"{np.round(end_mm, 1).tolist()} mm: the benchmark solves itself"
            if in_goal
            else f"left alone for {data.time:.1f} s, {spec.moved_object!r} stays out of the goal "
            f"(ends at {np.round(end_mm, 1).tolist()} mm)"
        ),
    )
    return trace, [stability, non_trivial]
