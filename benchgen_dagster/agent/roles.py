"""Building and running one role: a deepagents agent over the sandbox backend, with todos and worker tools."""

from dataclasses import dataclass
from typing import Any

from deepagents import create_deep_agent
from langchain.agents.middleware import TodoListMiddleware
from langchain.agents.middleware.model_call_limit import ModelCallLimitExceededError
from langchain.agents.middleware.tool_call_limit import ToolCallLimitExceededError
from langchain_core.callbacks import BaseCallbackManager
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.types import Command

from benchgen_dagster.agent.backend import SandboxFilesystemBackend, workspace_relative
from benchgen_dagster.agent.model_calls import (
    CallBudget,
    ModelCallMeter,
    RoleUsage,
    model_call_middleware,
)
from benchgen_dagster.agent.state import DONE
from benchgen_dagster.agent.tools import SessionContext, worker_tools


class RoleFailed(RuntimeError):
    """The role's model failed after its retries, or the role ran out of its budget; the message says why.

    `usage` is what the role's model calls cost before it failed: failed sessions are paid for too."""

    def __init__(self, role: str, message: str, usage: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.role = role
        self.usage = usage or RoleUsage().model_dump()


@dataclass
class Role:
    name: str
    agent: Runnable[Any, Any]
    context: SessionContext
    budget: CallBudget

    def run(self, task: str | list[dict[str, Any]], config: RunnableConfig) -> tuple[str, dict[str, Any]]:
        """The role's final answer and what its model calls cost for this task."""
        meter = ModelCallMeter(self.context.config.model)
        result = invoke_metered(self.name, self.agent, task, config, meter, self.budget)
        for message in result["messages"]:
            for call in getattr(message, "tool_calls", None) or []:
                path = str(call.get("args", {}).get("file_path", ""))
                if call.get("name") == "read_file" and (skill := skill_read(path)):
                    self.context.skills_read.add(skill)
        if result.get("todos"):
            self.context.write_todos(self.name, result["todos"])
        final = result["messages"][-1]
        return str(final.content), meter.usage.model_dump()


def session_failed(context: SessionContext, error: RoleFailed, intent: str, usage: dict[str, Any]) -> Command:
    """End the session where a role's model failed: the reason in the journal, what its calls cost kept."""
    context.note(error.role, intent, f"failed: {error}", "the session ends")
    update = {"decision": "failed", "reason": str(error), "model_failed": True, "usage": {error.role: usage}}
    return Command(goto=DONE, update=update)


def skill_read(path: str) -> str | None:
    """The skill a read of `path` opens (`/workspace/skills/<name>/SKILL.md`, or `/skills/…` for short)."""
    try:
        parts = workspace_relative(path).parts
    except ValueError:
        return None
    return parts[1] if len(parts) == 3 and parts[0] == "skills" and parts[2] == "SKILL.md" else None


def invoke_metered(
    name: str,
    agent: Runnable[Any, Any],
    task: str | list[dict[str, Any]],
    config: RunnableConfig,
    meter: ModelCallMeter,
    budget: CallBudget,
) -> dict[str, Any]:
    """Run one turn of an agent with `meter` counting its model calls; failures become RoleFailed."""
    callbacks = config.get("callbacks")
    if isinstance(callbacks, BaseCallbackManager):  # inside a graph node: the graph's manager, copied
        callbacks = callbacks.copy()
        callbacks.add_handler(meter, inherit=True)
    else:
        callbacks = [*(callbacks or []), meter]
    metered: RunnableConfig = {**config, "callbacks": callbacks, "recursion_limit": budget.recursion_limit()}
    try:
        result: dict[str, Any] = agent.invoke({"messages": [{"role": "user", "content": task}]}, metered)
    except ToolCallLimitExceededError:
        message = f"{name}: ran out of its budget of {budget.tool_calls} tool calls for one turn"
        raise RoleFailed(name, message, meter.usage.model_dump()) from None
    except ModelCallLimitExceededError:
        message = f"{name}: ran out of its budget of {budget.model_calls} model calls for one turn"
        raise RoleFailed(name, message, meter.usage.model_dump()) from None
    except Exception as error:  # a provider error after the declared retries ends the session, not the process
        first_line = str(error).splitlines()[0] if str(error) else ""
        raise RoleFailed(name, f"{name}: {type(error).__name__}: {first_line}", meter.usage.model_dump()) from error
    return result


def build_role(
    name: str,
    model: BaseChatModel,
    system_prompt: str,
    backend: SandboxFilesystemBackend,
    context: SessionContext,
    skills: list[str] | None = None,
    tools: list[BaseTool] | None = None,
) -> Role:
    """A role's agent; its tools besides deepagents' are `tools`, or the generation roles' (`worker_tools`)."""
    settings = context.config
    budget = settings.budgets.of(name)
    agent: Runnable[Any, Any] = create_deep_agent(
        model=model,
        tools=worker_tools(context) if tools is None else tools,
        system_prompt=system_prompt,
        backend=backend,
        middleware=[TodoListMiddleware[Any, Any](), *model_call_middleware(budget, settings.retry)],
        skills=skills,
        name=name,
    )
    return Role(name=name, agent=agent, context=context, budget=budget)
