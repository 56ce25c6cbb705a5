"""`benchgen agent run` with the offline policy: varied prompts become approved benchmarks, unfit ones are
refused, the same prompt gives the same files, and bad input is a one-line usage error."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchgen_dagster.agent.reviewer import read_review
from tests.conftest import benchgen

TEXT_FILES = ("plan.md", "todo.md", "script.py", "journal.md", "reviews/1.md")


def agent(
    prompt: str, workspace: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return benchgen("agent", "run", prompt, "--workspace", str(workspace), *args, env=env)


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
@pytest.mark.parametrize(
    ("prompt", "family"),
    [
        ("a steel ball of radius 40 mm must be moved 1 m sideways", None),
        ("a drawer that must be pulled open", "sliding_drawer"),
    ],
)
def test_a_request_becomes_an_approved_benchmark(tmp_path: Path, prompt: str, family: str | None) -> None:
    workspace = tmp_path / "ws"
    result = agent(prompt, workspace, "--json")
    session = json.loads(result.stdout)
    assert result.returncode == 0, session
    assert session["decision"] == "approved" and session["checks_passed"]
    reviews = f"reviews/{session['rounds']}.md"
    for name in (
        "plan.md",
        "todo.md",
        "script.py",
        "journal.md",
        reviews,
        "reports/summary.json",
        "reports/validation.json",
        "renders/view_az000_el35.png",
    ):
        assert (workspace / name).is_file(), name
    decision, _ = read_review((workspace / reviews).read_text())
    assert decision == "approved"
    # The offline coder writes the reference solution too, and the worker proved it on every seed.
    assert "\ndef solution(seed: int, scale: float = 1.0)" in (workspace / "script.py").read_text()
    assert json.loads((workspace / "reports/summary.json").read_text())["solvability"] == "proven"
    assert "its reference solution solves every checked seed" in (workspace / reviews).read_text()
    if family:
        assert f"family: {family}" in (workspace / "plan.md").read_text()
    assert all(u["input_tokens"] > 0 and u["output_tokens"] > 0 for u in session["usage"].values())
    assert {"planner", "coder", "reviewer"} <= set(session["usage"])


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_same_prompt_same_files(tmp_path: Path) -> None:
    prompt = "class-1 lever where the fulcrum position varies"
    first, second = tmp_path / "a", tmp_path / "b"
    assert agent(prompt, first).returncode == 0
    assert agent(prompt, second).returncode == 0
    for name in TEXT_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    views = sorted(p.name for p in (first / "renders").iterdir())
    assert len(views) == 24 and views == sorted(p.name for p in (second / "renders").iterdir())


def test_a_request_nothing_in_the_library_fits_is_refused_with_the_reason_in_the_review(tmp_path: Path) -> None:
    result = agent("a gearbox with five meshing helical gears", tmp_path / "ws")
    assert result.returncode == 1
    decision, comments = read_review((tmp_path / "ws" / "reviews" / "1.md").read_text())
    assert decision == "rejected" and comments and comments[0]
    assert "refused" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "the prompt is empty"),
        (["a ball into a bin", "--plan", "no/such/plan.md"], "plan file not found"),
        (["a ball into a bin", "--model", "nosuchprovider:model-x"], "cannot be used"),
        (["a ball into a bin", "--model", "anthropic:claude-sonnet-4-5"], "needs ANTHROPIC_API_KEY"),
        (["a ball into a bin", "--model", "gpt4"], "must be 'offline' or 'provider:model'"),
        (["a ball into a bin", "--max-rounds", "0"], ""),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_work(tmp_path: Path, args: list[str], message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    result = agent(args[0], tmp_path / "ws", *args[1:], env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "ws" / "plan.md").exists()


def test_a_curators_plan_whose_front_matter_does_not_validate_is_one_line_and_exit_2(tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("---\nfamily: ball_over_wall\noverrides:\n  bin_radius: 40\n---\n# My plan\n")
    result = agent("a ball into a bin", tmp_path / "ws", "--plan", str(plan))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().endswith(
        "plan.md front matter: overrides: bin_radius is not a parameter of ball_over_wall "
        "(its parameters: ball_radius, bin_x, wall_height)"
    )
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "ws" / "plan.md").exists()


def test_a_failure_mid_session_is_one_line_and_exit_1(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "journal.md").mkdir(parents=True)  # the first journal write fails mid-session
    result = agent("class-1 lever where the fulcrum position varies", workspace)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the session failed: UnsafeFileError: journal.md: Is a directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
