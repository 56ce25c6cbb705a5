"""Skills: every session's journal, compressed (`agent_journals`), becomes versioned skills (`learned_skills`).

The learner runs apart from generation, so its reading never enters the coder's context. It runs when
enough new journals have come in (`skill_learning_sensor`, threshold set in `definitions.py`), every
week regardless (`weekly_skill_learning`), or on demand (`benchgen skills learn`). A skill is published
only as a valid SKILL.md that differs from the current one; an invalid proposal is refused and the
previous version stays. `cad_script` depends on `learned_skills`, so a new skill version marks every
script written before it stale, and each `cad_script` records the skill versions it was offered and read.
"""

import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg

from benchgen_dagster.agent.skills import SkillStore, text_sha
from benchgen_dagster.defs.candidates import (
    AGENT_CODE,
    MODEL_RETRY,
    UntrustedWorkspaceFile,
    code_version,
    read_workspace_text,
    text_version,
)
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import AgentsResource
from benchgen_dagster.models.skills import SessionDigest
from benchgen_dagster.paths import benchgen_home

LEARN_JOB = "learn_skills"
MAX_TABLE_ROWS = 50


def skill_store() -> SkillStore:
    return SkillStore(benchgen_home())


def journal_paths() -> dict[str, Path]:
    """Each candidate's journal.md by candidate id (the partition key)."""
    root = benchgen_home() / "candidates"
    if not root.is_dir():
        return {}
    return {p.parent.parent.name: p for p in sorted(root.glob("*/workspace/journal.md"))}


def journals_since(timestamp: float) -> list[str]:
    """The candidates whose journal changed after `timestamp` (a POSIX time)."""
    fresh = []
    for key, path in journal_paths().items():
        try:
            if path.lstat().st_mtime > timestamp:
                fresh.append(key)
        except OSError:
            continue
    return fresh


def collect_journals() -> tuple[list[SessionDigest], dict[str, str]]:
    """Every journal compressed, and why each one that could not be was skipped."""
    from benchgen_dagster.agent.journals import JournalError, compress

    sessions: list[SessionDigest] = []
    skipped: dict[str, str] = {}
    for key in journal_paths():
        try:
            journal = read_workspace_text(key, "journal.md")
        except UntrustedWorkspaceFile as error:
            skipped[key] = str(error)
            continue
        try:
            plan = read_workspace_text(key, "plan.md")
        except UntrustedWorkspaceFile:
            plan = ""
        try:
            sessions.append(compress(key, journal, plan))
        except JournalError as error:
            skipped[key] = str(error)
    return sessions, skipped


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _checks_failed(session: SessionDigest) -> set[str]:
    failures = [f for r in session.rounds for f in r.failures] + [f for c in session.checks for f in c.failures]
    return {f.split(" ", 1)[0] for f in failures}


def journal_table(sessions: list[SessionDigest]) -> dg.TableMetadataValue:
    """The last MAX_TABLE_ROWS sessions: rounds and checks, whether the first attempt passed, failures met and
    fixes."""
    shown = sessions[-MAX_TABLE_ROWS:]
    which = f"the last {len(shown)} of {len(sessions)}; all are in journals/sessions.jsonl"
    columns = [
        dg.TableColumn("candidate", description=which if len(shown) < len(sessions) else None),
        dg.TableColumn("family"),
        dg.TableColumn("rounds", "int"),
        dg.TableColumn("checks", "int", description="the judge's verdicts: check_script calls and gates"),
        dg.TableColumn("first attempt"),
        dg.TableColumn("failures met", description="the checks that failed in any round or check_script call"),
        dg.TableColumn("fixes"),
        dg.TableColumn("outcome"),
    ]
    rows = [
        {
            "candidate": s.candidate,
            "family": s.family or "—",
            "rounds": len(s.rounds),
            "checks": len(s.checks),
            "first attempt": "passed" if s.first_attempt_passed else "failed",
            "failures met": ", ".join(sorted(_checks_failed(s))) or "—",
            "fixes": "; ".join(s.fixes) or "—",
            "outcome": s.outcome,
        }
        for s in shown
    ]
    return table(columns, rows)


@dg.asset(
    code_version=code_version(__name__, *AGENT_CODE),
    group_name="skills",
    kinds={"python"},
    description="Every generation session's journal.md, compressed to its intent, the failures met (check and "
    "message), what fixed them and the outcome. Empty or malformed journals are skipped with a warning.",
)
def agent_journals(context: dg.AssetExecutionContext) -> dg.Output[list[dict[str, Any]]]:
    sessions, skipped = collect_journals()
    for key, why in skipped.items():
        context.log.warning(f"journal of {key} skipped: {why}")
    rows = [s.model_dump() for s in sessions]
    out = benchgen_home() / "journals" / "sessions.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    first_attempts = [s.first_attempt_passed for s in sessions if s.rounds]
    return dg.Output(
        rows,
        data_version=text_version(json.dumps(rows, sort_keys=True)),
        metadata={
            "sessions": len(sessions),
            "dagster/row_count": len(sessions),
            "skipped": len(skipped),
            "warnings": dg.MetadataValue.md(
                "\n".join(f"- `{k}`: {_cell(v)}" for k, v in skipped.items()) or "none: every journal was read"
            ),
            "first_attempt_pass_rate": dg.MetadataValue.float(
                round(sum(first_attempts) / len(first_attempts), 3) if first_attempts else 0.0
            ),
            "with_fixes": sum(1 for s in sessions if s.fixes),
            "journals": journal_table(sessions),
            "path": dg.MetadataValue.path(str(out)),
        },
    )


_VERSION_COLUMNS = [
    dg.TableColumn("skill"),
    dg.TableColumn("version"),
    dg.TableColumn("evidence", description="the journals the current version was learned from"),
    dg.TableColumn("description"),
]


def _versions_table(store: SkillStore) -> dg.TableMetadataValue:
    rows = []
    for name, label in store.labels().items():
        versions = store.versions(name)
        rows.append(
            {
                "skill": name,
                "version": label,
                "evidence": ", ".join(versions[-1].evidence) if versions else "—",
                "description": versions[-1].description if versions else "",
            }
        )
    return table(_VERSION_COLUMNS, rows)


@dg.asset(
    code_version=code_version(__name__, *AGENT_CODE),
    group_name="skills",
    kinds={"python"},
    retry_policy=MODEL_RETRY,
    description="The learner agent reads the compressed journals and writes or updates SKILL.md files; each valid, "
    "changed skill is a new version (data version: the hash of every current skill). Invalid proposals are "
    "refused and the previous version stays.",
)
def learned_skills(
    context: dg.AssetExecutionContext, agent_journals: list[dict[str, Any]], agents: AgentsResource
) -> dg.Output[dict[str, str]]:
    store = skill_store()
    sessions = [SessionDigest.model_validate(row) for row in agent_journals]
    # Each run its own workspace: a weekly run and a sensor's run may overlap.
    workspace = benchgen_home() / "learner" / context.run.run_id
    from benchgen_dagster.agent.roles import RoleFailed
    from benchgen_dagster.defs.planning import AgentSessionError

    try:
        result = agents.learn(sessions, store.current_dir, workspace)
    except RoleFailed as error:  # after the model call's own retries: final, as in every model stage
        raise AgentSessionError(f"learned_skills: {error}") from error
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    proposals = [store.propose(name, text, source=agents.model) for name, text in sorted(result.proposals.items())]
    refused = {p.name: p.reason for p in proposals if p.status == "rejected"} | result.unreadable
    for name, why in refused.items():
        context.log.warning(f"proposed skill {name} refused, the previous version stays: {why}")
    labels = store.labels()
    current = {name: text_sha(store.current_text(name) or "") for name in labels}
    outcome = "\n".join(
        [
            f"- {p.name}: {p.status}" + (f" (v{p.version})" if p.version else "")
            for p in proposals
            if p.status != "rejected"
        ]
        + [f"- {name}: **refused**: {_cell(why)}" for name, why in refused.items()]
    )
    return dg.Output(
        labels,
        data_version=text_version(json.dumps(current, sort_keys=True)),
        metadata={
            "skills": len(labels),
            "published": sum(1 for p in proposals if p.status in ("new", "updated")),
            "refused": len(refused),
            "proposals": dg.MetadataValue.md(outcome or "the learner proposed nothing"),
            "versions": _versions_table(store),
            "learned_from": len(sessions),
            "learner_answer": dg.MetadataValue.text(result.answer[:500]),
            "tokens_in": result.usage.get("input_tokens", 0),
            "tokens_out": result.usage.get("output_tokens", 0),
            "learner_wall_s": dg.MetadataValue.float(round(result.wall_s, 2)),
        },
    )


def learning_due(instance: dg.DagsterInstance, after: int) -> tuple[bool, int, float]:
    """Whether `after` journals changed since the last learned_skills: (due, how many, since when)."""
    last = instance.get_latest_materialization_event(dg.AssetKey("learned_skills"))
    since = last.timestamp if last else 0.0
    fresh = len(journals_since(since))
    return fresh >= after, fresh, since


def build_skill_learning_sensor(after: int) -> dg.SensorDefinition:
    """Learn again once `after` journals have changed since the last `learned_skills`."""

    @dg.sensor(
        name="skill_learning_sensor",
        job_name=LEARN_JOB,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Runs the skill learner once {after} journals are new since the last learned_skills.",
    )
    def skill_learning_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        due, fresh, since = learning_due(context.instance, after)
        if not due:
            return dg.SkipReason(f"{fresh} new journal(s) since the last learning; the learner runs at {after}")
        # One run per learning: the key stays the same until that run has materialized learned_skills.
        return dg.RunRequest(run_key=f"learn-after-{since:.3f}", tags={"benchgen/new_journals": str(fresh)})

    return skill_learning_sensor


weekly_skill_learning = dg.ScheduleDefinition(
    name="weekly_skill_learning",
    cron_schedule="0 4 * * 1",
    job_name=LEARN_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every Monday at 04:00, the skill learner runs over every journal, however few are new.",
)
