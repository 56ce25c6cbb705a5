"""The coder node: writes script.py, verifies it, and is gated by the worker's full sandboxed check."""

from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from benchgen_dagster.agent.prompts import FEEDBACK_MARKER, PLAN_MARKER, REQUEST_MARKER, ROUND_MARKER
from benchgen_dagster.agent.roles import Role, RoleFailed, session_failed
from benchgen_dagster.agent.state import DONE, SessionState
from benchgen_dagster.agent.tools import SessionContext

PASSED = "passed"


def coder_task(state: SessionState, context: SessionContext) -> str:
    plan = context.read_text("plan.md")
    parts = [f"{REQUEST_MARKER}\n{state['prompt']}", f"{ROUND_MARKER} {state['round']}", f"{PLAN_MARKER}\n{plan}"]
    feedback = "\n".join(f for f in (state.get("coder_feedback", ""), state.get("feedback", "")) if f)
    if feedback:
        parts.append(f"{FEEDBACK_MARKER}\n{feedback}")
    return "\n\n".join(parts)


def make_coder(role: Role, context: SessionContext):  # type: ignore[no-untyped-def]
    def coder(state: SessionState, config: RunnableConfig) -> Command[Literal["coder", "reviewer", "__end__"]]:
        context.round = state["round"]
        try:
            answer, usage = role.run(coder_task(state, context), config)
        except RoleFailed as error:
            return session_failed(context, error, "write and verify script.py", error.usage)
        # The gate: the worker's full check, whatever the coder did or claimed.
        summary = context.check()
        if summary["passed"] and not context.renders_current():
            summary = _render_for_review(context, summary)
        failed = ", ".join(summary["failed_checks"]) or PASSED
        # A round that changed nothing and failed the same way is a loop; a changed script is an attempt.
        signature = f"{failed} @ {(summary.get('script_sha256') or '')[:12]}"
        history = [*state.get("failure_history", []), signature]
        update = {"usage": {"coder": usage}, "failure_history": [signature]}
        facts = {
            "parameters": ", ".join(f"{k}={v:g}" for k, v in sorted(summary.get("nominal", {}).items())),
            "skills": ", ".join(sorted(context.skills_read)),
            # What the gate judged: the script's digest and its edit since the check before.
            **context.last_check_facts,
        }
        intent = "write and verify script.py"
        if summary["passed"]:
            context.note("coder", intent, answer, "all checks pass: on to the reviewer", **facts)
            return context.hand_off("reviewer", update)
        failures = "; ".join(f"{f['check']} (seed {f['seed']}): {f['message']}" for f in summary["failures"][:8])
        if len(history) >= 2 and history[-2] == signature:
            reason = f"the same checks failed twice in a row on an unchanged script: {failed}"
            context.note("coder", intent, failures, reason + "; stopping instead of looping", **facts)
            return Command(goto=DONE, update={**update, "decision": "failed", "reason": reason})
        if state["round"] >= state["max_rounds"]:
            reason = f"checks still failing after {state['round']} rounds: {failed}"
            context.note("coder", intent, failures, reason, **facts)
            return Command(goto=DONE, update={**update, "decision": "failed", "reason": reason})
        context.note("coder", intent, failures, "fix the failing checks next round", **facts)
        return Command(
            goto="coder",
            update={**update, "round": state["round"] + 1, "coder_feedback": f"Failed checks: {failures}"},
        )

    return coder


def _render_for_review(context: SessionContext, summary: dict[str, Any]) -> dict[str, Any]:
    """Render the checked script for the reviewer; a scene that cannot be rendered fails as a check."""
    try:
        context.render(0)
    except Exception as error:  # the renderer runs the script's scene: any failure is the script's
        message = f"rendering seed 0 failed: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        return {
            **summary,
            "passed": False,
            "failed_checks": ["render"],
            "failures": [{"check": "render", "seed": 0, "message": message}],
        }
    return summary
