"""The planner node: writes plan.md and the todo list, or takes the user's plan as given.

plan.md's front matter is validated (`models.plans.read_plan`) before the coder sees it. A planner whose
front matter does not validate is told what is wrong and writes it again, up to PLAN_FIXES times within its
turn; after that the session ends failed, with the problem as its reason.
"""

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from benchgen_dagster.agent.contract import library_summary
from benchgen_dagster.agent.model_calls import usage_total
from benchgen_dagster.agent.prompts import LIBRARY_MARKER, PLAN_PROBLEM_MARKER, REQUEST_MARKER
from benchgen_dagster.agent.roles import Role, RoleFailed, session_failed
from benchgen_dagster.agent.state import DONE, SessionState
from benchgen_dagster.agent.tools import SessionContext
from benchgen_dagster.library import catalogue, layout_scales
from benchgen_dagster.models.plans import PlanError, read_plan
from benchgen_dagster.worker import safe_files

# How many times a planner whose plan.md does not validate is told why and may write it again.
PLAN_FIXES = 2
NO_PLAN = "the planner wrote no plan.md (as a regular file)"


def planner_task(state: SessionState) -> str:
    """The request, and the library the plan may build on (or `family: new` where nothing fits)."""
    return f"{REQUEST_MARKER}\n{state['prompt']}\n\n{LIBRARY_MARKER}\n{library_summary()}"


def make_planner(role: Role, context: SessionContext):  # type: ignore[no-untyped-def]
    def planner(state: SessionState, config: RunnableConfig) -> Command[Literal["coder", "__end__"]]:
        # A plan left in a reused workspace is not this session's plan.
        safe_files.remove(context.workspace, "plan.md")
        if context.config.plan_file is not None:
            # Checked when the session's inputs were (session.validate_inputs): a bad plan is a usage error.
            safe_files.write_text(context.workspace, "plan.md", context.config.plan_file.read_text())
            context.note(
                "planner",
                "use the curator's plan: " + " ".join(state["prompt"].split())[:300],
                f"plan.md copied from {context.config.plan_file}",
                "the planner agent did not run",
            )
            return context.hand_off("coder", {"round": 1})
        task = planner_task(state)
        usage: dict[str, Any] = {}
        problem = ""
        for attempt in range(PLAN_FIXES + 1):
            try:
                answer, used = role.run(task if attempt == 0 else _fix_task(task, problem), config)
            except RoleFailed as error:
                spent = usage_total([usage, error.usage])
                return session_failed(context, error, _intent(state), spent)
            usage = usage_total([usage, used])
            if not safe_files.is_file(context.workspace, "plan.md"):
                return _refuse(context, state, answer, NO_PLAN, usage)
            try:
                plan = read_plan(context.read_text("plan.md"), catalogue(), layout_scales())
            except PlanError as error:
                problem = str(error)
                last = attempt == PLAN_FIXES
                context.note(
                    "planner",
                    _intent(state),
                    f"failed: {problem}" if last else answer,
                    "the session ends" if last else f"{problem}; the planner is told and writes plan.md again",
                )
                continue
            if plan.refused:
                return _refuse(context, state, answer, plan.refused, usage)
            context.note("planner", _intent(state), answer, "plan ready for the coder")
            return context.hand_off("coder", {"round": 1, "usage": _usage(usage)})
        return Command(goto=DONE, update={"decision": "failed", "reason": problem, "usage": _usage(usage)})

    return planner


def _fix_task(task: str, problem: str) -> str:
    return (
        f"{task}\n\n{PLAN_PROBLEM_MARKER}\n{problem}\n"
        "Read /workspace/plan.md, correct its YAML front matter as the system prompt describes, and write it again."
    )


def _refuse(
    context: SessionContext, state: SessionState, answer: str, reason: str, usage: dict[str, Any]
) -> Command[Literal["coder", "__end__"]]:
    context.note("planner", _intent(state), answer, "refused")
    safe_files.write_text(
        context.workspace,
        "reviews/1.md",
        f"---\ndecision: rejected\ncomments:\n- {reason!r}\n---\n# Refused\n\n{reason}\n",
    )
    return Command(goto=DONE, update={"decision": "refused", "reason": reason, "usage": _usage(usage)})


def _usage(usage: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"planner": usage} if usage else {}


def _intent(state: SessionState) -> str:
    """The planner's journal intent names the request, so a compressed journal says what it was for."""
    return "plan the benchmark: " + " ".join(state["prompt"].split())[:300]
