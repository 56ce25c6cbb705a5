"""The front matter of plans, reviews and skills, as the graph, the pipeline and the skill store read it."""

import pytest

from benchgen_dagster.agent.prompts import PLANNER
from benchgen_dagster.library import catalogue
from benchgen_dagster.library import family as library_family
from benchgen_dagster.models.plans import Deviation, PlanError, learning_objectives, plan_fields, read_plan
from benchgen_dagster.models.reviews import ReviewError, read_review
from benchgen_dagster.models.skills import SkillError, parse_skill

CRANK = "---\nfamily: crank\ntier: 2\noverrides:\n  cam_offset: 25.0\n---\n# Crank\n"


@pytest.mark.parametrize(
    ("plan", "front"),
    [
        (CRANK, None),
        ("\n  \n---\nfamily: crank\ntier: 2\noverrides:\n  cam_offset: 25.0\n---\n# Crank\n---\nx: 1\n---\n", None),
        ('---\nrefused: "no family models gears"\n---\n# Refused\n', {"refused": "no family models gears"}),
        ("# A plan with no front matter\nfamily: crank\n", {}),
        ("---\nfamily: [crank\n---\n", {}),  # not YAML
        ("---\n- crank\n---\n", {}),  # not a mapping
        ("---\nfamily: crank\n", {}),  # never closed
        # Written by hand or by another model: what validates is read, the rest is left out.
        ("---\nfamily: crank\ntier: 2\noverrides:\n  cam_offset: 25.0\ntitle: Crank\n---\n", None),
        ("---\nfamily: crank\ntier: 2\noverrides:\n  cam_offset: 25.0\ndeviations: many\n---\n", None),
        ("---\nfamily: crank\ntier: two\n---\n", {"family": "crank"}),
    ],
)
def test_plans_already_written_load_as_far_as_they_validate(plan: str, front: dict[str, object] | None) -> None:
    expected = {"family": "crank", "tier": 2, "overrides": {"cam_offset": 25.0}} if front is None else front
    assert plan_fields(plan).model_dump(exclude_defaults=True) == expected


def test_the_current_shape_of_plan_validates_with_its_objectives_from_the_body() -> None:
    plan = CRANK + "\n## Learning objectives\n- Kinematic reasoning: use a crank.\n\n## Geometry\n- a wheel\n"
    front = read_plan(plan, catalogue())
    assert (front.family, front.tier, front.overrides) == ("crank", 2, {"cam_offset": 25.0})
    assert front.learning_objectives == ["Kinematic reasoning: use a crank."]
    # Written before "new" existed: `family: none` was a plan for a mechanism no family covers.
    assert read_plan("---\nfamily: none\n---\n# Plan\n", catalogue()).family == "new"


@pytest.mark.parametrize(
    ("body", "objectives"),
    [
        ("## Learning objectives\n- one\n- two\n", ["one", "two"]),
        (
            "## Learning Objectives:\n* get the ball over\n  the wall\n* stay light\n",
            ["get the ball over the wall", "stay light"],
        ),
        (
            "### learning objectives\n1. spatial\n   reasoning\n2) kinematic reasoning\n",
            ["spatial reasoning", "kinematic reasoning"],
        ),
        (
            "# Learning objectives\n\nReason about a lever\nand its fulcrum.\n\nKeep it cheap.\n# Next\n- no\n",
            ["Reason about a lever and its fulcrum.", "Keep it cheap."],
        ),
        ("## Geometry\n- a wall\n", []),
    ],
)
def test_learning_objectives_are_read_from_wrapped_numbered_and_starred_lists(body: str, objectives: list[str]) -> None:
    assert learning_objectives(body) == objectives
    assert plan_fields(f"---\nfamily: new\n---\n# Plan\n\n{body}").learning_objectives == objectives


def test_objectives_in_the_front_matter_come_before_the_body() -> None:
    plan = "---\nfamily: new\nlearning_objectives:\n- from the front matter\n---\n## Learning objectives\n- body\n"
    assert read_plan(plan).learning_objectives == ["from the front matter"]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("# A plan\n", "plan.md has no YAML front matter"),
        ("---\nfamily: [crank\n---\n", "plan.md front matter is not YAML"),
        ("---\n- crank\n---\n", "plan.md front matter is a YAML list, not a mapping"),
        ("---\ntier: 1\n---\n", "family: missing"),
        ("---\nfamily: cranks\n---\n", "family: 'cranks' is not a library family; use one of ball_over_wall"),
        ("---\nfamily: crank\ntier: 3\n---\n", "tier: Input should be less than or equal to 2"),
        (
            "---\nfamily: crank\noverrides:\n  cam_offset: 25 mm\n---\n",
            "overrides.cam_offset: Input should be a valid number",
        ),
        ("---\nfamily: crank\noverrides:\n  bin_x: 600\n---\n", "overrides: bin_x is not a parameter of crank"),
        ("---\nfamily: crank\nlearning_objective: [x]\n---\n", "learning_objective: Extra inputs are not permitted"),
        ("---\nfamily: new\nrandomization:\n- parameter: bin_x\n---\n", "randomization.0: say by how much it varies"),
        (
            "---\nfamily: new\nrandomization:\n- {parameter: x, range: [5, 1]}\n---\n",
            "randomization.0: range [5.0, 1.0]",
        ),
        (
            "---\nfamily: new\ndeviations:\n- {quantity: travel, requested: 1000, unit: mm}\n---\n",
            "deviations.0.planned: Field required",
        ),
    ],
)
def test_a_plan_that_does_not_validate_is_one_line_naming_the_field(plan: str, message: str) -> None:
    with pytest.raises(PlanError) as raised:
        read_plan(plan, catalogue())
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_planners_prompt_shows_front_matter_that_validates() -> None:
    example = PLANNER[PLANNER.index("---\nfamily:") :]
    front = read_plan(example + "\n# Plan\n", catalogue())
    assert front.deviations == [
        Deviation(
            quantity="travel sideways", requested=2500, planned=1750, unit="mm", reason=front.deviations[0].reason
        )
    ]
    assert front.scale == 2 and front.overrides == {"ball_radius": 22.5, "bin_x": 575}
    # The example plans inside the ranges the task lists (the measured safe ranges) and the family's scale.
    safe = {p.name: p.safe for p in library_family("ball_over_wall").parameters()}
    for name, value in front.overrides.items():
        nominal = next(p.nominal for p in library_family("ball_over_wall").parameters() if p.name == name)
        assert safe[name][0] <= value / nominal <= safe[name][1], name
    assert front.scale <= library_family("ball_over_wall").max_scale
    assert {p.parameter or p.description for p in front.randomization} == {"bin_x", "wall height"}
    assert front.randomization[0].spread == 0.4 and front.randomization[1].range == (72, 168)
    # Every field the model has is named in the prompt.
    assert all(f"`{name}`" in PLANNER for name in type(front).model_fields)


def test_a_deviation_reads_as_one_line() -> None:
    moved = Deviation(quantity="travel sideways", requested=1000, planned=925, unit="mm", reason="layout")
    assert moved.summary() == "travel sideways 1000 -> 925 mm (layout)"
    unused = Deviation(quantity="height", requested=300, planned=None, unit="mm", reason="no parameter")
    assert unused.summary() == "height 300 -> not represented (no parameter)"


def test_a_review_says_its_decision_and_comments() -> None:
    assert read_review("---\ndecision: approved\ncomments:\n- ok\n- fine\n---\n# Review\n") == (
        "approved",
        ["ok", "fine"],
    )
    assert read_review("\n---\ndecision: rejected\ncomments: one\n---\n") == ("rejected", ["one"])
    for text in ("# Review\nno front matter\n", "---\ndecision: maybe\n---\n", "---\ndecision: approved\n"):
        with pytest.raises(ReviewError, match="no front matter with decision"):
            read_review(text)


def test_a_skill_must_open_with_its_front_matter() -> None:
    skill = (
        "---\nname: crank-limits\ndescription: keep cam_offset small\nmetadata:\n  family: crank\n"
        '  limits: "cam_offset <= 24"\n  evidence: "r1-v1"\n---\n# Limits\n\n```python\ncam_offset = 24\n```\n'
    )
    assert parse_skill(skill, "crank-limits").limits["cam_offset"].high == 24
    # deepagents loads a skill only from front matter on its first line: one that starts later is refused.
    with pytest.raises(SkillError, match="does not start with YAML front matter"):
        parse_skill("\n" + skill, "crank-limits")
