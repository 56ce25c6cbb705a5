"""Langfuse tracing through its LangChain callback, when (and only when) its keys are configured."""

import os
from collections.abc import Callable
from typing import Any

from benchgen_dagster.agent.configuration import SessionConfig


def tracing_enabled() -> bool:
    return bool(os.environ.get("LANGFUSE_PUBLIC_KEY") and os.environ.get("LANGFUSE_SECRET_KEY"))


def tracing_callbacks(session_id: str, config: SessionConfig) -> tuple[list[Any], Callable[[], None]]:
    """The callbacks for one session (one trace) and a flush to call before returning."""
    if not tracing_enabled():
        return [], lambda: None
    from langfuse import get_client
    from langfuse.langchain import CallbackHandler

    return [CallbackHandler()], lambda: get_client().flush()
