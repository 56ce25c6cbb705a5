"""The offline request reader: plain-words prompts -> a library family and its nominal values, or a refusal."""

import re
import types
from pathlib import Path

import pytest

from benchgen_dagster.agent.offline.planner import plan_markdown
from benchgen_dagster.agent.offline.planning import OfflinePlan, Refusal, bounds, plan_request
from benchgen_dagster.agent.offline.profiles import PROFILES
from benchgen_dagster.agent.offline.reading import RequestReading, read_request
from benchgen_dagster.agent.offline.scripts import parameterized_source
from benchgen_dagster.library import catalogue, families
from benchgen_dagster.library import family as library_family
from benchgen_dagster.models.plans import read_plan

STEEL_BALL = "a steel ball of radius 40 mm must be moved 1 m sideways"
CUBE_GAP = "a 60 mm cube must cross a 180 mm gap"

# prompt -> (family, the overrides expected exactly)
PLANS: dict[str, tuple[str, dict[str, float]]] = {
    # 1 m of travel is more than the layout reaches: it grows 1.15×, and the 40 mm ball is 34.8 mm before that.
    STEEL_BALL: ("ball_over_wall", {"ball_radius": 34.8, "bin_x": 569.5}),
    # The drawbridge moves a ball: the 60 mm cube is stood in for by a ball as wide.
    CUBE_GAP: ("drawbridge", {"ball_radius": 30.0, "gap_width": 180.0}),
    "class-1 lever where the fulcrum position varies": ("lever_moving_fulcrum", {}),
    "a drawer that must be pulled open": ("sliding_drawer", {}),
    "10 class-1 lever puzzles where the fulcrum moves": ("lever_moving_fulcrum", {}),
    "tier 1: push a crate under a low bar 70 mm high": ("under_low_bar", {"bar_clearance": 70.0}),
    "insert a 25 mm square peg into a hole 60 mm deep": ("peg_in_hole", {"hole_width": 28.0, "hole_depth": 60.0}),
    "lift a wooden box 20 cm up onto a shelf": ("lift_to_shelf", {"shelf_height": 200.0}),
    "pass a 60 mm block through a window in a wall": (
        "through_window",
        {"window_width": 120.0, "window_height": 120.0},
    ),
    # A 50 mm rise needs a 25 mm cam; the family stays valid only up to 1.2× its 20 mm default.
    # A 50 mm rise is 25 mm of cam offset, inside the bounds the planner keeps (the checks decide the rest).
    "turn a crank to raise a weight 50 mm": ("crank", {"cam_offset": 25.0}),
    "push a ball through a self-closing gate 200 mm wide": ("hinged_gate", {"gate_width": 200.0}),
    "a kinematic puzzle: lower a drawbridge so a ball can roll across": ("drawbridge", {}),
    "throw a ball over a 150 mm wall into a bin": ("ball_over_wall", {"wall_height": 150.0}),
    "move a box round the bend of an L-shaped corridor": ("corridor_transfer", {}),
    "Five spatial benchmarks: a box must go through a window": ("through_window", {}),
    "a see-saw: push down one end to raise a heavy load": ("lever_moving_fulcrum", {}),
}

REFUSED: dict[str, str] = {
    "a gearbox with 5 meshing helical gears": "gear",
    "design a rocket engine": "rocket",
    "hello": "names no task",
    "": "empty",
    "   \n\t ": "empty",
    "a ball of radius 50 km": "workspace",
    "a ball": "names no task",
    "tier 1 lever puzzle": "tier 1",
    "a tier 3 drawer": "tiers [1, 2]",
    "lift a steel ball of radius 300 mm over a wall": "cannot approximate",
    "a 10 mm cube must cross a 45 mm gap": "cannot approximate",
}

# Prompts with numbers far from every default, to test that overrides stay within bounds.
STRESS = [
    "move a ball of radius 10 mm 10 cm sideways over a wall into a bin",
    "a 100 mm cube must cross a 400 mm gap",
    "a 20 mm cube must cross a 45 mm gap",
    "lift a 120 mm box 2 m up onto a shelf 500 mm deep",
    "pull a drawer 600 mm wide out by 2 m",
    "a crate 300 mm wide must go under a low bar 30 mm high, 3 m away",
    "a 200 mm block must pass through a window 800 mm wide and moved 2 m forward",
    "raise a load 1 m with a lever whose beam is 150 mm wide",
    "a peg 400 mm long into a hole 200 mm deep",
    "turn a crank whose wheel has a radius of 200 mm to raise a weight 500 mm",
    "push a ball of 100 mm diameter through a gate 20 cm high and 1 m away",
    "transfer a 90 mm box 3 m along a corridor 400 mm wide",
]


def family_parameters(family: str) -> dict[str, float]:
    return library_family(family).nominals()


def _distances(family: str) -> set[str]:
    """The family's parameters that are positions or travel lengths (capped at 1.25×)."""
    return {p.name for p in library_family(family).parameters() if p.kind == "distance"}


@pytest.mark.parametrize("prompt", list(PLANS))
def test_example_prompts_choose_the_expected_family_and_overrides(prompt: str) -> None:
    family, overrides = PLANS[prompt]
    plan = plan_request(prompt)
    assert isinstance(plan, OfflinePlan), plan
    assert plan.family == family
    assert plan.tier == library_family(family).tier
    assert plan.overrides == pytest.approx(overrides)
    assert plan.rationale and "\n" not in plan.rationale and family in plan.rationale


def test_the_steel_ball_plan_says_it_clamped_the_travel() -> None:
    plan = plan_request(STEEL_BALL)
    assert isinstance(plan, OfflinePlan)
    assert plan.reading.material == "steel" and plan.reading.moved_object == "ball"
    assert plan.reading.sizes_mm == {"radius": 40.0}
    assert plan.reading.distances_mm == {"sideways": 1000.0}
    assert "layout is grown 1.15×" in plan.rationale and "bin_x" in plan.rationale and "clamped" not in plan.rationale


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "lift a 120 mm box 2 m up onto a shelf 500 mm deep",
            # Grown 2× (lift_to_shelf's most), the shelf at 1.25 × 200 mm still rises 500 mm of the 2 m.
            [("rise", 2000, 500), ("depth (as shelf_depth)", 500, 480)],
        ),
        ("move a ball of radius 10 mm 10 cm sideways over a wall into a bin", [("travel sideways", 100, 600)]),
        ("a 60 mm cube must cross a 180 mm gap", [("moved object", "cube", "a rubber ball")]),
        ("a wooden ball must go over a wall into a bin", [("material", "wood", "steel")]),
        ("throw a ball over a wall 150 mm high and 300 mm wide into a bin", [("width", 300, None)]),
    ],
)
def test_every_requested_value_the_plan_changes_is_a_deviation(prompt: str, expected: list[tuple]) -> None:  # type: ignore[type-arg]
    plan = plan_request(prompt)
    assert isinstance(plan, OfflinePlan)
    found = {(d.quantity, d.requested, d.planned) for d in read_plan(plan_markdown(plan, prompt)).deviations}
    assert set(expected) <= found, found


@pytest.mark.parametrize("prompt", list(PLANS))
def test_every_offline_plan_carries_its_fields_in_front_matter_that_validates(prompt: str) -> None:
    plan = plan_request(prompt)
    assert isinstance(plan, OfflinePlan)
    front = read_plan(plan_markdown(plan, prompt), catalogue())
    assert (front.family, front.tier, front.overrides) == (plan.family, plan.tier, plan.overrides)
    assert front.learning_objectives and front.deviations == plan.deviations
    declared = library_family(plan.family).parameters()
    assert {r.parameter for r in front.randomization} == {p.name for p in declared}
    for randomized in front.randomization:
        assert randomized.nominal is not None and randomized.range is not None and randomized.spread == 0.4
        assert randomized.range[0] < randomized.nominal < randomized.range[1]


def test_the_cube_plan_says_a_ball_stands_in() -> None:
    plan = plan_request(CUBE_GAP)
    assert isinstance(plan, OfflinePlan)
    assert plan.reading.sizes_mm == {"size": 60.0, "gap": 180.0}
    assert "stands in for the requested cube" in plan.rationale


def test_a_count_of_benchmarks_is_read_and_explained() -> None:
    plan = plan_request("10 class-1 lever puzzles where the fulcrum moves")
    assert isinstance(plan, OfflinePlan)
    assert plan.reading.count == 10
    assert plan.reading.tier is None  # "class-1" is not a tier
    assert "10 seeds" in plan.rationale


@pytest.mark.parametrize("prompt", list(REFUSED))
def test_requests_nothing_fits_are_refused_with_a_reason(prompt: str) -> None:
    answer = plan_request(prompt)
    assert isinstance(answer, Refusal), answer
    assert REFUSED[prompt] in answer.reason


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a ball 4 cm in radius", {"sizes_mm": {"radius": 40.0}}),
        ("moved 1.5 m sideways", {"distances_mm": {"sideways": 1500.0}}),
        ("a 2 inch cube", {"sizes_mm": {"size": 50.8}, "moved_object": "cube"}),
        ("a gap 180mm wide, crossed by a wooden crate", {"sizes_mm": {"width": 180.0}, "material": "wood"}),
        ("lifted 250 mm onto a shelf", {"distances_mm": {"up": 250.0}}),
        ("an aluminum peg 1,200 mm long", {"sizes_mm": {"length": 1200.0}, "material": "aluminium"}),
        ("twelve spatial puzzles", {"count": 12, "tier": 1}),
        ("a tier-2 drawer", {"tier": 2, "moved_object": "drawer"}),
        ("kinematic: five gate variants", {"tier": 2, "count": 5}),
    ],
)
def test_reading_units_materials_tiers_and_counts(prompt: str, expected: dict[str, object]) -> None:
    reading = read_request(prompt)
    for key, value in expected.items():
        got = getattr(reading, key)
        assert got == (pytest.approx(value) if isinstance(value, dict) else value), (key, got)


@pytest.mark.parametrize("prompt", [*PLANS, *STRESS])
def test_overrides_stay_within_bounds(prompt: str) -> None:
    plan = plan_request(prompt)
    assert isinstance(plan, OfflinePlan), plan
    defaults = family_parameters(plan.family)
    for name, value in plan.overrides.items():
        assert name in defaults
        factor = value / defaults[name]
        distance = name in _distances(plan.family)
        assert 0.6 - 1e-9 <= factor <= (1.25 if distance else 1.5) + 1e-9, (name, value)
        low, high = bounds(plan.family, name)
        assert low - 1e-9 <= factor <= high + 1e-9, (name, value, low, high)


@pytest.mark.parametrize("prompt", [*PLANS, *REFUSED, *STRESS])
def test_the_same_prompt_gives_the_same_answer(prompt: str) -> None:
    first, second = plan_request(prompt), plan_request(prompt)
    assert type(first) is type(second)
    assert first.model_dump() == second.model_dump()


@pytest.mark.parametrize("prompt", [*PLANS, *STRESS])
def test_parameterized_source_compiles_and_carries_the_new_nominals(prompt: str) -> None:
    plan = plan_request(prompt)
    assert isinstance(plan, OfflinePlan)
    source = parameterized_source(plan)
    compile(source, "<generated>", "exec")
    assert source.startswith("# Generated offline")
    assert f"# Family: {plan.family}" in source
    original = library_family(plan.family).source()
    assert source.endswith(original) or plan.overrides
    assert family_parameters_of(source) == {**family_parameters(plan.family), **plan.overrides}
    # Only the nominal literals (and the scale of a grown layout) changed: the rest is the family's, line for line.
    grown = plan.scale != 1.0
    assert ("# Layout grown" in source) is grown
    body = source.split("\n", 5 if grown else 4)[-1]
    assert len(body.splitlines()) == len(original.splitlines())
    changed = [(a, b) for a, b in zip(body.splitlines(), original.splitlines(), strict=True) if a != b]
    defaults = family_parameters(plan.family)
    assert len(changed) == sum(value != defaults[name] for name, value in plan.overrides.items()) + grown
    assert all("p.param(" in a or f"scale=scale * {plan.scale:g}," in a for a, _ in changed)


# A parameter as a family's source draws it: `p.param("name", nominal=X`.
PARAM_RE = re.compile(r"""p\.param\(\s*["'](\w+)["']\s*,\s*nominal=\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)""")


def family_parameters_of(source: str) -> dict[str, float]:
    return {name: float(v) for name, v in PARAM_RE.findall(source)}


def test_parameterized_source_survives_hostile_prompts_and_rejects_unknown_params() -> None:
    reading = RequestReading(prompt='x\n"""\nimport os  # -*- coding: rot13 -*-\r\x00\u2028')
    plan = OfflinePlan(
        family="crank", tier=2, title="t", overrides={"cam_offset": 22.5}, rationale="r", reading=reading
    )
    source = parameterized_source(plan)
    compile(source, "<generated>", "exec")
    assert 'p.param("cam_offset", nominal=22.5,' in source
    with pytest.raises(ValueError, match="no parameters"):
        parameterized_source(plan.model_copy(update={"overrides": {"nope": 1.0}}))
    assert parameterized_source(plan.model_copy(update={"overrides": {}})).endswith(library_family("crank").source())


def test_every_family_has_a_profile_that_names_its_real_parameters() -> None:
    names = {f.name for f in families()}
    assert set(PROFILES) == names
    for name, profile in PROFILES.items():
        source = library_family(name).source()
        params = family_parameters(name)
        assert params and all(v > 0 for v in params.values())
        assert re.search(rf'moved="{profile.moved}"', source), name
        assert re.search(rf'Part\(\s*"{profile.moved}".*material="{profile.moved_material}"', source, re.S), name
        mapped = {p for maps in profile.sizes.values() for p, _, _ in maps}
        mapped |= set(profile.travel[0]) if profile.travel else set()
        mapped |= {profile.rise[0]} if profile.rise else set()
        assert mapped <= set(params), name


# --- The generated scripts really pass the worker's checks (in-process, no sandbox) -----------------


@pytest.mark.parametrize("prompt", [STEEL_BALL, CUBE_GAP])
def test_parameterized_sources_pass_every_check_in_process(prompt: str, tmp_path: Path) -> None:
    from benchgen_dagster.models.settings import CheckSettings
    from benchgen_dagster.worker.compile import DecompositionCache
    from benchgen_dagster.worker.local import compile_scene
    from benchgen_dagster.worker.simulate import simulate_scene
    from benchgen_dagster.worker.validate import validate_compiled

    plan = plan_request(prompt)
    assert isinstance(plan, OfflinePlan) and plan.overrides
    module = types.ModuleType(f"generated_{plan.family}")
    exec(compile(parameterized_source(plan), f"<{plan.family}>", "exec"), module.__dict__)
    settings = CheckSettings()
    cache = DecompositionCache(None, tmp_path / "cache")
    for seed in range(3):
        scene = module.build(seed)
        nominal = {r.name: r.nominal for r in scene.spec().params}
        assert {k: nominal[k] for k in plan.overrides} == pytest.approx(plan.overrides)
        out = tmp_path / str(seed)
        out.mkdir()
        compiled = compile_scene(scene, out, settings.geometry, cache, settings.simulation.timestep_s)
        results, model = validate_compiled(compiled, seed, settings.geometry)
        assert model is not None
        results += simulate_scene(model, compiled.spec, seed, settings.simulation)[1]
        failed = {r.check.value: r.message for r in results if not r.passed}
        assert not failed, f"seed {seed}: {failed}"


# --- Several candidates of one request are different benchmarks -------------------------------------


@pytest.mark.parametrize("prompt", ["class-1 lever where the fulcrum position varies", STEEL_BALL])
def test_each_candidate_of_a_request_moves_a_different_nominal_within_bounds(prompt: str) -> None:
    plans = [plan_request(f"{prompt}. Candidate {k} of 6.") for k in range(1, 7)]
    assert all(isinstance(p, OfflinePlan) for p in plans), plans
    first = plan_request(prompt)
    assert isinstance(first, OfflinePlan) and plans[0].overrides == first.overrides  # type: ignore[union-attr]
    overrides = [tuple(sorted(p.overrides.items())) for p in plans]  # type: ignore[union-attr]
    assert len(set(overrides)) == 6, overrides
    for plan in plans[1:]:
        assert isinstance(plan, OfflinePlan) and plan.reading.variants == 6
        assert plan.rationale.lower().count("candidate ") == 1
        for name, value in plan.overrides.items():
            low, high = bounds(plan.family, name)
            assert low - 1e-9 <= value / family_parameters(plan.family)[name] <= high + 1e-9
    assert plan_request(f"{prompt}. Candidate 4 of 6.") == plans[3]


def test_the_variant_phrase_is_not_read_as_a_count_or_a_size() -> None:
    reading = read_request("a drawer that must be pulled open (tier 2). Candidate 3 of 10.")
    assert (reading.variant, reading.variants, reading.count, reading.tier) == (3, 10, None, 2)
    assert not reading.sizes_mm and not reading.distances_mm
