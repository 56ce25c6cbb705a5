"""Solvability: the reference solution() contract, the `solvable` check, difficulty and the audit's seeds."""

from pathlib import Path

import pytest

from benchgen_dagster.defs.audit import AuditSeedsError, fresh_seeds
from benchgen_dagster.models.difficulty import WEIGHTS, difficulty
from benchgen_dagster.models.materials import ACTUATOR_UNIT_COST, material_named, unit_cost
from benchgen_dagster.models.reports import CheckReport, PartMesh, SeedOutcome, SimulationTrace, SolutionTrace
from benchgen_dagster.models.scene import PartSpec, SceneSpec, ZoneSpec
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.scene import Part, Scene, Zone
from benchgen_dagster.worker.check import Checker
from tests.conftest import SCRIPTS

GOOD = (SCRIPTS / "good_box.py").read_text()


def test_cost_is_weight_times_price_plus_a_motor_per_driven_joint() -> None:
    steel = material_named("steel")
    assert unit_cost(2000.0, steel) == pytest.approx(2.0 * steel.price_per_kg)
    assert unit_cost(2000.0, steel, driven=True) == pytest.approx(2.0 * steel.price_per_kg + ACTUATOR_UNIT_COST)


def test_only_jointed_parts_can_be_driven_and_a_zero_speed_is_refused() -> None:
    with pytest.raises(ValueError, match="only hinged or sliding parts can be driven"):
        Part("p", object(), role="fixed", drive=10.0).spec()
    with pytest.raises(ValueError, match="drive speed of 0"):
        Part("p", object(), role="sliding", axis=(1, 0, 0), limits=(0, 10), drive=0.0).spec()
    spec = Part("p", object(), role="hinged", axis=(0, 1, 0), anchor=(0, 0, 0), limits=(0, 90), drive=45.0).spec()
    assert spec.joint is not None and spec.joint.drive == 45.0


def test_a_scene_reads_back_the_values_its_seed_drew() -> None:
    from benchgen_dagster.scene import sampler

    p = sampler(3)
    drawn = p.param("gap", nominal=100)
    scene = Scene(workspace=Zone((0, 0, 0), (1, 1, 1)), params=p)
    assert scene.value("gap") == drawn
    with pytest.raises(KeyError, match="no parameter named 'nope'"):
        scene.value("nope")


def _check(tmp_path: Path, source: str, seeds: list[int]) -> CheckReport:
    script = tmp_path / "script.py"
    script.write_text(source)
    return Checker(CheckSettings(), home=tmp_path / "home").check(script, seeds)


def _solvable(report: CheckReport) -> list[str]:
    return [r.message for r in report.results if r.check == "solvable"]


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_the_reference_solution_solves_every_seed_within_budget(tmp_path: Path) -> None:
    # The default 8 seeds and settings: `benchgen check good_box.py`'s own verdict (judged once a session).
    report = _check(tmp_path, GOOD, list(range(8)))
    assert all(r.passed for r in report.results if r.check in ("solvable", "non_trivial")), report.failures
    assert report.solvability == "proven" and len(_solvable(report)) == 8
    for outcome in report.outcomes:
        solution = outcome.solution
        assert solution is not None and solution.parts == ["pusher"] and solution.drives == 1
        assert solution.in_goal_at_end and solution.reached_goal_s is not None and solution.reached_goal_s < 4.0
        assert ACTUATOR_UNIT_COST < solution.unit_cost <= 10.0 and 0 < solution.mass_g <= 500.0
        # Left alone the box stays put; the same scene with the pusher ends in the goal.
        assert outcome.simulation is not None and outcome.simulation.moved_end_mm[0] < -150


# Each rule of the solvable check, broken one per seed in one run: tests/test_judge.py.


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_without_a_solution_solvability_is_unproven_and_the_other_checks_still_pass(tmp_path: Path) -> None:
    report = _check(tmp_path, GOOD.split("\n\ndef solution")[0] + "\n", [0, 1])
    assert not _solvable(report) and report.solvability == "unproven"
    assert all(r.passed for r in report.results if r.check not in ("randomization_coverage", "geometric_variety"))


def _outcome(goal_x: float, solution: SolutionTrace | None, forbid: list[ZoneSpec] | None = None) -> SeedOutcome:
    spec = SceneSpec(
        scale=1.0,
        workspace=ZoneSpec(lo=(-500, -300, 0), hi=(500, 300, 400)),
        parts=[
            PartSpec(name="box", role="free", material=material_named("wood"), rgba=(1, 1, 1, 1)),
            PartSpec(name="wall", role="fixed", material=material_named("wood"), rgba=(1, 1, 1, 1)),
        ],
        moved_object="box",
        goal_zone=ZoneSpec(lo=(goal_x - 50, -50, 0), hi=(goal_x + 50, 50, 100)),
        build_zone=ZoneSpec(lo=(-480, -280, 0), hi=(0, 280, 300)),
        forbid_zones=forbid or [],
    )
    trace = SimulationTrace(
        duration_s=2,
        steps=1000,
        steps_per_second=1,
        max_speed_m_s=0,
        max_penetration_mm=0,
        energy_start_j=0,
        energy_max_j=0,
        final_speed_m_s=0,
        moved_start_mm=(-300, 0, 30),
        moved_end_mm=(-300, 0, 30),
    )
    part = {"mesh_files": [], "sha256": "", "volume_mm3": 1, "mass_g": 1, "convex_pieces": 1, "decomposed": False}
    parts = [
        PartMesh(name="box", bounds_mm=((-330, -30, 0), (-270, 30, 60)), **part),
        PartMesh(name="wall", bounds_mm=((90, -300, 0), (110, 300, 150)), **part),
    ]
    return SeedOutcome(seed=0, scene=spec, simulation=trace, solution=solution, parts=parts)


def test_difficulty_grows_with_distance_obstacles_forbidden_volume_and_a_tight_budget() -> None:
    roomy = SolutionTrace(
        parts=["pusher"], drives=1, mass_g=100, unit_cost=10, max_weight_g=1000, max_unit_cost=100, time_limit_s=4
    )
    tight = roomy.model_copy(update={"parts": ["pusher", "ramp", "guide"], "unit_cost": 95.0})
    near = difficulty([_outcome(-150, roomy)])
    far = difficulty([_outcome(400, roomy)])
    assert near is not None and far is not None
    assert far.features["distance"] > near.features["distance"]
    assert far.features["obstacles"] == 0.25 and near.features["obstacles"] == 0  # the wall is in the way
    assert far.score > near.score
    fenced = difficulty([_outcome(400, roomy, [ZoneSpec(lo=(150, -100, 0), hi=(200, 100, 400))])])
    assert fenced is not None and fenced.features["forbidden"] > 0 and fenced.score > far.score
    hard = difficulty([_outcome(400, tight)])
    assert hard is not None and hard.features["tight_budget"] == pytest.approx(0.95)
    assert hard.features["solution_parts"] == 0.5 and hard.score > far.score
    assert set(far.features) == set(WEIGHTS) and 0 <= far.score <= 100
    unproven = difficulty([_outcome(400, None)])
    assert unproven is not None and unproven.features["tight_budget"] == 0.5
    assert difficulty([SeedOutcome(seed=0)]) is None


def test_audit_seeds_are_fresh_and_overlap_is_refused() -> None:
    assert fresh_seeds(list(range(8)), 32) == list(range(1024, 1056))
    assert fresh_seeds(list(range(1030)), 4) == list(range(2048, 2052))
    assert fresh_seeds([0, 1], 3, first=500) == [500, 501, 502]
    with pytest.raises(AuditSeedsError, match="disjoint"):
        fresh_seeds(list(range(8)), 4, first=6)
    with pytest.raises(AuditSeedsError, match="at least one seed"):
        fresh_seeds([0], 0)


def test_a_drive_waits_for_its_delay_then_runs_to_its_stiff_limit(tmp_path: Path) -> None:
    import mujoco
    from build123d import Box, Pos

    from benchgen_dagster.worker.compile import DecompositionCache
    from benchgen_dagster.worker.local import compile_scene
    from benchgen_dagster.worker.mjcf import DriveSchedule, load_compiled_model, start_data

    scene = Scene(workspace=Zone((-500, -300, 0), (500, 300, 400)))
    scene.add(Part("box", Pos(300, 0, 30.5) * Box(60, 60, 60), role="free"))
    pusher = Pos(-200, 0, 30) * Box(20, 80, 40)
    scene.add(Part("p", pusher, role="sliding", axis=(1, 0, 0), limits=(0, 200), drive=400.0, delay=0.5))
    scene.objectives(moved="box", goal=Zone((400, -50, 0), (450, 50, 50)), build=Zone((-400, -200, 0), (100, 200, 300)))
    compiled = compile_scene(scene, tmp_path, CheckSettings().geometry, DecompositionCache(None, None), 0.002)
    xml = compiled.mjcf_path.read_text()
    assert '<velocity name="p_drive"' in xml and 'name="drive:p_drive" data="0.4 0.5"' in xml
    model = load_compiled_model(compiled.mjcf_path)
    data, drives = start_data(model), DriveSchedule.of(model)
    slide = model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "p_slide")]
    positions = {}
    while data.time < 1.2:
        drives.apply(data)
        mujoco.mj_step(model, data)
        positions[round(data.time, 3)] = 1000 * data.qpos[slide]
    assert abs(positions[0.49]) < 0.5  # held still while it waits
    assert positions[0.8] == pytest.approx(0.3 * 400, abs=5)  # then at 400 mm/s
    assert 199 < positions[1.2] < 203  # and held at its limit
    with pytest.raises(ValueError, match="a delay belongs to a drive"):
        Part("q", pusher, role="sliding", axis=(1, 0, 0), limits=(0, 10), delay=1.0).spec()
