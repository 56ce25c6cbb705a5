"""One generation session, start to finish: check the inputs, run the graph, sum up what it cost."""

import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from benchgen_dagster.agent.backend import SandboxFilesystemBackend, prepare_workspace
from benchgen_dagster.agent.configuration import MAX_PROMPT_CHARS, SessionConfig
from benchgen_dagster.agent.graph import build_graph
from benchgen_dagster.agent.model_calls import usage_total
from benchgen_dagster.agent.models import chat_model
from benchgen_dagster.agent.state import ROLES
from benchgen_dagster.agent.tools import SessionContext
from benchgen_dagster.agent.tracing import tracing_callbacks
from benchgen_dagster.library import catalogue, layout_scales
from benchgen_dagster.models.plans import PlanError, read_plan
from benchgen_dagster.paths import benchgen_home
from benchgen_dagster.worker.verdicts import SharedEntries


class SessionInputError(ValueError):
    """The request cannot start a session; the message says why, in one line."""


class SessionResult(BaseModel):
    session_id: str
    decision: str
    reason: str
    # Failed because a role's model failed (after its retries) or ran out of its budget.
    model_failed: bool = False
    rounds: int
    checks_passed: bool
    failed_checks: list[str]
    # Per role: agent.model_calls.RoleUsage (tokens, model calls, cost, model seconds).
    usage: dict[str, dict[str, Any]]
    # From the price table, per call; None when the table does not know the model ("unknown").
    estimated_cost_usd: float | None
    wall_s: float
    # Of wall_s: waiting for the model, and running the sandbox (the judge's checks and renders, execute).
    model_s: float = 0.0
    sandbox_s: float = 0.0
    workspace: str
    # The skills the coder opened (SKILL.md read with read_file) in this session.
    skills_read: list[str] = []


MAX_JOURNAL_BYTES = 1024 * 1024


def earlier_journal(workspace: Path) -> list[str]:
    """The entries of the workspace's journal.md, read as untrusted (no links, bounded); [] when unusable."""
    from benchgen_dagster.worker import safe_files

    try:
        text = safe_files.read_text(workspace, "journal.md", MAX_JOURNAL_BYTES)
    except safe_files.UnsafeFileError:
        return []
    return [f"## {entry.strip()}\n" for entry in text.split("\n## ")[1:] if entry.strip()]


def validate_inputs(config: SessionConfig) -> None:
    prompt = config.prompt.strip()
    if not prompt:
        raise SessionInputError("the prompt is empty: say what benchmark you want")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise SessionInputError(f"the prompt is {len(prompt)} characters; keep it under {MAX_PROMPT_CHARS}")
    if not any(c.isalpha() for c in prompt):
        raise SessionInputError("the prompt has no words in it")
    if config.skills_dir is not None and not config.skills_dir.is_dir():
        raise SessionInputError(f"skills folder not found: {config.skills_dir}")
    if config.plan_file is not None:
        try:
            read_plan(config.plan_file.read_text(), catalogue(), layout_scales())
        except (OSError, UnicodeDecodeError) as error:
            raise SessionInputError(f"cannot read the plan file {config.plan_file}: {error}") from None
        except PlanError as error:
            raise SessionInputError(f"the plan file {config.plan_file}: {error}") from None


def estimated_cost(usage: dict[str, dict[str, Any]]) -> float | None:
    """The session's cost over its roles; unknown (None) if any role's is."""
    cost = usage_total(list(usage.values()))["cost_usd"]
    return None if cost is None else round(cost, 6)


def run_session(
    config: SessionConfig,
    models: dict[str, Any] | None = None,
    home: Path | None = None,
    roles: tuple[str, ...] = ROLES,
    start_round: int = 0,
    shared_verdicts: SharedEntries | None = None,
) -> SessionResult:
    """Run planner → coder → reviewer in `config.workspace`. Bad input raises SessionInputError before any work;
    `models` replaces the configured model per role (tests drive the graph with scripted models this way).

    `roles` runs only those roles, in order, on a workspace the earlier roles left (the pipeline runs one
    per asset); the session then ends "handed_off" where the next role would start. The session's checks
    reuse and share the judge's verdicts through `shared_verdicts`, the store the hosts share."""
    validate_inputs(config)
    if not roles or any(role not in ROLES for role in roles):
        raise SessionInputError(f"roles must be some of {', '.join(ROLES)}, got {roles!r}")
    chosen = models or {role: chat_model(config.model, role) for role in ROLES}
    started = time.perf_counter()
    home = home or benchgen_home()
    session_id = uuid.uuid4().hex[:12]
    workspace = config.workspace.resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    prepare_workspace(workspace, config.skills_dir)
    context = SessionContext(config=config, workspace=workspace, home=home, roles=roles, shared=shared_verdicts)
    if roles[0] != "planner":
        # A session that continues the earlier roles' work (the pipeline runs one role per asset) keeps
        # their journal: it is one story, and what the skill learner reads.
        context.journal = earlier_journal(workspace)
    backend = SandboxFilesystemBackend(workspace, home / "sessions" / session_id / "logs", config.settings.sandbox)
    graph = build_graph(chosen, context, backend)
    callbacks, flush = tracing_callbacks(session_id, config)
    final = graph.invoke(
        {
            "prompt": config.prompt.strip(),
            "feedback": config.feedback,
            "max_rounds": config.max_rounds,
            "round": start_round or (0 if roles[0] == "planner" else 1),
        },
        config={
            "callbacks": callbacks,
            "run_name": "benchgen-session",
            # Graph steps (role turns); each role's agent has its own limit, from its budget.
            "recursion_limit": 100,
            "metadata": {"langfuse_session_id": session_id, "benchmark_id": session_id},
        },
    )
    flush()
    summary = context.last_summary or {}
    usage = final.get("usage", {})
    decision = final.get("decision", "failed")
    reason = final.get("reason", "")
    context.note("session", "finish", f"{decision}: {reason}", f"{final.get('round', 0)} round(s)")
    return SessionResult(
        session_id=session_id,
        decision=decision,
        reason=reason,
        model_failed=bool(final.get("model_failed")),
        rounds=final.get("round", 0),
        checks_passed=bool(summary.get("passed")),
        failed_checks=list(summary.get("failed_checks", [])),
        usage=usage,
        estimated_cost_usd=estimated_cost(usage),
        wall_s=time.perf_counter() - started,
        model_s=round(sum(u.get("model_s", 0.0) for u in usage.values()), 3),
        sandbox_s=round(context.sandbox_s + backend.sandbox_s, 3),
        workspace=str(workspace),
        skills_read=sorted(context.skills_read),
    )
