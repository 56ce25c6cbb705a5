"""Scripted provider servers on loopback: the real OpenAI and Anthropic clients talk to a Python policy.

`serve(policy)` starts one threaded HTTP server on 127.0.0.1 (a free port) speaking both wire formats:
`POST /v1/chat/completions` (OpenAI Chat Completions) and `POST /v1/messages` (Anthropic Messages), JSON,
or SSE when the request has `"stream": true`. tests/provider_openai.py and tests/provider_anthropic.py
translate; this module holds the provider-neutral view and the server. `server.env("openai")` (or
"anthropic") is what a process needs to reach it: key, base URLs, BENCHGEN_MODEL. Tests that use it need
`@pytest.mark.enable_socket` and `@pytest.mark.allow_hosts(["127.0.0.1"])`.

A policy is a callable `Request -> Reply | str`, called on the server's threads (keep it thread-safe
when sessions run side by side). What it sees, the same for both providers:
- `role`: who speaks, from the system prompt ("You are the planner of benchgen..." → "planner");
  `system`: the whole prompt; `task`: the first user message; `turn`: the replies this conversation
  has had (0 on its first call); `tools`: name → argument schema of the tools offered.
- `messages`: user, assistant (`text`, `tool_calls`) and tool messages; each tool result is its own
  Message with `tool_name`, `text`, `is_error` (Anthropic's flag; False from OpenAI) and `images`.
- `last_result`: the latest tool result (None before any); `results`: those since the last reply;
  `results_of(name)` / `calls_of(name)`: everything a tool answered / every call made to it.
What it answers: a str (a text answer), `call(name, **args)` (a tool call), `a + b` (text and parallel
calls together) or `Reply(text, tool_calls)`. `scripted(*replies)` answers a conversation's n-th call
with the n-th reply; `by_role(planner=..., coder=...)` dispatches on the role.

    def coder(request: Request) -> Reply | str:
        if request.turn == 0:
            return call("write_file", file_path="/script.py", content=BROKEN)
        last = request.last_result
        if last and last.tool_name == "check_script":
            if "FAILED" not in last.text:
                return "done"
            return call("edit_file", file_path="/script.py", old_string="r=5", new_string="r=50")
        return call("check_script")

    plan = call("write_file", file_path="/plan.md", content=PLAN)
    with serve(by_role(planner=scripted(plan, "planned"), coder=coder, reviewer=...)) as server:
        server.inject(500, when=lambda request: request.role == "coder")  # the coder's next call fails
        result = benchgen("generate", "...", env={**os.environ, **server.env("anthropic")})
    assert server.count("coder", status=500) == 1 and server.count("planner") == 2

`server.requests` records every request as an `Exchange`: path, headers, parsed body, the neutral
`request`, status, `reply` or injected `fault`, what went on the wire, start time, duration, tokens.
Usage is deterministic: input tokens = characters of the request (system, messages, tool calls, tool
schemas; an image counts IMAGE_TOKENS) // 4; output tokens = characters of the reply // 4.
`server.inject(status, count=1, when=None)`: the next `count` requests (those `when` accepts) get HTTP
`status` (500, 429, 529: transient; 400: not) in the provider's error JSON, with `retry-after-ms` so
the clients retry quickly. A policy that raises gets a 400 (never retried), and `serve` raises
PolicyError at exit (or notes it on the block's own error).
"""

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

IMAGE_TOKENS = 765
DEFAULT_MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-sonnet-4-5"}
ROLE = re.compile(r"\bYou are (?:the |an? )?([\w -]+?)(?: of\b|[.,:;\n])")


@dataclass
class ToolCall:
    name: str
    args: dict[str, Any]
    id: str = ""


def _size(calls: list[ToolCall]) -> int:
    return sum(len(c.name) + len(json.dumps(c.args, sort_keys=True)) for c in calls)


@dataclass
class Message:
    role: str  # "user", "assistant" or "tool" (a tool result)
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str = ""
    tool_name: str = ""  # tool results: the tool that answered
    is_error: bool = False
    images: int = 0


@dataclass
class Request:
    provider: str  # "openai" or "anthropic"
    model: str
    system: str
    messages: list[Message]
    tools: dict[str, dict[str, Any]]  # name → JSON schema of its arguments
    stream: bool = False
    body: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        names = {c.id: c.name for m in self.messages for c in m.tool_calls}
        for message in self.messages:
            if message.role == "tool" and not message.tool_name:
                message.tool_name = names.get(message.tool_call_id, "")

    @property
    def role(self) -> str:
        found = ROLE.search(self.system)
        return found.group(1).strip().lower() if found else ""

    @property
    def turn(self) -> int:
        return sum(m.role == "assistant" for m in self.messages)

    @property
    def task(self) -> str:
        return next((m.text for m in self.messages if m.role == "user"), "")

    @property
    def results(self) -> list[Message]:
        tail: list[Message] = []
        for message in reversed(self.messages):
            if message.role == "assistant":
                break
            if message.role == "tool":
                tail.insert(0, message)
        return tail

    @property
    def last_result(self) -> Message | None:
        return next((m for m in reversed(self.messages) if m.role == "tool"), None)

    def results_of(self, name: str) -> list[Message]:
        return [m for m in self.messages if m.role == "tool" and m.tool_name == name]

    def calls_of(self, name: str) -> list[ToolCall]:
        return [c for m in self.messages for c in m.tool_calls if c.name == name]

    @property
    def input_tokens(self) -> int:
        chars = len(self.system) + sum(len(n) + len(json.dumps(s, sort_keys=True)) for n, s in self.tools.items())
        chars += sum(len(m.text) + _size(m.tool_calls) + 4 * IMAGE_TOKENS * m.images for m in self.messages)
        return max(1, chars // 4)


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)

    def __add__(self, other: "Reply | str") -> "Reply":
        other = Reply(other) if isinstance(other, str) else other
        return Reply("\n".join(t for t in (self.text, other.text) if t), [*self.tool_calls, *other.tool_calls])

    @property
    def output_tokens(self) -> int:
        return max(1, (len(self.text) + _size(self.tool_calls)) // 4)


Policy = Callable[[Request], Reply | str]


def call(name: str, **args: Any) -> Reply:
    return Reply(tool_calls=[ToolCall(name, args)])


def scripted(*replies: Reply | str) -> Policy:
    """Answers a conversation's n-th model call with replies[n]."""

    def policy(request: Request) -> Reply | str:
        if request.turn >= len(replies):
            raise IndexError(f"{request.role or 'model'}: turn {request.turn}, but the script has {len(replies)}")
        return replies[request.turn]

    return policy


def by_role(**policies: Policy) -> Policy:
    """Dispatches on `Request.role`; a role with a space in its name is spelled with `_` ("skill_learner")."""

    def policy(request: Request) -> Reply | str:
        key = request.role.replace(" ", "_").replace("-", "_")
        if key not in policies:
            raise KeyError(f"no policy for role {request.role!r} (system prompt: {request.system[:80]!r})")
        return policies[key](request)

    return policy


@dataclass
class Fault:
    status: int
    message: str
    retry_after_ms: int | None
    when: Callable[[Request], bool] | None


@dataclass
class Exchange:
    """One request the server received and what it sent back."""

    path: str
    # Lower-cased names: the clients' `x-stainless-retry-count` says which retry of a call this was.
    headers: dict[str, str] = field(repr=False)
    body: Any = field(repr=False)  # the parsed JSON (the text, if it was not JSON)
    started: float  # time.time() when it arrived
    duration_s: float = 0.0
    request: Request | None = field(default=None, repr=False)  # None when the path or body was not understood
    status: int = 200
    reply: Reply | None = None  # what the policy answered (None for faults and errors)
    fault: int | None = None  # the injected status this request got instead of a reply
    response: Any = field(default=None, repr=False)  # what went on the wire: the JSON body, or the streamed events
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def role(self) -> str:
        return self.request.role if self.request else ""


class PolicyError(AssertionError):
    """The policy raised while the server answered a request."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class ProviderServer:
    def __init__(self, policy: Policy) -> None:
        from tests import provider_anthropic, provider_openai

        self.policy = policy
        self.requests: list[Exchange] = []
        self.errors: list[Exception] = []
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._wires = {provider_openai.PATH: provider_openai, provider_anthropic.PATH: provider_anthropic}
        self._unrouted = provider_openai  # what answers a path neither provider has
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server._answer(self, raw)

            def log_message(self, *args: Any) -> None:
                pass

        self._http = _Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def inject(
        self,
        status: int,
        count: int = 1,
        *,
        when: Callable[[Request], bool] | None = None,
        message: str | None = None,
        retry_after_ms: int | None = 10,
    ) -> None:
        """The next `count` requests (those `when` accepts, if given) get HTTP `status` instead of a reply."""
        text = message or f"injected fault: HTTP {status}"
        with self._lock:
            self._faults.extend(Fault(status, text, retry_after_ms, when) for _ in range(count))

    def env(self, provider: str, model: str | None = None) -> dict[str, str]:
        """What a process needs to reach this server as `provider` (both base-URL variables each client reads)."""
        spec = f"{provider}:{model or DEFAULT_MODELS[provider]}"
        if provider == "openai":
            url, names = f"{self.base_url}/v1", ("OPENAI_BASE_URL", "OPENAI_API_BASE")
        elif provider == "anthropic":
            url, names = self.base_url, ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_URL")
        else:
            raise ValueError(f"unknown provider {provider!r}")
        return {f"{provider.upper()}_API_KEY": "test-key", **dict.fromkeys(names, url), "BENCHGEN_MODEL": spec}

    def count(self, role: str | None = None, *, status: int | None = None) -> int:
        """Requests received (from `role`, answered with `status`, when given)."""
        return sum(
            (role is None or e.role == role) and (status is None or e.status == status) for e in list(self.requests)
        )

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _take_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.when is None or fault.when(request):
                    return self._faults.pop(i)
        return None

    def _answer(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        clock = time.perf_counter()
        headers = {k.lower(): v for k, v in handler.headers.items()}
        record = Exchange(handler.path, headers, raw.decode(errors="replace"), started=time.time())
        wire = self._wires.get(handler.path.split("?")[0])
        extra: dict[str, str] = {}
        if wire is None:
            wire = self._unrouted
            record.status, record.response = 404, wire.error(404, f"no route for {handler.path}")
        else:
            try:
                record.body = json.loads(raw)
                request = record.request = wire.parse(record.body)
                if fault := self._take_fault(request):
                    record.status = record.fault = fault.status
                    record.response = wire.error(fault.status, fault.message)
                    if fault.retry_after_ms is not None:
                        extra["retry-after-ms"] = str(fault.retry_after_ms)
                else:
                    answer = self.policy(request)
                    reply = Reply(answer) if isinstance(answer, str) else answer
                    make = wire.events if request.stream else wire.response
                    record.response, record.reply = make(reply, request, next(self._ids)), reply
                    record.input_tokens, record.output_tokens = request.input_tokens, reply.output_tokens
            except Exception as error:  # the policy's (or this fixture's) bug: a 400, never retried
                self.errors.append(error)
                record.status, record.reply = 400, None
                record.response = wire.error(400, f"the test server could not answer: {type(error).__name__}: {error}")
        streamed = record.status == 200 and record.request is not None and record.request.stream
        data = wire.encode(record.response) if streamed else json.dumps(record.response).encode()
        record.duration_s = time.perf_counter() - clock
        with self._lock:
            self.requests.append(record)
        try:
            handler.send_response(record.status)
            handler.send_header("Content-Type", "text/event-stream" if streamed else "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextmanager
def serve(policy: Policy | None = None) -> Iterator[ProviderServer]:
    """A ProviderServer for the block; a policy error is raised at exit (or noted on the block's own error)."""
    server = ProviderServer(policy or (lambda request: "ok"))
    try:
        yield server
    except BaseException as error:
        for raised in server.errors:
            error.add_note(f"provider server: could not answer a request: {type(raised).__name__}: {raised}")
        raise
    finally:
        server.close()
    if server.errors:
        raise PolicyError(
            f"the policy (or parsing a request) raised on {len(server.errors)} request(s)"
        ) from server.errors[0]
