"""The offline learner: reads the compressed journals page by page, and writes parameter limits per library
family, from sessions that failed and were fixed.

Deterministic and evidence-only. A limit is written when a session's checks failed with a parameter at
one nominal value and the coder's next round changed that parameter alone: the failing value bounds the
parameter on that side, and the closest value that passed (in any session of the family) becomes the
limit. A round that changed several parameters at once does not say which one was at fault, so it is
not evidence. No failure,
no limit; no passing value on the safe side, no limit either. The same journals always give the same
skills, so learning twice from unchanged journals writes no new version.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise

import yaml
from langchain_core.messages import AIMessage, BaseMessage

from benchgen_dagster.agent.offline.messages import call, read_calls, shown_file
from benchgen_dagster.agent.prompts import JOURNALS_PATH, LEARNED_DIR
from benchgen_dagster.models.skills import ParamLimit, SessionDigest, changed_parameters, format_limits

LEARNED_SUFFIX = "-limits"
# Pages small enough that read_file's result stays under its size budget: a digest line is a few KB, checks
# and edits included (agent/journals.py bounds it, to about 40 KB for the most verbose journal possible),
# so 8 lines of real sessions stay well under deepagents' 80 KB.
JOURNAL_PAGE_LINES = 8


def skill_slug(family: str) -> str:
    """The prefix of the skill names about a library family (skill names allow no underscores)."""
    return family.replace("_", "-")


@dataclass
class _Bound:
    failed: list[tuple[float, str, str]] = field(default_factory=list)  # (value, candidate, check)

    def worst(self, upper: bool) -> tuple[float, str, str]:
        return min(self.failed) if upper else max(self.failed)


@dataclass
class _FamilyEvidence:
    passed: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    above: dict[str, _Bound] = field(default_factory=lambda: defaultdict(_Bound))
    below: dict[str, _Bound] = field(default_factory=lambda: defaultdict(_Bound))
    stories: dict[str, str] = field(default_factory=dict)


def _check_name(failure: str) -> str:
    return failure.split(" ", 1)[0] if failure else "a check"


def _gather(sessions: list[SessionDigest]) -> dict[str, _FamilyEvidence]:
    families: dict[str, _FamilyEvidence] = defaultdict(_FamilyEvidence)
    for session in sessions:
        if not session.family:
            continue
        evidence = families[session.family]
        for round_ in session.rounds:
            if round_.passed:
                for name, value in round_.parameters.items():
                    evidence.passed[name].append(value)
        for before, after in pairwise(session.rounds):
            if before.passed:
                continue
            check = _check_name(before.failures[0] if before.failures else "")
            changed = changed_parameters(before, after)
            for name in changed if len(changed) == 1 else []:
                old, new = before.parameters[name], after.parameters[name]
                if old > new:
                    evidence.above[name].failed.append((old, session.candidate, check))
                elif old < new:
                    evidence.below[name].failed.append((old, session.candidate, check))
        if session.fixes:
            evidence.stories[session.candidate] = f"{session.intent} — " + "; then ".join(session.fixes)
    return families


def _limits(evidence: _FamilyEvidence) -> tuple[dict[str, ParamLimit], list[str], set[str]]:
    """The limits the evidence supports, a table row per limit, and the candidates behind them."""
    limits: dict[str, ParamLimit] = {}
    rows: list[str] = []
    used: set[str] = set()
    for name in sorted(set(evidence.above) | set(evidence.below)):
        passed = evidence.passed.get(name, [])
        if name in evidence.above:
            fail, _, check = evidence.above[name].worst(upper=True)
            safe = [v for v in passed if v < fail]
            if safe:
                limits.setdefault(name, ParamLimit()).high = max(safe)
                cases = sorted({c for v, c, _ in evidence.above[name].failed})
                used.update(cases)
                rows.append(f"| `{name}` | at most {max(safe):g} | {fail:g} | {check} | {', '.join(cases)} |")
        if name in evidence.below:
            fail, _, check = evidence.below[name].worst(upper=False)
            safe = [v for v in passed if v > fail]
            if safe:
                limits.setdefault(name, ParamLimit()).low = min(safe)
                cases = sorted({c for v, c, _ in evidence.below[name].failed})
                used.update(cases)
                rows.append(f"| `{name}` | at least {min(safe):g} | {fail:g} | {check} | {', '.join(cases)} |")
    return limits, rows, used


def skill_text(family: str, limits: dict[str, ParamLimit], rows: list[str], stories: dict[str, str]) -> str:
    name = f"{skill_slug(family)}{LEARNED_SUFFIX}"
    summary = "; ".join(
        f"{p} {'at most ' + format(limit.high, 'g') if limit.high is not None else ''}"
        f"{' and ' if limit.high is not None and limit.low is not None else ''}"
        f"{'at least ' + format(limit.low, 'g') if limit.low is not None else ''}"
        for p, limit in sorted(limits.items())
    )
    description = (
        f"Nominal values of the {family} library family that pass the worker's checks: {summary}. "
        "Read before writing a script from this family."
    )[:1000]
    example_param, example_limit = sorted(limits.items())[0]
    example_value = example_limit.high if example_limit.high is not None else example_limit.low
    evidence = sorted(stories)
    front = {
        "name": name,
        "description": description,
        "metadata": {"family": family, "limits": format_limits(limits), "evidence": " ".join(evidence)},
    }
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=10_000).rstrip(),
        "---",
        f"# {family}: nominal values that pass the checks",
        "",
        f"Learned by benchgen's skill learner from {len(evidence)} session(s) whose checks failed and passed "
        "once the coder changed these values. Every seed draws each parameter within ±40 % of its nominal, so "
        "a nominal near the edge fails on some seeds only: keep the nominal inside the limit even when the "
        "plan asks for more, and say in the review note that it was held back.",
        "",
        "| parameter | keep the nominal | failed at | check that failed | journals |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "## Example",
        "",
        "```python",
        f"# {family}: held at the learned limit instead of the planned value",
        f'{example_param} = p.param("{example_param}", nominal={example_value:g})',
        "```",
        "",
        "## Evidence",
        "",
        *(f"- `{candidate}`: {stories[candidate]}" for candidate in evidence),
        "",
    ]
    return "\n".join(lines)


def derive_skills(sessions: list[SessionDigest]) -> dict[str, str]:
    """SKILL.md text by skill name, one per library family with evidence."""
    skills: dict[str, str] = {}
    for family, evidence in sorted(_gather(sessions).items()):
        limits, rows, used = _limits(evidence)
        if not limits:
            continue
        stories = {c: s for c, s in evidence.stories.items() if c in used}
        skills[f"{skill_slug(family)}{LEARNED_SUFFIX}"] = skill_text(family, limits, rows, stories)
    return skills


def _more_to_read(last: tuple[str, tuple[int, int, int | None] | None], offset: int) -> bool:
    text, span = last
    if span is None:
        return len(text.splitlines()) >= JOURNAL_PAGE_LINES
    return offset < span[2] if span[2] is not None else span[1] - span[0] + 1 >= JOURNAL_PAGE_LINES


def learner_step(messages: list[BaseMessage], n: int) -> AIMessage:
    """Read the compressed journals page by page, then write one skill per family the evidence supports."""
    pages = [content for args, content in read_calls(messages) if args.get("file_path") == JOURNALS_PATH]
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
        return call("read_file", {"file_path": JOURNALS_PATH, "offset": offset, "limit": JOURNAL_PAGE_LINES}, n)
    skills = derive_skills(sessions)
    written = {
        str(made["args"].get("file_path"))
        for m in messages
        if isinstance(m, AIMessage)
        for made in m.tool_calls
        if made["name"] == "write_file"
    }
    for name, text in sorted(skills.items()):
        path = f"{LEARNED_DIR}/{name}/SKILL.md"
        if path not in written:
            return call("write_file", {"file_path": path, "content": text}, n)
    if not skills:
        return AIMessage(
            content=f"NOTHING TO LEARN from {len(sessions)} sessions: none failed a check and passed after a "
            "parameter changed"
        )
    return AIMessage(content=f"LEARNED from {len(sessions)} sessions: {', '.join(sorted(skills))}")
