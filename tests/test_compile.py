"""Compiling scenes to meshes and MJCF: units, mass properties, concave parts, determinism, checks."""

from pathlib import Path

import mujoco
import numpy as np
import pytest
from build123d import Box, Cylinder, Pos, Sphere

from benchgen_dagster.models.reports import Check
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.scene import Part, Scene, Zone, sampler
from benchgen_dagster.worker.compile import DecompositionCache
from benchgen_dagster.worker.local import compile_scene
from benchgen_dagster.worker.simulate import simulate_scene
from benchgen_dagster.worker.validate import validate_compiled

SETTINGS = CheckSettings()


def base_scene(seed: int = 0) -> Scene:
    p = sampler(seed)
    size = p.param("size", nominal=50)
    s = Scene(workspace=Zone((-500, -500, 0), (500, 500, 500)), params=p)
    s.add(Part("block", Pos(-200, 0, size / 2 + 0.3) * Box(size, size, size), role="free", material="steel"))
    return s


def with_objectives(s: Scene, goal: Zone | None = None, forbid: list[Zone] | None = None) -> Scene:
    s.objectives(
        moved="block",
        goal=goal or Zone((200, -50, 0), (300, 50, 100)),
        build=Zone((-450, -200, 0), (0, 200, 300)),
        forbid=forbid or [],
    )
    return s


def compile_and_check(s: Scene, out: Path, seed: int = 0, simulate: bool = True):  # type: ignore[no-untyped-def]
    compiled = compile_scene(
        s, out, SETTINGS.geometry, DecompositionCache(None, out / "cache"), SETTINGS.simulation.timestep_s
    )
    results, model = validate_compiled(compiled, seed, SETTINGS.geometry)
    if simulate and model is not None:
        results += simulate_scene(model, compiled.spec, seed, SETTINGS.simulation)[1]
    return compiled, {r.check: r for r in results}, model


def test_units_convert_once_mass_and_inertia_come_from_the_closed_mesh(tmp_path: Path) -> None:
    # A 100×100×10 mm steel plate with a 40 mm hole: 7.85 g/cm³ × (100 cm³ - the hole). The judge integrates
    # over the tessellated mesh (the hole a 0.2 mm polygon), so the mass is within 0.1 %; a hull or MuJoCo's
    # default mesh inertia would miss the hole by 13 %.
    s = Scene(workspace=Zone((-500, -500, 0), (500, 500, 500)))
    plate = Pos(0, 0, 6) * (Box(100, 100, 10) - Cylinder(20, 10))
    s.add(Part("block", plate, role="free", material="steel"))
    compiled, _results, model = compile_and_check(with_objectives(s), tmp_path, simulate=False)
    expected_kg = 7.85 * (100 * 100 * 10 - np.pi * 20**2 * 10) / 1000 / 1000
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "block")
    assert model.body_mass[body] == pytest.approx(expected_kg, rel=1e-3)
    assert model.body_pos[body] == pytest.approx([0, 0, 0.006], abs=1e-6)  # metres
    assert compiled.parts[0].decomposed, "a plate with a hole is concave and must be decomposed"
    assert len(compiled.parts[0].pieces) > 1


def test_parts_made_of_convex_solids_are_not_decomposed(tmp_path: Path) -> None:
    s = base_scene()
    bin_parts = [
        Pos(0, 0, 5) * Box(160, 160, 10),
        Pos(-75, 0, 50) * Box(10, 160, 80),
        Pos(75, 0, 50) * Box(10, 160, 80),
    ]
    from build123d import Compound

    s.add(Part("bin", Compound(bin_parts), role="fixed"))
    compiled, results, _ = compile_and_check(with_objectives(s), tmp_path, simulate=False)
    bin_part = next(p for p in compiled.parts if p.spec.name == "bin")
    assert not bin_part.decomposed and len(bin_part.pieces) == 3
    assert results[Check.SOLID_VALID].passed


def test_same_scene_same_bytes(tmp_path: Path) -> None:
    first, _, _ = compile_and_check(with_objectives(base_scene(3)), tmp_path / "a", simulate=False)
    second, _, _ = compile_and_check(with_objectives(base_scene(3)), tmp_path / "b", simulate=False)
    other, _, _ = compile_and_check(with_objectives(base_scene(4)), tmp_path / "c", simulate=False)
    assert first.digest == second.digest
    assert (tmp_path / "a" / "scene.xml").read_bytes() == (tmp_path / "b" / "scene.xml").read_bytes()
    assert other.digest != first.digest


def test_a_good_scene_passes_every_check(tmp_path: Path) -> None:
    _, results, _ = compile_and_check(with_objectives(base_scene()), tmp_path)
    assert all(r.passed for r in results.values()), {c: r.message for c, r in results.items() if not r.passed}


def test_overlapping_parts_are_reported_with_their_names(tmp_path: Path) -> None:
    s = base_scene()
    s.add(Part("post", Pos(-200, 0, 40) * Box(30, 30, 80), role="fixed"))
    _, results, _ = compile_and_check(with_objectives(s), tmp_path, simulate=False)
    assert not results[Check.NO_INTERPENETRATION].passed
    assert "'block' and 'post' overlap" in results[Check.NO_INTERPENETRATION].message


def test_parts_outside_the_workspace_are_reported(tmp_path: Path) -> None:
    s = base_scene()
    s.add(Part("far_wall", Pos(480, 0, 50) * Box(100, 20, 100), role="fixed"))
    _, results, _ = compile_and_check(with_objectives(s), tmp_path, simulate=False)
    assert not results[Check.INSIDE_WORKSPACE].passed
    assert "far_wall" in results[Check.INSIDE_WORKSPACE].message


def test_inconsistent_zones_are_reported(tmp_path: Path) -> None:
    s = with_objectives(
        base_scene(),
        goal=Zone((-260, -60, 0), (-150, 60, 100)),
        forbid=[Zone((-100, -300, 0), (-50, 300, 200))],
    )
    _, results, _ = compile_and_check(s, tmp_path, simulate=False)
    message = results[Check.ZONES_CONSISTENT].message
    assert not results[Check.ZONES_CONSISTENT].passed
    assert "build zone overlaps forbid zone 0" in message
    assert "starts (partly) inside the goal zone" in message


def test_a_benchmark_that_solves_itself_is_trivial(tmp_path: Path) -> None:
    # A ball dropped straight above the goal falls into it.
    s = Scene(workspace=Zone((-500, -500, 0), (500, 500, 500)))
    s.add(Part("block", Pos(0, 0, 300) * Sphere(20), role="free", material="rubber"))
    s = with_objectives(s, goal=Zone((-60, -60, 0), (60, 60, 100)))
    _, results, _ = compile_and_check(s, tmp_path)
    assert not results[Check.NON_TRIVIAL].passed
    assert "solves itself" in results[Check.NON_TRIVIAL].message


def test_a_part_dropped_from_two_metres_does_not_sink_into_the_floor(tmp_path: Path) -> None:
    s = Scene(workspace=Zone((-500, -500, 0), (500, 500, 2000)))
    s.add(Part("block", Pos(-200, 0, 1900) * Sphere(20), role="free"))
    _, results, _ = compile_and_check(with_objectives(s), tmp_path)
    assert results[Check.STABILITY].details["max_penetration_mm"] < SETTINGS.simulation.max_penetration_mm


def test_a_scene_still_moving_at_the_end_has_not_settled(tmp_path: Path) -> None:
    # An undamped pendulum released horizontally swings for far longer than the check runs.
    s = base_scene()
    s.add(
        Part(
            "arm",
            Pos(150, 0, 300) * Box(200, 20, 20),
            role="hinged",
            axis=(0, 1, 0),
            anchor=(50, 0, 300),
            limits=(-180, 180),
        )
    )
    _, results, _ = compile_and_check(with_objectives(s), tmp_path)
    assert not results[Check.STABILITY].passed
    assert "has not settled" in results[Check.STABILITY].message


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_scale_grows_parts_zones_and_joints_about_the_origin(tmp_path: Path, scale: float) -> None:
    from benchgen_dagster.library import family

    module = family("lever_moving_fulcrum").module()
    unit, _, _ = compile_and_check(module.build(1), tmp_path / "unit", seed=1, simulate=False)
    scaled, results, _ = compile_and_check(module.build(1, scale=scale), tmp_path / "scaled", seed=1)
    assert all(r.passed for r in results.values()), {c: r.message for c, r in results.items() if not r.passed}
    for before, after in zip(unit.parts, scaled.parts, strict=True):
        assert after.visual.bounds == pytest.approx(before.visual.bounds * scale, abs=0.5)
    assert scaled.spec.goal_zone.lo == pytest.approx(np.array(unit.spec.goal_zone.lo) * scale)


def test_recompiling_into_the_same_folder_loads_the_new_meshes(tmp_path: Path) -> None:
    # MuJoCo caches assets by path within a process; the loader must not hand back the old meshes.
    small, _, _ = compile_and_check(with_objectives(base_scene(0)), tmp_path / "out", simulate=False)
    big, _, model = compile_and_check(with_objectives(base_scene(3)), tmp_path / "out", simulate=False)
    mesh = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_MESH, "block_visual")
    start, count = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
    half_size_mm = 1000 * float(np.abs(model.mesh_vert[start : start + count]).max())
    expected = (big.parts[0].visual.bounds[1] - big.parts[0].visual.bounds[0]).max() / 2
    assert small.parts[0].sha256 != big.parts[0].sha256
    assert half_size_mm == pytest.approx(expected, rel=0.02)
