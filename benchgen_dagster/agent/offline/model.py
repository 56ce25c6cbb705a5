"""OfflinePolicyModel: the chat model model selection hands out for `offline`, playing each role's policy."""

import json
from collections.abc import Sequence
from typing import Any

from deepagents import GeneralPurposeSubagentProfile, HarnessProfile, register_harness_profile
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from benchgen_dagster.agent.offline.coder import coder_step
from benchgen_dagster.agent.offline.engineer import engineer_step
from benchgen_dagster.agent.offline.learner import learner_step
from benchgen_dagster.agent.offline.messages import files_read
from benchgen_dagster.agent.offline.planner import planner_step
from benchgen_dagster.agent.offline.reviewer import reviewer_step

_CHARS_PER_TOKEN = 4


class OfflinePolicyModel(BaseChatModel):
    """Plays `role` ("planner", "coder", "reviewer", "learner" or "engineer") deterministically; tools are
    chosen by the policy."""

    role: str

    @property
    def _llm_type(self) -> str:
        return "benchgen-offline-policy"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> "OfflinePolicyModel":
        # The policy knows which tools each role calls; it does not need their schemas.
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        task = next((str(m.content) for m in messages if isinstance(m, HumanMessage)), "")
        called = [call["name"] for m in messages if isinstance(m, AIMessage) for call in m.tool_calls]
        results = {str(m.name): str(m.content) for m in messages if isinstance(m, ToolMessage)}
        if self.role == "coder":
            system = next((str(m.content) for m in messages if isinstance(m, SystemMessage)), "")
            message = coder_step(task, called, results, len(called), system, files_read(messages))
        elif self.role == "learner":
            message = learner_step(messages, len(called))
        elif self.role == "planner":
            message = planner_step(task, called, len(called))
        elif self.role == "reviewer":
            message = reviewer_step(task, called, results, len(called))
        elif self.role == "engineer":
            in_order = [(str(m.name), str(m.content)) for m in messages if isinstance(m, ToolMessage)]
            message = engineer_step(task, called, in_order, files_read(messages), len(called))
        else:
            raise KeyError(self.role)
        spoken = sum(len(str(m.content)) for m in messages)
        written = len(str(message.content)) + len(json.dumps([c["args"] for c in message.tool_calls]))
        message.usage_metadata = {
            "input_tokens": spoken // _CHARS_PER_TOKEN + 1,
            "output_tokens": written // _CHARS_PER_TOKEN + 1,
            "total_tokens": (spoken + written) // _CHARS_PER_TOKEN + 2,
        }
        return ChatResult(generations=[ChatGeneration(message=message)])


# The offline policy delegates to no sub-agent, so deepagents' general-purpose `task` tool is switched off for it.
register_harness_profile(
    OfflinePolicyModel.__name__.lower(),
    HarnessProfile(general_purpose_subagent=GeneralPurposeSubagentProfile(enabled=False)),
)
