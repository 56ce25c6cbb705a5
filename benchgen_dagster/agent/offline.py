"""The offline policy: a deterministic chat model that plays planner, coder and reviewer.

It stands behind the same `BaseChatModel` interface a real provider does, and emits the same tool
calls a real model would (write_todos, write_file, read_file, execute, check_script, ...), so the
graph, the tools and the sandbox run unchanged with no network. What it knows is the built-in
library: it reads the request (`offline_requests`), picks and parameterizes a family, and judges
by the worker's reports and the renders. It is a real, documented mode (docs/agents.md), not a
test double: it cannot invent geometry the library does not have, and says so by refusing.
"""

import json
import re
from collections.abc import Sequence
from typing import Any

import yaml
from deepagents import GeneralPurposeSubagentProfile, HarnessProfile, register_harness_profile
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from benchgen_dagster.agent.offline_learner import derive_skills, skill_slug
from benchgen_dagster.agent.offline_requests import (
    OfflinePlan,
    Refusal,
    family_parameters,
    parameterized_source,
    plan_request,
)
from benchgen_dagster.agent.prompts import (
    FEEDBACK_MARKER,
    JOURNALS_PATH,
    LEARNED_DIR,
    PLAN_MARKER,
    REQUEST_MARKER,
    ROUND_MARKER,
)
from benchgen_dagster.models.plans import plan_front_matter
from benchgen_dagster.models.skills import SessionDigest, SkillError, parse_skill

_CHARS_PER_TOKEN = 4
# Pages small enough that read_file's result stays under its size budget: a digest line is at most about
# 6 KB (agent/journals.py bounds it), so 8 lines stay well under deepagents' 80 KB.
JOURNAL_PAGE_LINES = 8
# How deepagents' skills middleware points at a skill in the system prompt.
_SKILL_PATH_RE = re.compile(r"`(/skills/([a-z0-9-]+)/SKILL\.md)`")
_NUMBERED_LINE_RE = re.compile(r"^\s*\d+(\.\d+)?  (.*)$")
# "@@ lines 1-20 of 45 @@" or "@@ lines 1-20 of 45 | next offset 20 @@", possibly after a truncation notice.
_SHOWN_HEADER_RE = re.compile(r"^@@ lines (\d+)-(\d+)(?: of (\d+))?(?: \| next offset (\d+))? @@\n", re.M)


def _section(text: str, marker: str) -> str:
    """The text after `marker` up to the next blank-line-separated marker line."""
    if marker not in text:
        return ""
    rest = text.split(marker, 1)[1]
    return re.split(r"\n\n[A-Z][A-Z ()._]+:", rest, maxsplit=1)[0].strip()


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


def plan_markdown(plan: OfflinePlan | Refusal, prompt: str) -> str:
    """plan.md as the planner writes it: front matter for machines, sections for people."""
    if isinstance(plan, Refusal):
        return f"---\nrefused: {json.dumps(plan.reason)}\n---\n# Refused\n\nRequest: {prompt}\n\n{plan.reason}\n"
    defaults = family_parameters(plan.family)
    nominal = {**defaults, **plan.overrides}
    front = yaml.safe_dump({"family": plan.family, "tier": plan.tier, "overrides": plan.overrides}, sort_keys=True)
    ranges = "\n".join(
        f"- `{name}`: nominal {value:g}, drawn over ±40 % ({value * 0.6:g}..{value * 1.4:g}) by the seed"
        for name, value in sorted(nominal.items())
    )
    return (
        f"---\n{front}---\n# {plan.title}\n\nRequest: {prompt}\n\n"
        f"## Learning objectives\n{_objectives(plan.tier)}\n\n"
        f"## Geometry and kinematic chain\nBuilt from the `{plan.family}` family of the library. {plan.rationale}\n\n"
        f"## Randomization strategy\n{ranges}\n\n"
        "## Objectives and constraints\nThe family's goal, build and forbid zones, moved object and cost, weight "
        "and quantity constraints, scaled with the parameters above.\n\n"
        "## Self-verification\n1. `execute`: `from utils import simulate; print(simulate(seeds=2))`.\n"
        "2. `check_script` over all seeds: every check must pass.\n3. `render_views`, then `submit_for_review`.\n"
    )


def _objectives(tier: int) -> str:
    if tier == 1:
        return "- Spatial reasoning: get an object past obstacles into a goal zone without entering forbidden space."
    return "- Kinematic reasoning: use a mechanism (lever, slide, hinge, crank) to produce the required motion."


def _read_calls(messages: list[BaseMessage]) -> list[tuple[dict[str, Any], str]]:
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


def _files_read(messages: list[BaseMessage]) -> dict[str, str]:
    """What the last read_file of each path returned."""
    return {str(args.get("file_path", "")): content for args, content in _read_calls(messages)}


def _round(task: str) -> int:
    first = (_section(task, ROUND_MARKER).splitlines() or ["1"])[0].strip()
    return int(first) if first.isdigit() else 1


def _revise(plan: OfflinePlan, round_: int, feedback: bool, reads: dict[str, str]) -> tuple[OfflinePlan, list[str]]:
    """The plan's nominal values as the coder writes them this round, and what it changed and why.

    Without a skill, the fix the policy knows for failed checks or a rejection is to move one planned
    value halfway back to the family's default (which passed when the family was built) per failed
    round: the one furthest from its default, so each round tests one change and the journal says which
    change fixed what. A skill about the family that was read states limits learned from earlier
    sessions; the values are kept within them from the first round."""
    defaults = family_parameters(plan.family)
    values = {name: value for name, value in plan.overrides.items() if name in defaults}
    changes: list[str] = []
    for path, shown in sorted(reads.items()):
        match = _SKILL_PATH_RE.fullmatch(f"`{path}`")
        if match is None:
            continue
        try:
            skill = parse_skill(shown_file(shown)[0], match.group(2))
        except SkillError:
            continue  # a skill the policy cannot read is a skill it does not apply
        if skill.family != plan.family:
            continue
        for name, limit in sorted(skill.limits.items()):
            if name not in defaults:
                continue
            current = values.get(name, defaults[name])
            kept = limit.clamp(current)
            if kept != current:
                values[name] = kept
                changes.append(f"{name} {current:g} -> {kept:g} (skill {skill.name})")
    # Halving starts from the values the skills allow: a fix must change the script, not restate it.
    for failed_round in range(1, round_ if feedback else 1):
        moved = {n: v for n, v in values.items() if v != defaults[n]}
        if not moved:
            break
        name = max(sorted(moved), key=lambda n: abs(moved[n] - defaults[n]) / (abs(defaults[n]) or 1.0))
        value = round(defaults[name] + (values[name] - defaults[name]) / 2, 1)
        why = f"toward the default {defaults[name]:g} after round {failed_round} failed"
        changes.append(f"{name} {values[name]:g} -> {value:g} ({why})")
        values[name] = value
    return plan.model_copy(update={"overrides": values}), changes


def _more_to_read(last: tuple[str, tuple[int, int, int | None] | None], offset: int) -> bool:
    text, span = last
    if span is None:
        return len(text.splitlines()) >= JOURNAL_PAGE_LINES
    return offset < span[2] if span[2] is not None else span[1] - span[0] + 1 >= JOURNAL_PAGE_LINES


def _tool_call(name: str, args: dict[str, Any], index: int) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"offline-{name}-{index}", "type": "tool_call"}


class OfflinePolicyModel(BaseChatModel):
    """Plays `role` ("planner", "coder" or "reviewer") deterministically; tools are chosen by the policy."""

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
            message = self._coder(task, called, results, len(called), system, _files_read(messages))
        elif self.role == "learner":
            message = self._learner(messages, len(called))
        else:
            step = {"planner": self._planner, "reviewer": self._reviewer}[self.role]
            message = step(task, called, results, len(called))
        spoken = sum(len(str(m.content)) for m in messages)
        written = len(str(message.content)) + len(json.dumps([c["args"] for c in message.tool_calls]))
        message.usage_metadata = {
            "input_tokens": spoken // _CHARS_PER_TOKEN + 1,
            "output_tokens": written // _CHARS_PER_TOKEN + 1,
            "total_tokens": (spoken + written) // _CHARS_PER_TOKEN + 2,
        }
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _planner(self, task: str, called: list[str], results: dict[str, str], n: int) -> AIMessage:
        prompt = _section(task, REQUEST_MARKER)
        plan = plan_request(prompt)
        if "write_todos" not in called:
            todos = [
                {
                    "content": "Write plan.md: objectives, geometry, randomization, zones, self-verification",
                    "status": "in_progress",
                },
                {"content": "Coder: write script.py from the plan", "status": "pending"},
                {"content": "Coder: verify with utils.simulate and check_script", "status": "pending"},
                {"content": "Reviewer: read reports, look at renders, decide", "status": "pending"},
            ]
            return AIMessage(content="", tool_calls=[_tool_call("write_todos", {"todos": todos}, n)])
        if "write_file" not in called:
            args = {"file_path": "/plan.md", "content": plan_markdown(plan, prompt)}
            return AIMessage(content="", tool_calls=[_tool_call("write_file", args, n)])
        if isinstance(plan, Refusal):
            return AIMessage(content=f"REFUSED: {plan.reason}")
        return AIMessage(content=f"PLAN READY: {plan.family} with overrides {plan.overrides}")

    def _chosen_plan(self, task: str) -> OfflinePlan | Refusal:
        prompt = _section(task, REQUEST_MARKER)
        front = plan_front_matter(_section(task, PLAN_MARKER))
        if front.get("family"):
            overrides = {str(k): float(v) for k, v in (front.get("overrides") or {}).items()}
            reading = plan_request(prompt).reading
            return OfflinePlan(
                family=str(front["family"]),
                tier=int(front.get("tier") or 1),
                title=prompt[:80],
                overrides=overrides,
                rationale="as planned in plan.md",
                reading=reading,
            )
        return plan_request(f"{prompt}\n{_section(task, PLAN_MARKER)}")

    def _coder(
        self, task: str, called: list[str], results: dict[str, str], n: int, system: str, reads: dict[str, str]
    ) -> AIMessage:
        plan = self._chosen_plan(task)
        if isinstance(plan, Refusal):
            return AIMessage(content=f"Nothing to build: {plan.reason}")
        if "read_file" not in called:
            return AIMessage(content="", tool_calls=[_tool_call("read_file", {"file_path": "/plan.md"}, n)])
        # Skills about this family, as the skills middleware lists them: read each before writing.
        skills = [path for path, name in _SKILL_PATH_RE.findall(system) if name.startswith(skill_slug(plan.family))]
        unread = [path for path in skills if path not in reads]
        if unread:
            return AIMessage(content="", tool_calls=[_tool_call("read_file", {"file_path": unread[0]}, n)])
        # The values this round writes: the plan's, within the skills' limits, moved back after failures.
        plan, changes = _revise(plan, _round(task), bool(_section(task, FEEDBACK_MARKER)), reads)
        if "write_file" not in called:
            args = {"file_path": "/script.py", "content": parameterized_source(plan)}
            return AIMessage(content="", tool_calls=[_tool_call("write_file", args, n)])
        if "execute" not in called:
            code = "from utils import simulate\nprint(simulate(seeds=2))"
            return AIMessage(content="", tool_calls=[_tool_call("execute", {"command": code}, n)])
        if "check_script" not in called:
            return AIMessage(content="", tool_calls=[_tool_call("check_script", {}, n)])
        if '"passed": false' in results.get("check_script", ""):
            failed = json.loads(results["check_script"]).get("failed_checks", [])
            return AIMessage(content=f"CHECKS FAILED: {', '.join(failed)}")
        if "render_views" not in called:
            return AIMessage(content="", tool_calls=[_tool_call("render_views", {"seed": 0}, n)])
        if "submit_for_review" not in called:
            note = f"{plan.family} with {plan.overrides or 'default parameters'}; all checks pass"
            return AIMessage(content="", tool_calls=[_tool_call("submit_for_review", {"note": note}, n)])
        if "write_todos" not in called:
            todos = [
                {"content": f"write script.py ({plan.family})", "status": "completed"},
                {"content": "self-check with utils.simulate", "status": "completed"},
                {"content": "full check_script over all seeds", "status": "completed"},
                {"content": "render and submit for review", "status": "completed"},
            ]
            return AIMessage(content="", tool_calls=[_tool_call("write_todos", {"todos": todos}, n)])
        return AIMessage(content=f"SUBMITTED: script.py ({plan.family}{'; ' if changes else ''}{'; '.join(changes)})")

    def _learner(self, messages: list[BaseMessage], n: int) -> AIMessage:
        """Read the compressed journals page by page, then write one skill per family the evidence supports."""
        pages = [content for args, content in _read_calls(messages) if args.get("file_path") == JOURNALS_PATH]
        if pages and pages[0].startswith("Error"):
            return AIMessage(content=f"COULD NOT READ {JOURNALS_PATH}: {pages[0][:300]}")
        sessions: list[SessionDigest] = []
        offset = 0
        last: tuple[str, tuple[int, int, int | None] | None] | None = None
        for page in pages:
            if page.startswith("Error"):  # read past the end: every line was read
                last = None
                break
            last = shown_file(page)
            text, span = last
            for line in text.splitlines():
                try:
                    sessions.append(SessionDigest.model_validate_json(line))
                except ValueError:
                    continue  # a line the asset wrote is valid; anything else is not evidence
            # Resume after the last line shown: a page cut short for size resumes where it was cut.
            offset = span[1] if span else offset + len(text.splitlines())
        if not pages or (last is not None and _more_to_read(last, offset)):
            args = {"file_path": JOURNALS_PATH, "offset": offset, "limit": JOURNAL_PAGE_LINES}
            return AIMessage(content="", tool_calls=[_tool_call("read_file", args, n)])
        skills = derive_skills(sessions)
        written = {
            str(call["args"].get("file_path"))
            for m in messages
            if isinstance(m, AIMessage)
            for call in m.tool_calls
            if call["name"] == "write_file"
        }
        for name, text in sorted(skills.items()):
            path = f"{LEARNED_DIR}/{name}/SKILL.md"
            if path not in written:
                return AIMessage(
                    content="", tool_calls=[_tool_call("write_file", {"file_path": path, "content": text}, n)]
                )
        if not skills:
            return AIMessage(
                content=f"NOTHING TO LEARN from {len(sessions)} sessions: none failed a check and passed after a "
                "parameter changed"
            )
        return AIMessage(content=f"LEARNED from {len(sessions)} sessions: {', '.join(sorted(skills))}")

    def _reviewer(self, task: str, called: list[str], results: dict[str, str], n: int) -> AIMessage:
        review_round = (_section(task, ROUND_MARKER).splitlines() or ["1"])[0].strip()
        if "read_file" not in called:
            return AIMessage(
                content="", tool_calls=[_tool_call("read_file", {"file_path": "/reports/summary.json"}, n)]
            )
        if "view_renders" not in called:
            return AIMessage(content="", tool_calls=[_tool_call("view_renders", {}, n)])
        if "write_file" not in called:
            passed = '"passed": true' in results.get("read_file", "")
            views = json.loads(results.get("view_renders") or "[]")
            goal_visible = any(v.get("goal_zone_share", 0) > 0 for v in views)
            comments = []
            if not passed:
                comments.append("the worker's checks did not all pass (see /reports/summary.json)")
            if not views:
                comments.append("there are no renders to look at")
            elif not goal_visible:
                comments.append("the goal zone is not visible in any of the renders")
            decision = "approved" if not comments else "rejected"
            if not comments:
                comments.append(
                    f"all checks pass; the goal zone shows in {sum(v['goal_zone_share'] > 0 for v in views)} "
                    f"of {len(views)} views"
                )
                proven = '"solvability": "proven"' in results.get("read_file", "")
                comments.append(
                    "its reference solution solves every checked seed"
                    if proven
                    else "solvability is unproven: the script has no reference solution()"
                )
            body = yaml.safe_dump({"decision": decision, "comments": comments}, sort_keys=False)
            review = (
                f"---\n{body}---\n# Review, round {review_round}\n\n" + "\n".join(f"- {c}" for c in comments) + "\n"
            )
            args = {"file_path": f"/reviews/{review_round}.md", "content": review}
            return AIMessage(content="", tool_calls=[_tool_call("write_file", args, n)])
        return AIMessage(content=f"REVIEW WRITTEN: /reviews/{review_round}.md")


# The offline policy delegates to no sub-agent, so deepagents' general-purpose `task` tool is switched off for it.
register_harness_profile(
    OfflinePolicyModel.__name__.lower(),
    HarnessProfile(general_purpose_subagent=GeneralPurposeSubagentProfile(enabled=False)),
)
