"""The offline planner: the todo list, then plan.md for the library family the request fits, or a refusal."""

import json

import yaml
from langchain_core.messages import AIMessage

from benchgen_dagster.agent.offline.messages import call, section
from benchgen_dagster.agent.offline.planning import OfflinePlan, Refusal, plan_request
from benchgen_dagster.agent.prompts import REQUEST_MARKER
from benchgen_dagster.library import family as library_family
from benchgen_dagster.models.plans import PlanFrontMatter, Randomized


def plan_markdown(plan: OfflinePlan | Refusal, prompt: str) -> str:
    """plan.md as the planner writes it: front matter for machines (`models.plans.PlanFrontMatter`), sections
    for people."""
    if isinstance(plan, Refusal):
        return f"---\nrefused: {json.dumps(plan.reason)}\n---\n# Refused\n\nRequest: {prompt}\n\n{plan.reason}\n"
    parameters = library_family(plan.family).parameters()
    nominal = {p.name: plan.overrides.get(p.name, float(p.nominal)) for p in parameters}
    objectives = _objectives(plan.tier)
    front = PlanFrontMatter(
        family=plan.family,
        tier=plan.tier,
        overrides=dict(sorted(plan.overrides.items())),
        scale=plan.scale,
        learning_objectives=objectives,
        randomization=[
            Randomized(
                parameter=p.name,
                nominal=nominal[p.name],
                spread=p.spread,
                range=(round(nominal[p.name] * (1 - p.spread), 3), round(nominal[p.name] * (1 + p.spread), 3)),
                unit=p.unit,
            )
            for p in sorted(parameters, key=lambda p: p.name)
        ],
        deviations=plan.deviations,
    )
    # A plan at the family's own size says nothing of scale (and reads the same as before scale existed).
    fields = front.model_dump(mode="json", exclude={"refused"} | ({"scale"} if plan.scale == 1.0 else set()))
    # What a seed varies says only what it has; a deviation says `planned: null` where nothing is planned.
    fields["randomization"] = [r.model_dump(mode="json", exclude_none=True) for r in front.randomization]
    head = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True, width=100)
    ranges = "\n".join(
        f"- `{name}`: nominal {value:g}, drawn over ±40 % ({value * 0.6:g}..{value * 1.4:g}) by the seed"
        for name, value in sorted(nominal.items())
    )
    deviations = "".join(f"- {d.summary()}\n" for d in plan.deviations)
    return (
        f"---\n{head}---\n# {plan.title}\n\nRequest: {prompt}\n\n"
        "## Learning objectives\n" + "".join(f"- {o}\n" for o in objectives) + "\n"
        f"## Geometry and kinematic chain\nBuilt from the `{plan.family}` family of the library. {plan.rationale}\n\n"
        + (f"## Deviations from the request\n{deviations}\n" if deviations else "")
        + f"## Randomization strategy\n{ranges}\n\n"
        "## Objectives and constraints\nThe family's goal, build and forbid zones, moved object and cost, weight "
        "and quantity constraints, scaled with the parameters above.\n\n"
        "## Self-verification\n1. `execute`: `from utils import simulate; print(simulate(seeds=2))`.\n"
        "2. `check_script` over all seeds: every check must pass.\n3. `render_views`, then `submit_for_review`.\n"
    )


def _objectives(tier: int) -> list[str]:
    if tier == 1:
        return ["Spatial reasoning: get an object past obstacles into a goal zone without entering forbidden space."]
    return ["Kinematic reasoning: use a mechanism (lever, slide, hinge, crank) to produce the required motion."]


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
