"""Reading a role's conversation as the offline policy does, and making the tool calls it answers with.

A role's task is the first human message, in sections the nodes open with markers
(`agent.prompts.REQUEST_MARKER`, ...); what the tools returned is in the tool messages after the calls.
"""

import re
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from benchgen_dagster.agent.prompts import ROUND_MARKER

# How deepagents' skills middleware points at a skill in the system prompt.
SKILL_PATH_RE = re.compile(r"`((?:/workspace)?/skills/([a-z0-9-]+)/SKILL\.md)`")
_NUMBERED_LINE_RE = re.compile(r"^\s*\d+(\.\d+)?  (.*)$")
# "@@ lines 1-20 of 45 @@" or "@@ lines 1-20 of 45 | next offset 20 @@", possibly after a truncation notice.
_SHOWN_HEADER_RE = re.compile(r"^@@ lines (\d+)-(\d+)(?: of (\d+))?(?: \| next offset (\d+))? @@\n", re.M)


def section(text: str, marker: str) -> str:
    """The text after `marker` up to the next blank-line-separated marker line."""
    if marker not in text:
        return ""
    rest = text.split(marker, 1)[1]
    return re.split(r"\n\n[A-Z][A-Z ()._]+:", rest, maxsplit=1)[0].strip()


def task_round(task: str) -> int:
    """The round the task says (ROUND: n), 1 where it says none."""
    first = (section(task, ROUND_MARKER).splitlines() or ["1"])[0].strip()
    return int(first) if first.isdigit() else 1


def shown_file(shown: str) -> tuple[str, tuple[int, int, int | None] | None]:
    """A file as deepagents' read_file shows it, back as text, with the lines shown (first, last, total
    if said) when it says. Its output is "@@ lines 1-26 of 26 @@" then the text; older versions number
    every line ("12  text", a long line continued as "12.1  text")."""
    span = None
    header = _SHOWN_HEADER_RE.search(shown)
    if header:
        total = int(header.group(3)) if header.group(3) else None
        span = (int(header.group(1)), int(header.group(2)), total)
        shown = shown[header.end() :]
    lines = shown.splitlines()
    if not lines or not all(_NUMBERED_LINE_RE.match(line) for line in lines if line.strip()):
        return shown if shown.endswith("\n") else shown + "\n", span
    text: list[str] = []
    for line in lines:
        match = _NUMBERED_LINE_RE.match(line)
        if match is None:
            text.append(line)
        elif match.group(1) and text:
            text[-1] += match.group(2)
        else:
            text.append(match.group(2))
    return "\n".join(text) + "\n", span


def read_calls(messages: list[BaseMessage]) -> list[tuple[dict[str, Any], str]]:
    """Each read_file call's arguments and what it returned, in order."""
    calls = {
        call["id"]: call["args"]
        for m in messages
        if isinstance(m, AIMessage)
        for call in m.tool_calls
        if call["name"] == "read_file"
    }
    return [
        (calls[m.tool_call_id], str(m.content))
        for m in messages
        if isinstance(m, ToolMessage) and m.tool_call_id in calls
    ]


def files_read(messages: list[BaseMessage]) -> dict[str, str]:
    """What the last read_file of each path returned."""
    return {str(args.get("file_path", "")): content for args, content in read_calls(messages)}


def tool_call(name: str, args: dict[str, Any], index: int) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"offline-{name}-{index}", "type": "tool_call"}


def call(name: str, args: dict[str, Any], index: int) -> AIMessage:
    """The answer that makes one tool call."""
    return AIMessage(content="", tool_calls=[tool_call(name, args, index)])
