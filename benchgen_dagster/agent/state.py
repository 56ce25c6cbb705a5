"""The graph's typed state: what one generation session carries from role to role."""

import operator
from typing import Annotated, Any, Literal, TypedDict

from benchgen_dagster.agent.model_calls import usage_total

# "handed_off": a session that runs only some of the roles (the pipeline runs one per asset) ended its
# part and hands the workspace to the next role.
Decision = Literal["approved", "rejected", "failed", "refused", "handed_off"]
ROLES = ("planner", "coder", "reviewer")
# LangGraph's END, typed as the literal node name so Command[...] routing type-checks.
DONE: Literal["__end__"] = "__end__"


def merge_usage(left: dict[str, dict[str, Any]], right: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What each role's model calls cost (agent.model_calls.RoleUsage), summed over the role's turns."""
    merged = dict(left)
    for role, usage in right.items():
        merged[role] = usage_total([merged[role], usage]) if role in merged else dict(usage)
    return merged


class SessionState(TypedDict, total=False):
    prompt: str
    feedback: str
    max_rounds: int
    round: int
    # The failing checks of each coder round ("passed" when none) with the script's digest: two equal in
    # a row (the same failure of an unchanged script) end the session.
    failure_history: Annotated[list[str], operator.add]
    # What the coder is told next: the checks that failed, or the reviewer's comments.
    coder_feedback: str
    decision: Decision
    reason: str
    # The session ended because a role's model failed (an error after its retries, or a spent budget),
    # not because of what it made.
    model_failed: bool
    usage: Annotated[dict[str, dict[str, Any]], merge_usage]
