"""Langfuse tracing through its LangChain callback, when (and only when) the session is given keys.

The keys come in with the session's configuration (from the Dagster resource, or the CLI's copy of
it): nothing here reads the environment.
"""

import functools
from collections.abc import Callable
from typing import Any

from benchgen_dagster.agent.configuration import SessionConfig, TracingSettings


@functools.cache
def _client(settings: tuple[str, str, str]) -> Any:
    """One Langfuse client per project and host for the process (it batches and flushes in the background)."""
    from langfuse import Langfuse

    public_key, secret_key, base_url = settings
    return Langfuse(public_key=public_key, secret_key=secret_key, base_url=base_url or None)


def tracing_callbacks(session_id: str, config: SessionConfig) -> tuple[list[Any], Callable[[], None]]:
    """The callbacks for one session (one trace) and a flush to call before returning."""
    settings: TracingSettings | None = config.tracing
    if settings is None or not settings.enabled:
        return [], lambda: None
    from langfuse.langchain import CallbackHandler

    client = _client((settings.public_key, settings.secret_key, settings.base_url))
    return [CallbackHandler(public_key=settings.public_key)], client.flush
