"""The offline policy: a deterministic chat model that plays planner, coder and reviewer.

It stands behind the same `BaseChatModel` interface a real provider does, and emits the same tool
calls a real model would (write_todos, write_file, read_file, execute, check_script, ...), so the
graph, the tools and the sandbox run unchanged with no network. What it knows is the built-in
library: it reads the request (`offline_requests`), picks and parameterizes a family, and judges
by the worker's reports and the renders. It is a real, documented mode (docs/agents.md), not a
test double: it cannot invent geometry the library does not have, and says so by refusing.
"""

import json
import re
from collections.abc import Sequence
from typing import Any

import yaml
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from benchgen_dagster.agent.offline_requests import (
    OfflinePlan,
    Refusal,
    family_parameters,
    parameterized_source,
    plan_request,
)

# Markers the nodes put in the task message; real models read them as plain text.
REQUEST_MARKER = "REQUEST:"
ROUND_MARKER = "ROUND:"
PLAN_MARKER = "PLAN (plan.md):"
FEEDBACK_MARKER = "FEEDBACK:"
_CHARS_PER_TOKEN = 4


def _section(text: str, marker: str) -> str:
    """The text after `marker` up to the next blank-line-separated marker line."""
    if marker not in text:
        return ""
    rest = text.split(marker, 1)[1]
    return re.split(r"\n\n[A-Z][A-Z ()._]+:", rest, maxsplit=1)[0].strip()


def plan_front_matter(plan_text: str) -> dict[str, Any]:
    match = re.match(r"\s*---\n(.*?)\n---", plan_text, re.S)
    if not match:
        return {}
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def plan_markdown(plan: OfflinePlan | Refusal, prompt: str) -> str:
    """plan.md as the planner writes it: front matter for machines, sections for people."""
    if isinstance(plan, Refusal):
        return f"---\nrefused: {json.dumps(plan.reason)}\n---\n# Refused\n\nRequest: {prompt}\n\n{plan.reason}\n"
    defaults = family_parameters(plan.family)
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


def _tool_call(name: str, args: dict[str, Any], index: int) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"offline-{name}-{index}", "type": "tool_call"}


class OfflinePolicyModel(BaseChatModel):
    """Plays `role` ("planner", "coder" or "reviewer") deterministically; tools are chosen by the policy."""

    role: str

    @property
    def _llm_type(self) -> str:
        return "benchgen-offline-policy"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> "OfflinePolicyModel":
        # The policy knows which tools each role calls; it does not need their schemas.
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        task = next((str(m.content) for m in messages if isinstance(m, HumanMessage)), "")
        called = [call["name"] for m in messages if isinstance(m, AIMessage) for call in m.tool_calls]
        results = {str(m.name): str(m.content) for m in messages if isinstance(m, ToolMessage)}
        step = {"planner": self._planner, "coder": self._coder, "reviewer": self._reviewer}[self.role]
        message = step(task, called, results, len(called))
        spoken = sum(len(str(m.content)) for m in messages)
        written = len(str(message.content)) + len(json.dumps([c["args"] for c in message.tool_calls]))
        message.usage_metadata = {
            "input_tokens": spoken // _CHARS_PER_TOKEN + 1,
            "output_tokens": written // _CHARS_PER_TOKEN + 1,
            "total_tokens": (spoken + written) // _CHARS_PER_TOKEN + 2,
        }
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _planner(self, task: str, called: list[str], results: dict[str, str], n: int) -> AIMessage:
        prompt = _section(task, REQUEST_MARKER)
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
            return AIMessage(content="", tool_calls=[_tool_call("write_todos", {"todos": todos}, n)])
        if "write_file" not in called:
            args = {"file_path": "/plan.md", "content": plan_markdown(plan, prompt)}
            return AIMessage(content="", tool_calls=[_tool_call("write_file", args, n)])
        if isinstance(plan, Refusal):
            return AIMessage(content=f"REFUSED: {plan.reason}")
        return AIMessage(content=f"PLAN READY: {plan.family} with overrides {plan.overrides}")

    def _chosen_plan(self, task: str) -> OfflinePlan | Refusal:
        prompt = _section(task, REQUEST_MARKER)
        front = plan_front_matter(_section(task, PLAN_MARKER))
        if front.get("family"):
            overrides = {str(k): float(v) for k, v in (front.get("overrides") or {}).items()}
            reading = plan_request(prompt).reading
            return OfflinePlan(
                family=str(front["family"]),
                tier=int(front.get("tier") or 1),
                title=prompt[:80],
                overrides=overrides,
                rationale="as planned in plan.md",
                reading=reading,
            )
        return plan_request(f"{prompt}\n{_section(task, PLAN_MARKER)}")

    def _coder(self, task: str, called: list[str], results: dict[str, str], n: int) -> AIMessage:
        plan = self._chosen_plan(task)
        if isinstance(plan, Refusal):
            return AIMessage(content=f"Nothing to build: {plan.reason}")
        if "read_file" not in called:
            return AIMessage(content="", tool_calls=[_tool_call("read_file", {"file_path": "/plan.md"}, n)])
        if "write_file" not in called:
            if _section(task, FEEDBACK_MARKER) and plan.overrides:
                # The fix the policy knows: fall back to the family's validated nominal values.
                plan = plan.model_copy(update={"overrides": {}, "rationale": "reverted to the family's defaults"})
            args = {"file_path": "/script.py", "content": parameterized_source(plan)}
            return AIMessage(content="", tool_calls=[_tool_call("write_file", args, n)])
        if "execute" not in called:
            code = "from utils import simulate\nprint(simulate(seeds=2))"
            return AIMessage(content="", tool_calls=[_tool_call("execute", {"command": code}, n)])
        if "check_script" not in called:
            return AIMessage(content="", tool_calls=[_tool_call("check_script", {}, n)])
        if '"passed": false' in results.get("check_script", ""):
            failed = json.loads(results["check_script"]).get("failed_checks", [])
            return AIMessage(content=f"CHECKS FAILED: {', '.join(failed)}")
        if "render_views" not in called:
            return AIMessage(content="", tool_calls=[_tool_call("render_views", {"seed": 0}, n)])
        if "submit_for_review" not in called:
            note = f"{plan.family} with {plan.overrides or 'default parameters'}; all checks pass"
            return AIMessage(content="", tool_calls=[_tool_call("submit_for_review", {"note": note}, n)])
        if "write_todos" not in called:
            todos = [
                {"content": f"write script.py ({plan.family})", "status": "completed"},
                {"content": "self-check with utils.simulate", "status": "completed"},
                {"content": "full check_script over all seeds", "status": "completed"},
                {"content": "render and submit for review", "status": "completed"},
            ]
            return AIMessage(content="", tool_calls=[_tool_call("write_todos", {"todos": todos}, n)])
        return AIMessage(content=f"SUBMITTED: script.py ({plan.family})")

    def _reviewer(self, task: str, called: list[str], results: dict[str, str], n: int) -> AIMessage:
        review_round = (_section(task, ROUND_MARKER).splitlines() or ["1"])[0].strip()
        if "read_file" not in called:
            return AIMessage(
                content="", tool_calls=[_tool_call("read_file", {"file_path": "/reports/summary.json"}, n)]
            )
        if "view_renders" not in called:
            return AIMessage(content="", tool_calls=[_tool_call("view_renders", {}, n)])
        if "write_file" not in called:
            passed = '"passed": true' in results.get("read_file", "")
            views = json.loads(results.get("view_renders") or "[]")
            goal_visible = any(v.get("goal_zone_share", 0) > 0 for v in views)
            comments = []
            if not passed:
                comments.append("the worker's checks did not all pass (see /reports/summary.json)")
            if not views:
                comments.append("there are no renders to look at")
            elif not goal_visible:
                comments.append("the goal zone is not visible in any of the renders")
            decision = "approved" if not comments else "rejected"
            if not comments:
                comments.append(
                    f"all checks pass; the goal zone shows in {sum(v['goal_zone_share'] > 0 for v in views)} "
                    f"of {len(views)} views"
                )
            body = yaml.safe_dump({"decision": decision, "comments": comments}, sort_keys=False)
            review = (
                f"---\n{body}---\n# Review, round {review_round}\n\n" + "\n".join(f"- {c}" for c in comments) + "\n"
            )
            args = {"file_path": f"/reviews/{review_round}.md", "content": review}
            return AIMessage(content="", tool_calls=[_tool_call("write_file", args, n)])
        return AIMessage(content=f"REVIEW WRITTEN: /reviews/{review_round}.md")
