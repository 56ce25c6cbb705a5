"""The Anthropic Messages wire format for tests/provider_servers.py: requests in, replies and errors out."""

import json
from typing import Any

from tests.provider_servers import Message, Reply, Request, ToolCall

PATH = "/v1/messages"
PIECE = 16  # characters per streamed delta
ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _text(content: Any) -> tuple[str, int]:
    """The text of a content (a str or a list of blocks) and how many images it holds."""
    if content is None or isinstance(content, str):
        return content or "", 0
    texts = [block.get("text", "") for block in content if block.get("type") == "text"]
    return "\n".join(texts), sum(block.get("type") == "image" for block in content)


def parse(body: dict[str, Any]) -> Request:
    messages: list[Message] = []
    for item in body["messages"]:
        content = item.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        if item["role"] == "assistant":
            text, _ = _text(blocks)
            uses = [b for b in blocks if b.get("type") == "tool_use"]
            calls = [ToolCall(b["name"], b.get("input") or {}, b.get("id", "")) for b in uses]
            messages.append(Message("assistant", text, calls))
            continue
        # A user turn: its tool results (one per call answered) become their own messages, then its text.
        for block in blocks:
            if block.get("type") == "tool_result":
                text, images = _text(block.get("content"))
                failed, call_id = bool(block.get("is_error")), block["tool_use_id"]
                messages.append(Message("tool", text, tool_call_id=call_id, is_error=failed, images=images))
        others = [b for b in blocks if b.get("type") != "tool_result"]
        if others:
            text, images = _text(others)
            messages.append(Message("user", text, images=images))
    system, _ = _text(body.get("system"))
    tools = {t["name"]: t.get("input_schema", {}) for t in body.get("tools") or []}
    return Request("anthropic", body.get("model", ""), system, messages, tools, bool(body.get("stream")), body)


def _blocks(reply: Reply, n: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    blocks += [
        {"type": "tool_use", "id": c.id or f"toolu_{n}_{i}", "name": c.name, "input": c.args}
        for i, c in enumerate(reply.tool_calls)
    ]
    return blocks


def _stop(reply: Reply) -> str:
    return "tool_use" if reply.tool_calls else "end_turn"


def _usage(reply: Reply, request: Request) -> dict[str, int]:
    return {"input_tokens": request.input_tokens, "output_tokens": reply.output_tokens}


def response(reply: Reply, request: Request, n: int) -> dict[str, Any]:
    return {
        "id": f"msg_{n:06d}",
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": _blocks(reply, n),
        "stop_reason": _stop(reply),
        "stop_sequence": None,
        "usage": _usage(reply, request),
    }


def events(reply: Reply, request: Request, n: int) -> list[dict[str, Any]]:
    """The events of a streamed reply: message_start, each block's start, deltas and stop, message_delta, stop."""
    start = {**response(reply, request, n), "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": request.input_tokens, "output_tokens": 0}
    stream: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(_blocks(reply, n)):
        if block["type"] == "text":
            opening, whole, delta = {"type": "text", "text": ""}, block["text"], ("text_delta", "text")
        else:
            opening, whole = {**block, "input": {}}, json.dumps(block["input"])
            delta = ("input_json_delta", "partial_json")
        stream.append({"type": "content_block_start", "index": index, "content_block": opening})
        stream += [
            {"type": "content_block_delta", "index": index, "delta": {"type": delta[0], delta[1]: whole[i : i + PIECE]}}
            for i in range(0, len(whole), PIECE)
        ]
        stream.append({"type": "content_block_stop", "index": index})
    ending = {"stop_reason": _stop(reply), "stop_sequence": None}
    return [
        *stream,
        {"type": "message_delta", "delta": ending, "usage": _usage(reply, request)},
        {"type": "message_stop"},
    ]


def encode(stream: list[dict[str, Any]]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in stream).encode()


def error(status: int, message: str) -> dict[str, Any]:
    kind = ERRORS.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_test_{status}"}
