"""The OpenAI Chat Completions wire format for tests/provider_servers.py: requests in, replies and errors out."""

import json
from typing import Any

from tests.provider_servers import Message, Reply, Request, ToolCall

PATH = "/v1/chat/completions"
PIECE = 16  # characters per streamed delta
IMAGE_PARTS = {"image_url", "input_image", "image"}
ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def _text(content: Any) -> tuple[str, int]:
    """The text of a message's content (a str or a list of parts) and how many images it holds."""
    if content is None or isinstance(content, str):
        return content or "", 0
    texts = [part.get("text", "") for part in content if part.get("type") in {"text", "input_text"}]
    return "\n".join(texts), sum(part.get("type") in IMAGE_PARTS for part in content)


def _args(arguments: str) -> dict[str, Any]:
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        return {"_unparsed": arguments}
    return args if isinstance(args, dict) else {"_unparsed": arguments}


def parse(body: dict[str, Any]) -> Request:
    system: list[str] = []
    messages: list[Message] = []
    for item in body["messages"]:
        text, images = _text(item.get("content"))
        role = item["role"]
        if role in {"system", "developer"}:
            system.append(text)
        elif role == "assistant":
            calls = [
                ToolCall(c["function"]["name"], _args(c["function"].get("arguments", "")), c.get("id", ""))
                for c in item.get("tool_calls") or []
            ]
            messages.append(Message("assistant", text, calls))
        elif role == "tool":
            messages.append(Message("tool", text, tool_call_id=item.get("tool_call_id", ""), images=images))
        else:
            messages.append(Message("user", text, images=images))
    tools = {
        t["function"]["name"]: t["function"].get("parameters", {})
        for t in body.get("tools") or []
        if t.get("type") == "function"
    }
    return Request("openai", body.get("model", ""), "\n".join(system), messages, tools, bool(body.get("stream")), body)


def _calls(reply: Reply, n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id or f"call_{n}_{i}",
            "type": "function",
            "function": {"name": c.name, "arguments": json.dumps(c.args)},
        }
        for i, c in enumerate(reply.tool_calls)
    ]


def _usage(reply: Reply, request: Request) -> dict[str, int]:
    prompt, completion = request.input_tokens, reply.output_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _head(request: Request, n: int, kind: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{n}", "object": kind, "created": 1767225600 + n, "model": request.model}


def response(reply: Reply, request: Request, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = _calls(reply, n)
    finish = "tool_calls" if reply.tool_calls else "stop"
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    return {**_head(request, n, "chat.completion"), "choices": [choice], "usage": _usage(reply, request)}


def events(reply: Reply, request: Request, n: int) -> list[dict[str, Any]]:
    """The chunks of a streamed reply: role, text pieces, each tool call's name then its arguments in pieces."""
    head = _head(request, n, "chat.completion.chunk")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": reply.text[i : i + PIECE]}) for i in range(0, len(reply.text), PIECE)]
    for index, wire_call in enumerate(_calls(reply, n)):
        arguments = wire_call["function"]["arguments"]
        first = {**wire_call, "index": index, "function": {"name": wire_call["function"]["name"], "arguments": ""}}
        chunks.append(chunk({"tool_calls": [first]}))
        pieces = [arguments[i : i + PIECE] for i in range(0, len(arguments), PIECE)]
        chunks += [chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in pieces]
    chunks.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if (request.body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**head, "choices": [], "usage": _usage(reply, request)})
    return chunks


def encode(chunks: list[dict[str, Any]]) -> bytes:
    return ("".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n").encode()


def error(status: int, message: str) -> dict[str, Any]:
    kind, code = ERRORS.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
