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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from benchgen_dagster.agent.skills import SkillStore, text_sha
from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import (
    AGENT_CODE,
    JOURNAL_FILES,
    MAX_WORKSPACE_TEXT,
    MODEL_RETRY,
    WORK,
    code_version,
    text_version,
)
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource
from benchgen_dagster.models.skills import SessionDigest
from benchgen_dagster.paths import benchgen_home

LEARN_JOB = "learn_skills"
MAX_TABLE_ROWS = 50


# The registry lock every host's learner takes to publish skills.
SKILLS_LOCK = "skills"


def _pull_skills(store: SkillStore, artifacts: ArtifactStoreResource) -> None:
    artifacts.pull(f"{WORK}/skills", store.current_dir)
    artifacts.pull(f"{WORK}/skill_history", store.history_dir)


@contextmanager
def _shared_writer(store: SkillStore, registry: RegistryResource, artifacts: ArtifactStoreResource) -> Iterator[None]:
    """One writer at a time across every host: the registry's lock (a PostgreSQL advisory lock in
    production), with the skills pulled fresh inside it and pushed before it is let go."""
    with registry.locked(SKILLS_LOCK):
        _pull_skills(store, artifacts)
        yield
        # The history first: a reader that sees a new SKILL.md finds its version recorded.
        artifacts.push(store.history_dir, f"{WORK}/skill_history")
        artifacts.push(store.current_dir, f"{WORK}/skills")


def skill_store(registry: RegistryResource, artifacts: ArtifactStoreResource) -> SkillStore:
    """The skills as every host sees them: pulled from the artifact store (with a bucket), and published
    under a lock the hosts share."""
    store = SkillStore(benchgen_home(), lock=lambda: _shared_writer(store, registry, artifacts))
    if artifacts.remote:
        # Under the lock: a writer on this host is never pulled over (its unpushed version undone).
        with registry.locked(SKILLS_LOCK):
            _pull_skills(store, artifacts)
    return store


def journal_paths() -> dict[str, Path]:
    """The folder holding each candidate's journal.md (and plan.md), by candidate id: the copies the
    stages hand on (`candidate_handoff`), else the candidate's workspace itself."""
    home = benchgen_home()
    found = {p.parent.parent.name: p.parent for p in sorted(home.glob("candidates/*/workspace/journal.md"))}
    found |= {p.parent.name: p.parent for p in sorted(home.glob("journals/candidates/*/journal.md"))}
    return dict(sorted(found.items()))


def pull_journals(artifacts: ArtifactStoreResource) -> None:
    """Each host's stages hand their candidates' journals on to the artifact store (with a bucket): all
    of them, here."""
    artifacts.pull(f"{WORK}/journals", benchgen_home() / "journals" / "candidates")


def journals_since(timestamp: float) -> list[str]:
    """The candidates whose journal changed after `timestamp` (a POSIX time)."""
    fresh = []
    for key, folder in journal_paths().items():
        try:
            if (folder / JOURNAL_FILES[0]).lstat().st_mtime > timestamp:
                fresh.append(key)
        except OSError:
            continue
    return fresh


def collect_journals() -> tuple[list[SessionDigest], dict[str, str]]:
    """Every journal compressed, and why each one that could not be was skipped."""
    from benchgen_dagster.agent.journals import JournalError, compress
    from benchgen_dagster.worker import safe_files

    sessions: list[SessionDigest] = []
    skipped: dict[str, str] = {}
    for key, folder in journal_paths().items():
        # What the agents wrote, read as untrusted (no link followed, bounded) wherever it lies.
        try:
            journal = safe_files.read_text(folder, JOURNAL_FILES[0], MAX_WORKSPACE_TEXT)
        except safe_files.UnsafeFileError as error:
            skipped[key] = str(error)
            continue
        try:
            plan = safe_files.read_text(folder, JOURNAL_FILES[1], MAX_WORKSPACE_TEXT)
        except safe_files.UnsafeFileError:
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
def agent_journals(
    context: dg.AssetExecutionContext, artifacts: ArtifactStoreResource
) -> dg.Output[list[dict[str, Any]]]:
    pull_journals(artifacts)
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
    context: dg.AssetExecutionContext,
    agent_journals: list[dict[str, Any]],
    agents: AgentsResource,
    registry: RegistryResource,
    artifacts: ArtifactStoreResource,
) -> dg.Output[dict[str, str]]:
    store = skill_store(registry, artifacts)
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
    def skill_learning_sensor(
        context: dg.SensorEvaluationContext, artifacts: ArtifactStoreResource
    ) -> dg.RunRequest | dg.SkipReason:
        pull_journals(artifacts)  # the daemon's host sees the journals every worker handed on
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
