"""Building and running one role: a deepagents agent over the sandbox backend, with todos and worker tools."""

from dataclasses import dataclass
from typing import Any

from deepagents import create_deep_agent
from langchain.agents.middleware import TodoListMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableConfig

from benchgen_dagster.agent.backend import SandboxFilesystemBackend
from benchgen_dagster.agent.tools import SessionContext, worker_tools


class RoleFailed(RuntimeError):
    """The role's model failed after its retries; the message says why."""


@dataclass
class Role:
    name: str
    agent: Runnable[Any, Any]
    context: SessionContext

    def run(self, task: str | list[dict[str, Any]], config: RunnableConfig) -> tuple[str, dict[str, int]]:
        """The role's final answer and its token usage for this task."""
        try:
            result = self.agent.invoke({"messages": [{"role": "user", "content": task}]}, config)
        except Exception as error:  # a provider error after the declared retries ends the session, not the process
            first_line = str(error).splitlines()[0] if str(error) else ""
            raise RoleFailed(f"{self.name}: {type(error).__name__}: {first_line}") from error
        usage = usage_of(result["messages"])
        for message in result["messages"]:
            for call in getattr(message, "tool_calls", None) or []:
                path = str(call.get("args", {}).get("file_path", ""))
                if call.get("name") == "read_file" and path.startswith("/skills/") and path.endswith("/SKILL.md"):
                    self.context.skills_read.add(path.split("/")[2])
        if result.get("todos"):
            self.context.write_todos(self.name, result["todos"])
        final = result["messages"][-1]
        return str(final.content), usage


def usage_of(messages: list[Any]) -> dict[str, int]:
    """Input and output tokens and model calls over an agent's messages."""
    usage = {"input_tokens": 0, "output_tokens": 0, "calls": 0}
    for message in messages:
        if isinstance(message, AIMessage) and message.usage_metadata:
            usage["input_tokens"] += message.usage_metadata["input_tokens"]
            usage["output_tokens"] += message.usage_metadata["output_tokens"]
            usage["calls"] += 1
    return usage


def build_role(
    name: str,
    model: BaseChatModel,
    system_prompt: str,
    backend: SandboxFilesystemBackend,
    context: SessionContext,
    retries: int,
    skills: list[str] | None = None,
) -> Role:
    agent: Runnable[Any, Any] = create_deep_agent(
        model=model,
        tools=worker_tools(context),
        system_prompt=system_prompt,
        backend=backend,
        middleware=[TodoListMiddleware()],
        skills=skills,
        name=name,
    )
    if retries:
        # Declared retry with exponential backoff and jitter around the whole role turn.
        agent = agent.with_retry(stop_after_attempt=retries + 1, wait_exponential_jitter=True)
    return Role(name=name, agent=agent, context=context)
