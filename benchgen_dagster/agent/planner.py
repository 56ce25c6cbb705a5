"""The planner node: writes plan.md and the todo list, or takes the user's plan as given."""

from typing import Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from benchgen_dagster.agent.contract import library_summary
from benchgen_dagster.agent.prompts import LIBRARY_MARKER, REQUEST_MARKER
from benchgen_dagster.agent.roles import Role, RoleFailed
from benchgen_dagster.agent.state import DONE, SessionState
from benchgen_dagster.agent.tools import SessionContext
from benchgen_dagster.models.plans import plan_front_matter
from benchgen_dagster.worker import safe_files


def planner_task(state: SessionState) -> str:
    """The request, and the library the plan may build on (or `family: new` where nothing fits)."""
    return f"{REQUEST_MARKER}\n{state['prompt']}\n\n{LIBRARY_MARKER}\n{library_summary()}"


def make_planner(role: Role, context: SessionContext):  # type: ignore[no-untyped-def]
    def planner(state: SessionState, config: RunnableConfig) -> Command[Literal["coder", "__end__"]]:
        # A plan left in a reused workspace is not this session's plan.
        safe_files.remove(context.workspace, "plan.md")
        if context.config.plan_file is not None:
            safe_files.write_text(context.workspace, "plan.md", context.config.plan_file.read_text())
            context.note(
                "planner",
                "use the curator's plan: " + " ".join(state["prompt"].split())[:300],
                f"plan.md copied from {context.config.plan_file}",
                "the planner agent did not run",
            )
            return context.hand_off("coder", {"round": 1})
        try:
            answer, usage = role.run(planner_task(state), config)
        except RoleFailed as error:
            context.note("planner", _intent(state), f"failed: {error}", "the session ends")
            return Command(
                goto=DONE, update={"decision": "failed", "reason": str(error), "usage": {"planner": error.usage}}
            )
        written = safe_files.is_file(context.workspace, "plan.md")
        refused = plan_front_matter(context.read_text("plan.md")).get("refused") if written else None
        if not written:
            refused = "the planner wrote no plan.md (as a regular file)"
        context.note("planner", _intent(state), answer, "refused" if refused else "plan ready for the coder")
        if refused:
            safe_files.write_text(
                context.workspace,
                "reviews/1.md",
                f"---\ndecision: rejected\ncomments:\n- {refused!r}\n---\n# Refused\n\n{refused}\n",
            )
            return Command(
                goto=DONE, update={"decision": "refused", "reason": str(refused), "usage": {"planner": usage}}
            )
        return context.hand_off("coder", {"round": 1, "usage": {"planner": usage}})

    return planner


def _intent(state: SessionState) -> str:
    """The planner's journal intent names the request, so a compressed journal says what it was for."""
    return "plan the benchmark: " + " ".join(state["prompt"].split())[:300]
