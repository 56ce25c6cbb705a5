"""The offline coder: script.py from the plan, kept within the skills' limits and moved back after failed
rounds (`revise`), then verified, rendered and submitted."""

import json

from langchain_core.messages import AIMessage

from benchgen_dagster.agent.offline.learner import skill_slug
from benchgen_dagster.agent.offline.messages import SKILL_PATH_RE, call, section, shown_file, task_round
from benchgen_dagster.agent.offline.planning import OfflinePlan, Refusal, plan_request
from benchgen_dagster.agent.offline.scripts import parameterized_source
from benchgen_dagster.agent.prompts import FEEDBACK_MARKER, PLAN_MARKER, REQUEST_MARKER
from benchgen_dagster.library import family as library_family
from benchgen_dagster.models.plans import NEW_FAMILY, plan_fields
from benchgen_dagster.models.skills import SkillError, parse_skill


def chosen_plan(task: str) -> OfflinePlan | Refusal:
    """The plan the task hands the coder: plan.md's front matter where it names a family, else the request
    (with the plan's text) planned again."""
    prompt = section(task, REQUEST_MARKER)
    front = plan_fields(section(task, PLAN_MARKER))
    if front.family and front.family != NEW_FAMILY:
        reading = plan_request(prompt).reading
        return OfflinePlan(
            family=front.family,
            tier=front.tier or 1,
            title=prompt[:80],
            overrides=front.overrides,
            rationale="as planned in plan.md",
            reading=reading,
            # A plan read leniently (written before a family's scale was measured lower) builds what it may.
            scale=min(front.scale, library_family(front.family).max_scale),
        )
    return plan_request(f"{prompt}\n{section(task, PLAN_MARKER)}")


def revise(plan: OfflinePlan, round_: int, feedback: bool, reads: dict[str, str]) -> tuple[OfflinePlan, list[str]]:
    """The plan's nominal values as the coder writes them this round, and what it changed and why.

    Without a skill, the fix the policy knows for failed checks or a rejection is to move one planned
    value halfway back to the family's default (which passed when the family was built) per failed
    round: the one furthest from its default, so each round tests one change and the journal says which
    change fixed what. A skill about the family that was read states limits learned from earlier
    sessions; the values are kept within them from the first round."""
    defaults = library_family(plan.family).nominals()
    values = {name: value for name, value in plan.overrides.items() if name in defaults}
    changes: list[str] = []
    for path, shown in sorted(reads.items()):
        match = SKILL_PATH_RE.fullmatch(f"`{path}`")
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


def coder_step(
    task: str, called: list[str], results: dict[str, str], n: int, system: str, reads: dict[str, str]
) -> AIMessage:
    """The coder's next message, given the task, the tools called so far, what each last returned, the
    system prompt (which lists the skills) and what each file read showed."""
    plan = chosen_plan(task)
    if isinstance(plan, Refusal):
        return AIMessage(content=f"Nothing to build: {plan.reason}")
    if "read_file" not in called:
        return call("read_file", {"file_path": "/workspace/plan.md"}, n)
    # Skills about this family, as the skills middleware lists them: read each before writing.
    skills = [path for path, name in SKILL_PATH_RE.findall(system) if name.startswith(skill_slug(plan.family))]
    unread = [path for path in skills if path not in reads]
    if unread:
        return call("read_file", {"file_path": unread[0]}, n)
    # The values this round writes: the plan's, within the skills' limits, moved back after failures.
    plan, changes = revise(plan, task_round(task), bool(section(task, FEEDBACK_MARKER)), reads)
    if "write_file" not in called:
        return call("write_file", {"file_path": "/workspace/script.py", "content": parameterized_source(plan)}, n)
    if "execute" not in called:
        return call("execute", {"command": "python -c 'from utils import simulate; print(simulate(seeds=2))'"}, n)
    if "check_script" not in called:
        return call("check_script", {}, n)
    if '"passed": false' in results.get("check_script", ""):
        failed = json.loads(results["check_script"]).get("failed_checks", [])
        return AIMessage(content=f"CHECKS FAILED: {', '.join(failed)}")
    if "render_views" not in called:
        return call("render_views", {"seed": 0}, n)
    if "submit_for_review" not in called:
        note = f"{plan.family} with {plan.overrides or 'default parameters'}; all checks pass"
        return call("submit_for_review", {"note": note}, n)
    if "write_todos" not in called:
        todos = [
            {"content": f"write script.py ({plan.family})", "status": "completed"},
            {"content": "self-check with utils.simulate", "status": "completed"},
            {"content": "full check_script over all seeds", "status": "completed"},
            {"content": "render and submit for review", "status": "completed"},
        ]
        return call("write_todos", {"todos": todos}, n)
    return AIMessage(content=f"SUBMITTED: script.py ({plan.family}{'; ' if changes else ''}{'; '.join(changes)})")
