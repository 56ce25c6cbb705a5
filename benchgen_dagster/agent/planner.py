"""The planner node: writes plan.md and the todo list, or takes the user's plan as given."""

from typing import Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from benchgen_dagster.agent.offline import REQUEST_MARKER, plan_front_matter
from benchgen_dagster.agent.roles import Role, RoleFailed
from benchgen_dagster.agent.state import DONE, SessionState
from benchgen_dagster.agent.tools import SessionContext


def make_planner(role: Role, context: SessionContext):  # type: ignore[no-untyped-def]
    def planner(state: SessionState, config: RunnableConfig) -> Command[Literal["coder", "__end__"]]:
        plan_path = context.workspace / "plan.md"
        # A plan left in a reused workspace is not this session's plan.
        plan_path.unlink(missing_ok=True)
        if context.config.plan_file is not None:
            plan_path.write_text(context.config.plan_file.read_text())
            context.note(
                "planner",
                "use the curator's plan: " + " ".join(state["prompt"].split())[:300],
                f"plan.md copied from {context.config.plan_file}",
                "the planner agent did not run",
            )
            return context.hand_off("coder", {"round": 1})
        try:
            answer, usage = role.run(f"{REQUEST_MARKER}\n{state['prompt']}", config)
        except RoleFailed as error:
            context.note("planner", _intent(state), f"failed: {error}", "the session ends")
            return Command(goto=DONE, update={"decision": "failed", "reason": str(error)})
        refused = plan_front_matter(plan_path.read_text()).get("refused") if plan_path.is_file() else None
        if not plan_path.is_file():
            refused = "the planner wrote no plan.md"
        context.note("planner", _intent(state), answer, "refused" if refused else "plan ready for the coder")
        if refused:
            (context.workspace / "reviews" / "1.md").write_text(
                f"---\ndecision: rejected\ncomments:\n- {refused!r}\n---\n# Refused\n\n{refused}\n"
            )
            return Command(
                goto=DONE, update={"decision": "refused", "reason": str(refused), "usage": {"planner": usage}}
            )
        return context.hand_off("coder", {"round": 1, "usage": {"planner": usage}})

    return planner


def _intent(state: SessionState) -> str:
    """The planner's journal intent names the request, so a compressed journal says what it was for."""
    return "plan the benchmark: " + " ".join(state["prompt"].split())[:300]
