"""Growing a family's layout: the judge keeps a scaled scene the same puzzle, the library writes the grown
script, and the offline planner grows a layout before it clamps what a request asks for."""

from pathlib import Path

import pytest

from benchgen_dagster.agent.offline.overrides import requested_overrides
from benchgen_dagster.agent.offline.planner import plan_markdown
from benchgen_dagster.agent.offline.planning import OfflinePlan, plan_request
from benchgen_dagster.agent.offline.reading import read_request
from benchgen_dagster.agent.offline.scripts import parameterized_source
from benchgen_dagster.library import catalogue, families, layout_scales
from benchgen_dagster.library import family as library_family
from benchgen_dagster.library.parameters import LAYOUT_SCALES
from benchgen_dagster.models.materials import material_named
from benchgen_dagster.models.plans import read_plan
from benchgen_dagster.models.scene import Constraints, JointSpec, PartSpec, SceneSpec, ZoneSpec
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.build_reader import scaled_spec
from benchgen_dagster.worker.check import Checker

STEEL_BALL = "a steel ball of radius 40 mm must be moved 1 m sideways"


def _spec(scale: float) -> SceneSpec:
    zone = ZoneSpec(lo=(0, 0, 0), hi=(100, 100, 100))
    abs_ = material_named("abs")
    slide = JointSpec(kind="slide", axis=(1, 0, 0), limits=(0, 50), drive=100.0, delay=0.5, damping=2.0)
    hinge = JointSpec(kind="hinge", axis=(0, 1, 0), anchor=(10, 0, 5), limits=(0, 90), drive=45.0, damping=0.1)
    return SceneSpec(
        scale=scale,
        workspace=zone,
        parts=[
            PartSpec(name="slider", role="sliding", material=abs_, rgba=abs_.rgba, joint=slide),
            PartSpec(name="arm", role="hinged", material=abs_, rgba=abs_.rgba, joint=hinge),
        ],
        moved_object="slider",
        goal_zone=zone,
        build_zone=zone,
        constraints=Constraints(max_unit_cost=20.0, max_weight_g=800.0, target_quantity=100),
    )


def test_a_grown_scene_scales_its_limits_with_the_masses_and_its_times_with_the_root_of_the_scale() -> None:
    grown = scaled_spec(_spec(4.0))
    # Masses grow with the volume: 4³ = 64; the quantity made is no length.
    assert grown.constraints == Constraints(max_unit_cost=20.0 * 64, max_weight_g=800.0 * 64, target_quantity=100)
    slide, hinge = (part.joint for part in grown.parts)
    assert slide is not None and hinge is not None
    # Times grow by √4 = 2: a slide covers 4× the length in 2× the time, a hinge turns as far in 2× the time.
    assert (slide.limits, slide.drive, slide.delay) == ((0, 200), 200.0, 1.0)
    assert (hinge.anchor, hinge.limits, hinge.drive) == ((40, 0, 20), (0, 90), 22.5)
    assert slide.damping == pytest.approx(2.0 * 4**2.5) and hinge.damping == pytest.approx(0.1 * 4**4.5)
    assert grown.time_scale == 2.0
    assert scaled_spec(_spec(1.0)) == _spec(1.0)


def test_a_family_writes_its_script_grown_once_and_never_beyond_what_was_measured() -> None:
    family = library_family("ball_over_wall")
    grown = family.script({"bin_x": 569.5}, scale=1.15)
    assert grown.count("scale=scale * 1.15,") == 1 and "scale=scale," not in grown
    assert family.script({}) == family.source()
    with pytest.raises(ValueError, match=r"grows its layout up to 2×, not 2.5×"):
        family.script({}, scale=2.5)
    with pytest.raises(ValueError, match="up to 1×"):
        library_family("through_window").script({}, scale=1.3)


def test_every_family_that_grows_is_named_and_can_be_grown() -> None:
    names = {f.name for f in families()}
    assert set(LAYOUT_SCALES) <= names
    for name, most in LAYOUT_SCALES.items():
        assert most in (1.3, 1.6, 2.0)
        compile(library_family(name).script({}, scale=most), name, "exec")


def test_the_steel_ball_grows_the_layout_to_the_metre_it_asks_for_instead_of_clamping() -> None:
    plan = plan_request(STEEL_BALL)
    assert isinstance(plan, OfflinePlan) and plan.family == "ball_over_wall"
    # ball_over_wall's bin reaches 875 mm within its measured range (bin_x ≤ 1.15 × 500, the ball at -300):
    # 1000 / 875 = 1.143, grown to the next hundredth.
    assert plan.scale == 1.15
    assert plan.deviations == []
    travel = plan.scale * (plan.overrides["bin_x"] + 300)
    assert 999.5 <= travel <= 1000.5 and abs(plan.scale * plan.overrides["ball_radius"] - 40) < 0.1
    front = read_plan(plan_markdown(plan, STEEL_BALL), catalogue())
    assert front.scale == 1.15 and front.deviations == []
    source = parameterized_source(plan)
    assert "scale=scale * 1.15," in source and "# Layout grown 1.15×" in source


def test_what_the_grown_layout_still_cannot_reach_is_clamped_and_says_how_far_it_grew() -> None:
    plan = plan_request("a steel ball must be moved 3 m sideways")
    assert isinstance(plan, OfflinePlan) and plan.scale == 2.0
    (travel,) = plan.deviations
    # Grown 2× (its most), the bin at the top of its measured safe range, 1.15 × 500 mm: 2 × (575 + 300).
    assert (travel.quantity, travel.requested, travel.planned) == ("travel sideways", 3000, 1750)
    assert "bin_x within 0.75–1.15× its default 500 mm" in travel.reason
    assert "its layout grows 2× at most (measured), here 2×" in travel.reason


def test_growing_for_a_rise_never_makes_a_short_travel_overshoot_by_more() -> None:
    prompt = "throw a ball over a wall 360 mm up and move it 1.1 m sideways"
    at_one = {d.quantity: d for d in requested_overrides("ball_over_wall", read_request(prompt)).deviations}
    plan = plan_request(prompt)
    assert isinstance(plan, OfflinePlan) and 1 < plan.scale < 2
    for deviation in plan.deviations:
        was = at_one[deviation.quantity]
        assert abs(deviation.planned - deviation.requested) <= abs(was.planned - was.requested)  # type: ignore[operator]
    declared = {p.name: p for p in library_family("ball_over_wall").parameters()}
    for name, value in plan.overrides.items():
        low, high = declared[name].safe
        assert low <= value / declared[name].nominal <= high + 1e-9, (name, value)


@pytest.mark.parametrize(
    ("prompt", "family", "scale"),
    [
        # The 500 mm travel is built exactly at scale 1: growing for the rise stops where it still is.
        ("lift a 60 mm box 400 mm up onto a shelf 500 mm sideways", "lift_to_shelf", 1.25),
        # A 25 mm ball fits at scale 1: the layout grows only as far as it still fits (21 mm, 0.6 × 35).
        ("a steel ball of radius 25 mm must be moved 1.5 m sideways", "ball_over_wall", 1.19),
        ("a box must pass under a low bar 30 mm thick and move 1.5 m sideways", "under_low_bar", 1.25),
    ],
)
def test_growing_never_costs_what_the_family_built_as_asked(prompt: str, family: str, scale: float) -> None:
    plan = plan_request(prompt)
    assert isinstance(plan, OfflinePlan) and (plan.family, plan.scale) == (family, scale)
    as_asked = {d.quantity for d in requested_overrides(family, plan.reading).deviations}
    assert {d.quantity for d in plan.deviations if d.unit == "mm"} <= as_asked, plan.deviations


def test_a_travel_over_several_parameters_grows_with_each_inside_its_measured_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # corridor_transfer's travel moves two legs by one factor (its layout is not declared to grow: say it were).
    monkeypatch.setitem(LAYOUT_SCALES, "corridor_transfer", 1.3)
    plan = plan_request("transfer a box 1.1 m along a corridor")
    assert isinstance(plan, OfflinePlan) and plan.family == "corridor_transfer" and plan.scale > 1
    declared = {p.name: p for p in library_family("corridor_transfer").parameters()}
    for name, value in plan.overrides.items():
        low, high = declared[name].safe
        assert low <= value / declared[name].nominal <= high + 1e-9, (name, value)
    assert plan.deviations == []


def test_a_family_that_does_not_grow_clamps_as_before_and_says_why() -> None:
    assert library_family("lever_moving_fulcrum").max_scale == 1.0
    plan = plan_request("a class-1 lever must lift a load 1 m up")
    assert isinstance(plan, OfflinePlan) and plan.family == "lever_moving_fulcrum" and plan.scale == 1.0
    (rise,) = plan.deviations
    assert (rise.quantity, rise.requested, rise.planned) == ("rise", 1000, 115)
    assert "its layout does not grow" in rise.reason
    # A plan at the family's own size writes no scale: it reads as plans written before scale existed.
    assert "scale:" not in plan_markdown(plan, "x").split("---")[1]


def test_the_judge_weighs_and_prices_a_grown_solution_against_limits_and_motors_grown_alike(tmp_path: Path) -> None:
    from benchgen_dagster.library import ball_over_wall
    from benchgen_dagster.models.materials import ACTUATOR_UNIT_COST, MATERIALS
    from benchgen_dagster.worker.local import judge_scene

    judged = judge_scene(ball_over_wall.build(0, 2.0), tmp_path, 0, ball_over_wall.solution(0, 2.0))
    solution = judged.outcome.solution
    assert solution is not None and not solution.problems, solution.problems
    assert (solution.max_weight_g, solution.max_unit_cost) == (1500 * 8, 40 * 8)
    # The launcher is steel and driven: its stock by weight, and a motor for a machine twice as large.
    steel = MATERIALS["steel"].price_per_kg
    assert solution.unit_cost == pytest.approx(solution.mass_g / 1000 * steel + ACTUATOR_UNIT_COST * 8)
    assert all(r.passed for r in judged.outcome.results), [r.message for r in judged.outcome.results if not r.passed]


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_a_layout_grown_to_its_most_still_passes_every_check_with_its_reference_solution(tmp_path: Path) -> None:
    # At 2× the launcher weighs 8× as much and the ball, thrown at 2× the speed, would land 2^1.5 × as far:
    # only a judge that scales the limits by scale³ and the times by √scale keeps the puzzle solvable.
    script = tmp_path / "grown.py"
    script.write_text(library_family("ball_over_wall").script({}, scale=2.0))
    report = Checker(CheckSettings(), home=tmp_path / "home").check(script, [0, 1, 2])
    assert report.passed, [r.message for r in report.results if not r.passed]
    scene = report.outcomes[0].scene
    assert scene is not None and scene.scale == 2.0
    solution = report.outcomes[0].solution
    assert solution is not None and 1500 < solution.mass_g <= 1500 * 8 == solution.max_weight_g


def test_a_real_planner_is_told_how_far_each_family_grows_and_a_scale_out_of_range_is_one_clear_error() -> None:
    from benchgen_dagster.agent.contract import library_summary
    from benchgen_dagster.models.plans import PlanError

    listed = library_summary()
    assert "Its layout grows up to 2× (`scale`)." in listed.split("**ball_over_wall**")[1].split("\n")[0]
    assert "Its layout does not grow." in listed.split("**lever_moving_fulcrum**")[1].split("\n")[0]
    plan = "---\nfamily: ball_over_wall\ntier: 1\nscale: {}\n---\n# Plan\n"
    assert read_plan(plan.format(1.5), catalogue()).scale == 1.5
    for bad in ("5", "0", "big"):
        with pytest.raises(PlanError, match=r"^plan.md front matter: scale: ") as raised:
            read_plan(plan.format(bad), catalogue())
        assert "\n" not in str(raised.value)
    # Beyond what the family is measured to hold: refused where plans are taken (with the scales).
    with pytest.raises(PlanError, match=r"scale: ball_over_wall grows its layout up to 2× .*, not 3×"):
        read_plan(plan.format(3), catalogue(), layout_scales())
    lever = "---\nfamily: lever_moving_fulcrum\ntier: 2\nscale: 1.2\n---\n# Plan\n"
    with pytest.raises(PlanError, match="lever_moving_fulcrum does not grow its layout"):
        read_plan(lever, catalogue(), layout_scales())
    assert read_plan(plan.format(2), catalogue(), layout_scales()).scale == 2
    # A refusal builds nothing: its scale is not held to the family's.
    refused = "---\nfamily: crank\nrefused: too big\nscale: 2\n---\n# Refused\n"
    assert read_plan(refused, catalogue(), layout_scales()).refused == "too big"
