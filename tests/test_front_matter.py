"""The front matter of plans, reviews and skills, as the graph, the pipeline and the skill store read it."""

import pytest

from benchgen_dagster.models.plans import plan_front_matter
from benchgen_dagster.models.reviews import ReviewError, read_review
from benchgen_dagster.models.skills import SkillError, parse_skill


@pytest.mark.parametrize(
    ("plan", "front"),
    [
        ("---\nfamily: crank\ntier: 2\noverrides:\n  cam_offset: 25.0\n---\n# Crank\n", None),
        ("\n  \n---\nfamily: crank\ntier: 2\noverrides:\n  cam_offset: 25.0\n---\n# Crank\n---\nx: 1\n---\n", None),
        ('---\nrefused: "no family models gears"\n---\n# Refused\n', {"refused": "no family models gears"}),
        ("# A plan with no front matter\nfamily: crank\n", {}),
        ("---\nfamily: [crank\n---\n", {}),  # not YAML
        ("---\n- crank\n---\n", {}),  # not a mapping
        ("---\nfamily: crank\n", {}),  # never closed
    ],
)
def test_a_plans_front_matter_is_read_or_empty(plan: str, front: dict[str, object] | None) -> None:
    expected = {"family": "crank", "tier": 2, "overrides": {"cam_offset": 25.0}} if front is None else front
    assert plan_front_matter(plan) == expected


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
