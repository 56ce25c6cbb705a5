"""The session graph: planner → coder ⇄ (checks) → reviewer → (rejected: coder) → done."""

from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.graph import START, StateGraph

from benchgen_dagster.agent import prompts
from benchgen_dagster.agent.backend import SandboxFilesystemBackend
from benchgen_dagster.agent.coder import make_coder
from benchgen_dagster.agent.planner import make_planner
from benchgen_dagster.agent.reviewer import make_reviewer
from benchgen_dagster.agent.roles import build_role
from benchgen_dagster.agent.state import SessionState
from benchgen_dagster.agent.tools import SessionContext


def build_graph(models: dict[str, BaseChatModel], context: SessionContext, backend: SandboxFilesystemBackend) -> Any:
    """Compile the graph for one session; `models` maps each role to its chat model."""

    def role(name: str, system_prompt: str, skills: list[str] | None = None):  # type: ignore[no-untyped-def]
        return build_role(name, models[name], system_prompt, backend, context, skills)

    builder = StateGraph(SessionState)
    builder.add_node("planner", make_planner(role("planner", prompts.PLANNER), context))
    # Skills (SKILL.md files, from the learner) are offered to the coder from the workspace's /skills/.
    builder.add_node("coder", make_coder(role("coder", prompts.CODER, skills=[prompts.SKILLS_DIR]), context))
    with_images = accepts_images(models["reviewer"])
    builder.add_node("reviewer", make_reviewer(role("reviewer", prompts.REVIEWER), context, with_images))
    # Every other edge is a node's Command(goto=...); a session of only some roles starts at its first.
    builder.add_edge(START, context.roles[0])
    return builder.compile()


def accepts_images(model: BaseChatModel) -> bool:
    """Whether the model's LangChain profile says it takes image input; unknown means text only."""
    return bool((model.profile or {}).get("image_inputs"))
