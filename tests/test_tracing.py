"""Langfuse tracing: with keys set, a session's spans reach the configured host (a sink on loopback);
without them nothing is sent and nothing fails."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.otlp_sink import OtlpSink, attribute
from tests.test_agent_offline import agent

REFUSED_PROMPT = "design a rocket engine with a regeneratively cooled nozzle"


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    server = OtlpSink()
    yield server
    server.close()


@pytest.mark.enable_socket
def test_a_session_is_traced_to_langfuse_when_keys_are_set(sink: OtlpSink, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LANGFUSE_PUBLIC_KEY": "pk-lf-test",
        "LANGFUSE_SECRET_KEY": "sk-lf-test",
        "LANGFUSE_BASE_URL": sink.url,
        "BENCHGEN_HOME": str(tmp_path / "home"),
    }
    result = agent(REFUSED_PROMPT, tmp_path / "ws", env=env)
    assert result.returncode == 1, result.stderr  # refused: nothing in the library fits
    spans = list(sink.spans())
    names = {span.name for span in spans}
    assert "benchgen-session" in names and "planner" in names
    assert len({span.trace_id for span in spans}) == 1, "one trace per session"
    root = next(span for span in spans if span.name == "benchgen-session")
    assert attribute(root, "session.id")


@pytest.mark.enable_socket
def test_without_keys_nothing_is_sent(sink: OtlpSink, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANGFUSE_")}
    env.update(LANGFUSE_BASE_URL=sink.url, BENCHGEN_HOME=str(tmp_path / "home"))
    result = agent(REFUSED_PROMPT, tmp_path / "ws", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert sink.requests == []
