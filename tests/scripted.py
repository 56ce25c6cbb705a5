"""A scripted chat model for driving the agent graph in tests: it replays tool calls and answers.

A test double, used only here: the product's own no-network mode is the offline policy.
"""

import shlex
import threading
from collections.abc import Sequence
from typing import Any

from deepagents import GeneralPurposeSubagentProfile, HarnessProfile, register_harness_profile
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr


class ScriptedChatModel(BaseChatModel):
    """Each call returns the next scripted step: an AIMessage (tool calls allowed), a str, an Exception to raise,
    or a callable given the messages so far that returns one of those (a step that answers what it was shown)."""

    script: list[Any]
    # The system prompts this model was given, for tests that check what a role was offered.
    system_prompts: list[str] = Field(default_factory=list)
    # Scripted models count as vision models (images attached for review) unless a test says otherwise.
    profile: dict[str, Any] | None = Field(default_factory=lambda: {"image_inputs": True})
    # The names of the tools the agent bound, each time it bound them.
    tools_offered: list[list[str]] = Field(default_factory=list)
    _index: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> "ScriptedChatModel":
        names = [str(t.get("name", "") if isinstance(t, dict) else getattr(t, "name", "")) for t in tools]
        self.tools_offered.append(names)
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.system_prompts.extend(str(m.content) for m in messages if m.type == "system")
        with self._lock:
            step = self.script[self._index] if self._index < len(self.script) else "script exhausted"
            self._index += 1
        if callable(step):
            step = step(messages)
        if isinstance(step, Exception):
            raise step
        message = AIMessage(content=step) if isinstance(step, str) else step.model_copy()
        message.usage_metadata = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
        return ChatResult(generations=[ChatGeneration(message=message)])


register_harness_profile(
    ScriptedChatModel.__name__.lower(),
    HarnessProfile(general_purpose_subagent=GeneralPurposeSubagentProfile(enabled=False)),
)

_counter = iter(range(10**6))


def python(code: str) -> str:
    """The shell command `execute` takes to run `code` (`python -c CODE`)."""
    return "python -c " + shlex.quote(code)


def call(name: str, **args: Any) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": f"call-{next(_counter)}", "type": "tool_call"}]
    )


def write(path: str, content: str) -> AIMessage:
    return call("write_file", file_path=path, content=content)


def review(round_: int, decision: str, comment: str) -> AIMessage:
    return write(f"/reviews/{round_}.md", f"---\ndecision: {decision}\ncomments:\n- {comment}\n---\n# Review\n")
