"""What every model call of a role goes through: retries of transient errors, budgets, and accounting.

- **Retries** are of the model call alone (LangChain's `ModelRetryMiddleware`), and only for errors a
  second try may cure: rate limits, server errors, timeouts, lost connections. A bad request (400), a
  refused key (401) or an unknown model (404) fails at once. The provider clients are built with
  their own retries off (`agent/models.py`), and a model failure that outlives these retries ends the
  session as failed, which the pipeline's stages do not retry either, so retries never stack. Tool
  calls (sandbox work) are never repeated by a model retry.
- **Budgets**: each role's turn may make at most `tool_calls` tool calls and `model_calls` model
  calls; running out raises, and the session ends as failed with the reason in its journal.
- **Subagents** (deepagents' `task` tool) are off for every model: a subagent's turns would run
  outside the role's budget, its tokens outside the role's usage and its steps outside the journal
  the learner reads, and the graph already splits the work into roles.
- **Accounting**: `ModelCallMeter`, a callback handler, counts every call a role's model makes, its
  tokens, its cost and the time it took, whatever the provider.
"""

import time
from typing import Any
from uuid import UUID

from langchain.agents.middleware import (
    AgentMiddleware,
    ModelCallLimitMiddleware,
    ModelRetryMiddleware,
    ToolCallLimitMiddleware,
)
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import ModelError
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.outputs import LLMResult
from pydantic import BaseModel

from benchgen_dagster.agent.configuration import CallBudget, RetrySettings
from benchgen_dagster.agent.prices import call_cost

SUBAGENT_TOOL = "task"
# HTTP statuses a later try of the same request may succeed on.
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


def is_transient(error: BaseException) -> bool:
    """Whether a model error may go away on its own: by LangChain's own classification where the client
    gives one, else by the HTTP status or the kind of failure."""
    if isinstance(error, ModelError):
        return error.is_retryable
    status = getattr(error, "status_code", None) or getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(status, int):
        return status in TRANSIENT_STATUSES or status >= 500
    return isinstance(error, TimeoutError | ConnectionError)


class NoSubagents(AgentMiddleware):
    """Hides deepagents' `task` tool from the model, and refuses a call to it that comes anyway."""

    def wrap_model_call(self, request: Any, handler: Any) -> Any:
        tools = [t for t in request.tools if _tool_name(t) != SUBAGENT_TOOL]
        return handler(request.override(tools=tools))

    def wrap_tool_call(self, request: Any, handler: Any) -> Any:
        call = request.tool_call
        if call.get("name") == SUBAGENT_TOOL:
            return ToolMessage(
                content="Error: subagents are off in benchgen; do the work yourself with the tools you have.",
                tool_call_id=call["id"],
                name=SUBAGENT_TOOL,
                status="error",
            )
        return handler(request)


def _tool_name(tool: Any) -> str:
    return str(tool.get("name", "") if isinstance(tool, dict) else getattr(tool, "name", ""))


def model_call_middleware(budget: CallBudget, retry: RetrySettings) -> list[AgentMiddleware[Any, Any, Any]]:
    """The middleware every role's agent is built with (outermost first)."""
    return [
        NoSubagents(),
        ToolCallLimitMiddleware(run_limit=budget.tool_calls, exit_behavior="error"),
        ModelCallLimitMiddleware(run_limit=budget.model_calls, exit_behavior="error"),
        ModelRetryMiddleware(
            max_retries=retry.retries,
            retry_on=is_transient,
            on_failure="error",
            initial_delay=retry.initial_delay_s,
            max_delay=retry.max_delay_s,
            jitter=True,
        ),
    ]


class RoleUsage(BaseModel):
    """What one role's model calls cost: tokens, calls (failed tries included), dollars, seconds."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    failed_calls: int = 0
    # None when the price table does not know the model: unknown, not free.
    cost_usd: float | None = 0.0
    model_s: float = 0.0


def usage_total(usages: list[dict[str, Any]]) -> dict[str, Any]:
    """The sum of several RoleUsage dicts; a cost is unknown if any part of it is."""
    total = RoleUsage()
    for usage in usages:
        part = RoleUsage.model_validate(usage)
        total.input_tokens += part.input_tokens
        total.output_tokens += part.output_tokens
        total.calls += part.calls
        total.failed_calls += part.failed_calls
        total.model_s += part.model_s
        total.cost_usd = None if total.cost_usd is None or part.cost_usd is None else total.cost_usd + part.cost_usd
    return total.model_dump()


class ModelCallMeter(BaseCallbackHandler):
    """Counts every chat-model call made under the run it is attached to (nested agents included)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.usage = RoleUsage()
        self._started: dict[UUID, float] = {}

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._started[run_id] = time.perf_counter()
        self.usage.calls += 1

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self._stop(run_id)
        for generations in response.generations:
            for generation in generations:
                message = getattr(generation, "message", None)
                if isinstance(message, AIMessage) and message.usage_metadata:
                    self._add(message)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._stop(run_id)
        self.usage.failed_calls += 1

    def _stop(self, run_id: UUID) -> None:
        started = self._started.pop(run_id, None)
        if started is not None:
            self.usage.model_s += time.perf_counter() - started

    def _add(self, message: AIMessage) -> None:
        metadata: dict[str, Any] = dict(message.usage_metadata or {})
        self.usage.input_tokens += metadata.get("input_tokens", 0)
        self.usage.output_tokens += metadata.get("output_tokens", 0)
        cost = call_cost(self.model, message)
        self.usage.cost_usd = None if cost is None or self.usage.cost_usd is None else self.usage.cost_usd + cost
