"""The scripted provider servers drive the real OpenAI and Anthropic clients (no benchgen code here)."""

import asyncio
import base64
import io
from typing import Any

import pytest
from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from PIL import Image

from tests.provider_servers import PolicyError, ProviderServer, Reply, Request, by_role, call, scripted, serve

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

SPECS = {"openai": "openai:gpt-4.1-mini", "anthropic": "anthropic:claude-sonnet-4-5"}
PROVIDERS = pytest.mark.parametrize("provider", list(SPECS))
SYSTEM = SystemMessage("You are the planner of benchgen. Add numbers when asked.")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def model(server: ProviderServer, provider: str, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> BaseChatModel:
    for name, value in server.env(provider).items():
        monkeypatch.setenv(name, value)
    return init_chat_model(SPECS[provider], **kwargs)


def adder(request: Request) -> Reply | str:
    if request.turn == 0:
        return call("add", a=2, b=3)
    assert request.last_result is not None
    return f"The sum is {request.last_result.text}."


@PROVIDERS
def test_a_tool_call_then_a_final_answer(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(adder) as server:
        chat = model(server, provider, monkeypatch).bind_tools([add])
        messages = [SYSTEM, HumanMessage("What is 2 + 3?")]
        first = chat.invoke(messages)
        assert isinstance(first, AIMessage)
        assert [(c["name"], c["args"]) for c in first.tool_calls] == [("add", {"a": 2, "b": 3})]
        answer = chat.invoke([*messages, first, ToolMessage("5", tool_call_id=first.tool_calls[0]["id"])])

    assert answer.text == "The sum is 5."
    asked, answered = server.requests
    for exchange, message in ((asked, first), (answered, answer)):
        assert exchange.status == 200 and exchange.path.endswith(("/chat/completions", "/messages"))
        assert message.usage_metadata is not None
        assert message.usage_metadata["input_tokens"] == exchange.input_tokens > 0
        assert message.usage_metadata["output_tokens"] == exchange.output_tokens > 0
    assert answered.input_tokens > asked.input_tokens  # the conversation grew
    view = answered.request
    assert view is not None and view.provider == provider and not view.stream
    assert (view.role, view.turn, view.task, list(view.tools)) == ("planner", 1, "What is 2 + 3?", ["add"])
    assert view.tools["add"]["required"] == ["a", "b"]
    assert view.last_result is not None and (view.last_result.tool_name, view.last_result.text) == ("add", "5")
    assert [c.args for c in view.calls_of("add")] == [{"a": 2, "b": 3}] and view.results == [view.last_result]


@PROVIDERS
def test_parallel_calls_and_their_results(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    both = call("add", a=1, b=2) + call("add", a=3, b=4) + "Adding both."
    with serve(scripted(both, "3 and 7")) as server:
        chat = model(server, provider, monkeypatch).bind_tools([add])
        messages = [SYSTEM, HumanMessage("1 + 2 and 3 + 4?")]
        first = chat.invoke(messages)
        assert [c["args"] for c in first.tool_calls] == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
        assert first.tool_calls[0]["id"] != first.tool_calls[1]["id"]
        results = [ToolMessage(str(add.invoke(c["args"])), tool_call_id=c["id"]) for c in first.tool_calls]
        assert chat.invoke([*messages, first, *results]).text == "3 and 7"
    view = server.requests[1].request
    assert view is not None and [(m.tool_name, m.text) for m in view.results] == [("add", "3"), ("add", "7")]
    assert view.messages[1].text == "Adding both."


@PROVIDERS
def test_a_transient_500_is_retried_by_the_client(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve() as server:
        server.inject(500)
        assert model(server, provider, monkeypatch, max_retries=1).invoke("hi").text == "ok"
    assert [(e.status, e.fault, e.headers["x-stainless-retry-count"]) for e in server.requests] == [
        (500, 500, "0"),
        (200, None, "1"),
    ]
    assert server.requests[0].reply is None and server.requests[1].reply == Reply("ok")


@PROVIDERS
def test_a_500_surfaces_when_no_retries_are_allowed(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve() as server:
        server.inject(500)
        with pytest.raises(Exception, match="injected fault") as raised:
            model(server, provider, monkeypatch, max_retries=0).invoke("hi")
    assert getattr(raised.value, "status_code", None) == 500 and server.count(status=500) == len(server.requests) == 1


@PROVIDERS
def test_a_bad_request_is_not_retried(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve() as server:
        server.inject(400, message="messages: roles must alternate")
        chat = model(server, provider, monkeypatch, max_retries=2)
        with pytest.raises(Exception, match="roles must alternate") as raised:
            chat.invoke("hi")
        assert getattr(raised.value, "status_code", None) == 400 and len(server.requests) == 1
        assert chat.invoke("hi again").text == "ok"  # the fault was used up


@PROVIDERS
def test_rate_limits_are_retried_and_faults_can_target_a_role(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    coder = SystemMessage("You are the coder of benchgen.")
    with serve() as server:
        server.inject(429, count=2, when=lambda request: request.role == "coder")
        chat = model(server, provider, monkeypatch, max_retries=2)
        assert chat.invoke([SYSTEM, HumanMessage("plan")]).text == "ok"
        assert chat.invoke([coder, HumanMessage("code")]).text == "ok"
    assert [(e.role, e.status) for e in server.requests] == [
        ("planner", 200),
        ("coder", 429),
        ("coder", 429),
        ("coder", 200),
    ]
    assert server.count("coder") == 3 and server.count("coder", status=200) == 1
    assert all(e.duration_s >= 0 and e.started > 0 for e in server.requests)


@PROVIDERS
def test_streamed_replies_carry_tool_calls_text_and_usage(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    long_text = "Adding them now, one moment please."
    with serve(scripted(call("add", a=20, b=22) + long_text)) as server:
        chat = model(server, provider, monkeypatch, stream_usage=True).bind_tools([add])
        chunks = list(chat.stream([SYSTEM, HumanMessage("20 + 22?")]))
    assert len(chunks) > 3
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert isinstance(whole, AIMessageChunk) and long_text in whole.text
    assert [(c["name"], c["args"]) for c in whole.tool_calls] == [("add", {"a": 20, "b": 22})]
    (exchange,) = server.requests
    assert exchange.request is not None and exchange.request.stream and isinstance(exchange.response, list)
    assert whole.usage_metadata is not None
    assert (whole.usage_metadata["input_tokens"], whole.usage_metadata["output_tokens"]) == (
        exchange.input_tokens,
        exchange.output_tokens,
    )


@PROVIDERS
def test_async_calls_and_images_in_the_task(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, format="PNG")
    url = f"data:image/png;base64,{base64.b64encode(png.getvalue()).decode()}"
    task = HumanMessage([{"type": "text", "text": "Review this."}, {"type": "image_url", "image_url": {"url": url}}])
    with serve(lambda request: f"{request.messages[0].images} image(s)") as server:
        reply = asyncio.run(model(server, provider, monkeypatch).ainvoke([task]))
    assert reply.text == "1 image(s)" and server.requests[0].headers["x-stainless-async"] != "false"
    assert server.requests[0].input_tokens > 765  # an image weighs IMAGE_TOKENS


@PROVIDERS
def test_a_deep_agent_role_plays_through_the_server(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepagents import create_deep_agent

    def planner(request: Request) -> Reply | str:
        if request.turn == 0:
            assert "write_file" in request.tools and request.task == "REQUEST: a lever"
            return call("write_file", file_path="/plan.md", content="# Plan\nA lever.")
        assert request.last_result is not None and request.last_result.tool_name == "write_file"
        return "PLANNED"

    with serve(by_role(planner=planner)) as server:
        prompt = "You are the planner of benchgen. Write /plan.md."
        agent = create_deep_agent(model=model(server, provider, monkeypatch), tools=[], system_prompt=prompt)
        result = agent.invoke({"messages": [{"role": "user", "content": "REQUEST: a lever"}]})
    assert result["messages"][-1].text == "PLANNED"
    assert server.count("planner", status=200) == 2
    view = server.requests[1].request
    assert view is not None and view.last_result is not None and "/plan.md" in view.last_result.text


def test_a_policy_error_answers_400_and_is_raised_at_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(request: Request) -> str:
        raise RuntimeError("the script has no step for this")

    with pytest.raises(PolicyError) as raised, serve(broken) as server:
        with pytest.raises(Exception, match="no step for this") as client_error:
            model(server, "openai", monkeypatch, max_retries=2).invoke("hi")
        assert getattr(client_error.value, "status_code", None) == 400 and len(server.requests) == 1
    assert isinstance(raised.value.__cause__, RuntimeError)


def test_env_points_each_client_at_the_server() -> None:
    with serve() as server:
        openai, anthropic = server.env("openai"), server.env("anthropic")
    assert openai["OPENAI_BASE_URL"] == openai["OPENAI_API_BASE"] == f"{server.base_url}/v1"
    assert anthropic["ANTHROPIC_BASE_URL"] == anthropic["ANTHROPIC_API_URL"] == server.base_url
    assert server.base_url.startswith("http://127.0.0.1:")
    assert (openai["BENCHGEN_MODEL"], anthropic["BENCHGEN_MODEL"]) == tuple(SPECS.values())
    assert openai["OPENAI_API_KEY"] == anthropic["ANTHROPIC_API_KEY"] == "test-key"
