"""The offline planner: the todo list, then plan.md for the library family the request fits, or a refusal."""

import json

import yaml
from langchain_core.messages import AIMessage

from benchgen_dagster.agent.offline.messages import call, section
from benchgen_dagster.agent.offline.planning import OfflinePlan, Refusal, plan_request
from benchgen_dagster.agent.prompts import REQUEST_MARKER
from benchgen_dagster.library import family as library_family


def plan_markdown(plan: OfflinePlan | Refusal, prompt: str) -> str:
    """plan.md as the planner writes it: front matter for machines, sections for people."""
    if isinstance(plan, Refusal):
        return f"---\nrefused: {json.dumps(plan.reason)}\n---\n# Refused\n\nRequest: {prompt}\n\n{plan.reason}\n"
    defaults = library_family(plan.family).nominals()
    nominal = {**defaults, **plan.overrides}
    front = yaml.safe_dump({"family": plan.family, "tier": plan.tier, "overrides": plan.overrides}, sort_keys=True)
    ranges = "\n".join(
        f"- `{name}`: nominal {value:g}, drawn over ±40 % ({value * 0.6:g}..{value * 1.4:g}) by the seed"
        for name, value in sorted(nominal.items())
    )
    return (
        f"---\n{front}---\n# {plan.title}\n\nRequest: {prompt}\n\n"
        f"## Learning objectives\n{_objectives(plan.tier)}\n\n"
        f"## Geometry and kinematic chain\nBuilt from the `{plan.family}` family of the library. {plan.rationale}\n\n"
        f"## Randomization strategy\n{ranges}\n\n"
        "## Objectives and constraints\nThe family's goal, build and forbid zones, moved object and cost, weight "
        "and quantity constraints, scaled with the parameters above.\n\n"
        "## Self-verification\n1. `execute`: `from utils import simulate; print(simulate(seeds=2))`.\n"
        "2. `check_script` over all seeds: every check must pass.\n3. `render_views`, then `submit_for_review`.\n"
    )


def _objectives(tier: int) -> str:
    if tier == 1:
        return "- Spatial reasoning: get an object past obstacles into a goal zone without entering forbidden space."
    return "- Kinematic reasoning: use a mechanism (lever, slide, hinge, crank) to produce the required motion."


def planner_step(task: str, called: list[str], n: int) -> AIMessage:
    """The planner's next message, given the task and the tools it has called so far."""
    prompt = section(task, REQUEST_MARKER)
    plan = plan_request(prompt)
    if "write_todos" not in called:
        todos = [
            {
                "content": "Write plan.md: objectives, geometry, randomization, zones, self-verification",
                "status": "in_progress",
            },
            {"content": "Coder: write script.py from the plan", "status": "pending"},
            {"content": "Coder: verify with utils.simulate and check_script", "status": "pending"},
            {"content": "Reviewer: read reports, look at renders, decide", "status": "pending"},
        ]
        return call("write_todos", {"todos": todos}, n)
    if "write_file" not in called:
        return call("write_file", {"file_path": "/workspace/plan.md", "content": plan_markdown(plan, prompt)}, n)
    if isinstance(plan, Refusal):
        return AIMessage(content=f"REFUSED: {plan.reason}")
    return AIMessage(content=f"PLAN READY: {plan.family} with overrides {plan.overrides}")
