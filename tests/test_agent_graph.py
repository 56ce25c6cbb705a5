"""The agent graph's loops, driven by scripted chat models: fix after a failed check, reject then approve,
the round cap, the stop on a repeated failure, and a model that keeps failing."""

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from pydantic import Field

from benchgen_dagster.agent.configuration import SessionConfig
from benchgen_dagster.agent.planner import PLAN_FIXES
from benchgen_dagster.agent.reviewer import ReviewError, read_review
from benchgen_dagster.agent.session import run_session
from tests.conftest import SCRIPTS
from tests.scripted import ScriptedChatModel, call, python, review, write

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("require_bubblewrap")]

GOOD = (SCRIPTS / "good_box.py").read_text()
# The box sunk 20 mm into the floor: no_interpenetration fails for every seed.
BAD = GOOD.replace("size / 2 + 0.3", "size / 2 - 20")
PLAN = "---\nfamily: none\n---\n# Plan\nPush a box into the goal.\n"


def session(tmp_path: Path, planner: list, coder: list, reviewer: list, models: dict | None = None, **config: object):  # type: ignore[no-untyped-def]
    models = models or {
        "planner": ScriptedChatModel(script=planner),
        "coder": ScriptedChatModel(script=coder),
        "reviewer": ScriptedChatModel(script=reviewer),
    }
    settings = SessionConfig(
        prompt="push a box into a goal", workspace=tmp_path / "ws", check_seeds=2, model_retries=0
    ).model_copy(update=config)
    return run_session(settings, models=models, home=tmp_path / "home")


def planner_script() -> list:
    return [call("write_todos", todos=[{"content": "plan", "status": "completed"}]), write("/plan.md", PLAN), "planned"]


def test_a_failed_check_goes_back_to_the_coder_and_the_fix_is_approved(tmp_path: Path) -> None:
    result = session(
        tmp_path,
        planner_script(),
        coder=[write("/script.py", BAD), "v1", write("/script.py", GOOD), "v2"],
        reviewer=[call("view_renders"), review(2, "approved", "fine"), "done"],
    )
    assert result.decision == "approved" and result.rounds == 2
    journal = (tmp_path / "ws" / "journal.md").read_text()
    assert "no_interpenetration" in journal and "on to the reviewer" in journal
    assert (tmp_path / "ws" / "reviews" / "2.md").is_file()
    assert "- [x] plan" in (tmp_path / "ws" / "todo.md").read_text()
    assert result.usage["coder"]["calls"] == 4 and result.usage["planner"]["input_tokens"] > 0


def test_a_rejected_review_returns_to_the_coder_then_is_approved(tmp_path: Path) -> None:
    result = session(
        tmp_path,
        planner_script(),
        coder=[write("/script.py", GOOD), "v1", "v2: addressed the review"],
        reviewer=[review(1, "rejected", "make the curb taller"), "r1", review(2, "approved", "better"), "r2"],
    )
    assert result.decision == "approved" and result.rounds == 2
    assert "make the curb taller" in (tmp_path / "ws" / "journal.md").read_text()


def test_the_round_cap_ends_the_session_rejected(tmp_path: Path) -> None:
    result = session(
        tmp_path,
        planner_script(),
        coder=[write("/script.py", GOOD), "v1", "v2"],
        reviewer=[review(1, "rejected", "no"), "r1", review(2, "rejected", "still no"), "r2"],
        max_rounds=2,
    )
    assert result.decision == "rejected" and result.rounds == 2
    assert "still no" in result.reason


def test_the_same_failure_twice_ends_the_session_instead_of_looping(tmp_path: Path) -> None:
    result = session(
        tmp_path,
        planner_script(),
        coder=[write("/script.py", BAD), "v1", "v2: unchanged"],
        reviewer=[],
        max_rounds=5,
    )
    assert result.decision == "failed" and result.rounds == 2
    assert "same checks failed twice" in result.reason and "no_interpenetration" in result.reason


def test_a_model_that_keeps_failing_ends_the_session_with_the_reason_in_the_journal(tmp_path: Path) -> None:
    result = session(tmp_path, [TimeoutError("provider timed out")] * 3, coder=[], reviewer=[], model_retries=1)
    assert result.decision == "failed" and "provider timed out" in result.reason
    assert "provider timed out" in (tmp_path / "ws" / "journal.md").read_text()


def test_skills_are_offered_to_the_coder(tmp_path: Path) -> None:
    skills = tmp_path / "skills" / "ball-flat-foot"
    skills.mkdir(parents=True)
    (skills / "SKILL.md").write_text(
        "---\nname: ball-flat-foot\ndescription: give faceted balls a 1 mm flat so they stop creeping\n---\n"
        "# Flat foot\nCut 1 mm off the bottom of a mesh sphere.\n"
    )
    coder = ScriptedChatModel(script=["nothing to do"])
    models = {
        "planner": ScriptedChatModel(script=planner_script()),
        "coder": coder,
        "reviewer": ScriptedChatModel(script=[]),
    }
    session(tmp_path, [], [], [], models=models, skills_dir=tmp_path / "skills", max_rounds=1)
    assert (tmp_path / "ws" / "skills" / "ball-flat-foot" / "SKILL.md").is_file()
    assert any("give faceted balls a 1 mm flat" in prompt for prompt in coder.system_prompts)


def test_a_summary_left_in_the_workspace_cannot_pass_the_gate_and_programs_cannot_write_reports(
    tmp_path: Path,
) -> None:
    import hashlib
    import json

    reports = tmp_path / "ws" / "reports"
    reports.mkdir(parents=True)
    forged = {"passed": True, "script_sha256": hashlib.sha256(BAD.encode()).hexdigest(), "failed_checks": []}
    (reports / "summary.json").write_text(json.dumps(forged))
    program = "open('reports/forged.json', 'w').write('{}')"
    result = session(
        tmp_path,
        planner_script(),
        coder=[write("/script.py", BAD), call("execute", command=python(program)), "v1"],
        reviewer=[],
        max_rounds=1,
    )
    assert result.decision == "failed" and "no_interpenetration" in result.failed_checks
    assert not (reports / "forged.json").exists()
    assert json.loads((reports / "summary.json").read_text())["passed"] is False


def test_a_reused_workspace_cannot_approve_itself_with_an_old_review(tmp_path: Path) -> None:
    reviews = tmp_path / "ws" / "reviews"
    reviews.mkdir(parents=True)
    (reviews / "1.md").write_text("---\ndecision: approved\ncomments: [old]\n---\n")
    result = session(
        tmp_path, planner_script(), coder=[write("/script.py", GOOD), "v1"], reviewer=["looks fine"], max_rounds=1
    )
    assert result.decision == "rejected" and "invalid review" in result.reason


def test_a_plan_left_in_a_reused_workspace_is_not_this_sessions_plan(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "plan.md").write_text(PLAN)
    result = session(tmp_path, ["I have no plan"], coder=[], reviewer=[])
    assert result.decision == "refused" and "no plan.md" in result.reason


class RecordingChatModel(ScriptedChatModel):
    """A scripted model that keeps the tasks (human messages) it was given."""

    tasks: list[str] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        self.tasks.extend(str(m.content) for m in messages if m.type == "human" and str(m.content) not in self.tasks)
        return super()._generate(messages, stop, run_manager, **kwargs)


BAD_PLAN = "---\nfamily: ball_over_wall\ntier: 1\noverrides:\n  bin_x: 700 mm\n---\n# Plan\n"


def test_a_planner_whose_front_matter_does_not_validate_is_told_why_and_rewrites_it(tmp_path: Path) -> None:
    planner = RecordingChatModel(script=[write("/plan.md", BAD_PLAN), "planned", write("/plan.md", PLAN), "fixed"])
    models = {"planner": planner, "coder": ScriptedChatModel(script=[]), "reviewer": ScriptedChatModel(script=[])}
    config = SessionConfig(prompt="push a box into a goal", workspace=tmp_path / "ws", model_retries=0)
    result = run_session(config, models=models, home=tmp_path / "home", roles=("planner",))
    assert result.decision == "handed_off" and result.usage["planner"]["calls"] == 4
    problem = "plan.md front matter: overrides.bin_x: Input should be a valid number"
    assert len(planner.tasks) == 2 and problem in planner.tasks[1] and "PLAN PROBLEM:" in planner.tasks[1]
    journal = (tmp_path / "ws" / "journal.md").read_text()
    assert f"{problem}, unable to parse string as a number; the planner is told and writes plan.md again" in journal
    assert "plan ready for the coder" in journal


def test_a_planner_that_never_writes_valid_front_matter_ends_the_session_failed_with_the_reason(
    tmp_path: Path,
) -> None:
    planner = ScriptedChatModel(script=[write("/plan.md", BAD_PLAN), "planned"] * (PLAN_FIXES + 1))
    result = session(tmp_path, [], [], [], models={"planner": planner, "coder": planner, "reviewer": planner})
    problem = (
        "plan.md front matter: overrides.bin_x: Input should be a valid number, unable to parse string as a number"
    )
    assert result.decision == "failed" and result.reason == problem
    assert result.usage["planner"]["calls"] == 2 * (PLAN_FIXES + 1)
    journal = (tmp_path / "ws" / "journal.md").read_text()
    assert f"- result: failed: {problem}\n- reflection: the session ends" in journal
    assert "## coder" not in journal


def test_a_text_only_reviewer_must_view_the_renders_before_approving(tmp_path: Path) -> None:
    models = {
        "planner": ScriptedChatModel(script=planner_script()),
        "coder": ScriptedChatModel(script=[write("/script.py", GOOD), "v1", "v2"]),
        "reviewer": ScriptedChatModel(
            script=[review(1, "approved", "blind"), "r1", call("view_renders"), review(2, "approved", "seen"), "r2"],
            profile={"image_inputs": False},
        ),
    }
    result = session(tmp_path, [], [], [], models=models)
    assert result.decision == "approved" and result.rounds == 2
    first = read_review((tmp_path / "ws" / "reviews" / "1.md").read_text())
    assert first[0] == "approved"  # what it wrote; the graph overruled it
    assert "without looking at the renders" in (tmp_path / "ws" / "journal.md").read_text()


def test_the_reviewer_sees_renders_of_the_current_script(tmp_path: Path) -> None:
    changed = GOOD + "\n# round 2: a comment changes the digest, so the views are rendered again\n"
    result = session(
        tmp_path,
        planner_script(),
        coder=[write("/script.py", GOOD), "v1", write("/script.py", changed), "v2"],
        reviewer=[review(1, "rejected", "again"), "r1", review(2, "approved", "ok"), "r2"],
    )
    assert result.decision == "approved"
    views = sorted((tmp_path / "ws" / "renders").glob("view_*.png"))
    assert len(views) == 24
    assert min(v.stat().st_mtime_ns for v in views) > (tmp_path / "ws" / "reviews" / "1.md").stat().st_mtime_ns


def test_a_review_with_broken_yaml_is_a_review_error() -> None:
    with pytest.raises(ReviewError, match="not valid YAML"):
        read_review("---\ndecision: [approved\n---\n")
