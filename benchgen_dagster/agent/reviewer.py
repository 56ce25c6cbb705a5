"""The reviewer node: reads the reports, looks at the renders, writes reviews/<round>.md and decides."""

import base64
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from benchgen_dagster.agent.prompts import FEEDBACK_MARKER, REQUEST_MARKER, ROUND_MARKER
from benchgen_dagster.agent.roles import Role, RoleFailed, session_failed
from benchgen_dagster.agent.state import DONE, SessionState
from benchgen_dagster.agent.tools import SessionContext
from benchgen_dagster.models.reviews import ReviewError, read_review
from benchgen_dagster.worker import safe_files

MAX_VIEW_BYTES = 4 * 1024 * 1024
# Views handed to a vision model as images: a spread of azimuths at the middle elevation.
REVIEW_VIEWS = ("view_az000_el35.png", "view_az090_el35.png", "view_az180_el35.png", "view_az270_el35.png")


def reviewer_task(state: SessionState, context: SessionContext, with_images: bool) -> str | list[dict[str, Any]]:
    text = (
        f"{REQUEST_MARKER}\n{state['prompt']}\n\n{ROUND_MARKER} {state['round']}\n\n"
        f"Write your review to /workspace/reviews/{state['round']}.md."
    )
    if state.get("feedback"):
        text += f"\n\n{FEEDBACK_MARKER}\n{state['feedback']}"
    if not with_images:
        return text
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for name in REVIEW_VIEWS:
        try:
            png = safe_files.read_bytes(context.workspace, f"renders/{name}", MAX_VIEW_BYTES)
        except safe_files.UnsafeFileError:
            continue
        data = base64.b64encode(png).decode()
        blocks.append({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}})
    return blocks


def make_reviewer(role: Role, context: SessionContext, with_images: bool):  # type: ignore[no-untyped-def]
    def reviewer(state: SessionState, config: RunnableConfig) -> Command[Literal["coder", "__end__"]]:
        review = f"reviews/{state['round']}.md"
        # A review left in a reused workspace must not count as this round's.
        safe_files.remove(context.workspace, review)
        task = reviewer_task(state, context, with_images)
        # Images attached to the task count as looked at; otherwise the reviewer must call view_renders.
        context.renders_viewed = isinstance(task, list) and len(task) > 1
        try:
            answer, usage = role.run(task, config)
        except RoleFailed as error:
            return session_failed(context, error, "judge the benchmark", error.usage)
        update: dict[str, Any] = {"usage": {"reviewer": usage}}
        try:
            decision, comments = read_review(context.read_text(review))
        except ReviewError as error:
            decision, comments = "rejected", [f"invalid review: {error}"]
        if decision == "approved" and not context.renders_viewed:
            decision, comments = "rejected", ["approved without looking at the renders (call view_renders first)"]
        context.note("reviewer", "judge the benchmark", f"{decision}: {'; '.join(comments)}", answer)
        if decision == "approved":
            return Command(goto=DONE, update={**update, "decision": "approved", "reason": "; ".join(comments)})
        if "coder" not in context.roles:
            # The session does not hold the coder (the pipeline's review stage): its caller decides
            # whether another round follows, so the reason is the review's comments alone.
            return Command(goto=DONE, update={**update, "decision": "rejected", "reason": "; ".join(comments)})
        if state["round"] >= state["max_rounds"]:
            reason = f"rejected after {state['round']} rounds: {'; '.join(comments)}"
            return Command(goto=DONE, update={**update, "decision": "rejected", "reason": reason})
        return Command(
            goto="coder",
            update={**update, "round": state["round"] + 1, "coder_feedback": "Review: " + "; ".join(comments)},
        )

    return reviewer
