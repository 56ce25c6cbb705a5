"""The skill learner: a deepagents agent that turns compressed journals into proposed SKILL.md files.

It runs apart from the generation sessions, so what it reads never enters their context: its
workspace holds `journals/sessions.jsonl` (one `SessionDigest` per line), the current skills in
`skills/` (read-only) and its proposals in `learned/<name>/SKILL.md`. It proposes; it does not publish:
the caller validates every proposal (`models.skills.parse_skill`) and keeps the previous version of a
skill whose proposal is invalid (`agent.skills.SkillStore`).
"""

import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from deepagents import create_deep_agent
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel

from benchgen_dagster.agent import prompts
from benchgen_dagster.agent.backend import SandboxFilesystemBackend, copy_skills
from benchgen_dagster.agent.configuration import RetrySettings, RoleBudgets
from benchgen_dagster.agent.model_calls import ModelCallMeter, model_call_middleware
from benchgen_dagster.agent.models import chat_model
from benchgen_dagster.agent.prompts import JOURNALS, JOURNALS_PATH, LEARNED, LEARNED_DIR
from benchgen_dagster.agent.roles import invoke_metered
from benchgen_dagster.models.settings import SandboxLimits
from benchgen_dagster.models.skills import MAX_SKILL_BYTES, SessionDigest
from benchgen_dagster.worker import safe_files


class LearnerResult(BaseModel):
    # Proposed SKILL.md text by folder name, or the reason it could not be read.
    proposals: dict[str, str]
    unreadable: dict[str, str]
    answer: str
    usage: dict[str, Any]
    wall_s: float


def run_learner(
    sessions: list[SessionDigest],
    skills_dir: Path | None,
    workspace: Path,
    model: str,
    home: Path,
    limits: SandboxLimits | None = None,
    chat: BaseChatModel | None = None,
    retries: int = 2,
    retry_delay_s: float = 1.0,
    budgets: RoleBudgets | None = None,
) -> LearnerResult:
    """Run the learner once over `sessions` in a fresh `workspace`; `chat` replaces the configured model.

    A model failure or a spent budget raises RoleFailed."""
    budgets = budgets or RoleBudgets()
    started = time.perf_counter()
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    for folder in ("journals", "skills", LEARNED):
        safe_files.make_dirs(workspace, folder)
    safe_files.write_text(workspace, JOURNALS, "".join(s.model_dump_json() + "\n" for s in sessions))
    copy_skills(skills_dir, workspace, "skills")
    backend = SandboxFilesystemBackend(
        workspace, home / "sessions" / f"learner-{uuid.uuid4().hex[:8]}" / "logs", limits or SandboxLimits()
    )
    budget = budgets.learner
    agent = create_deep_agent(
        model=chat or chat_model(model, "learner"),
        tools=[],
        system_prompt=prompts.LEARNER,
        backend=backend,
        middleware=model_call_middleware(budget, RetrySettings(retries=retries, initial_delay_s=retry_delay_s)),
        name="learner",
    )
    task = (
        f"{len(sessions)} sessions are in {JOURNALS_PATH}. Learn what they support and write the skills "
        f"to {LEARNED_DIR}/<name>/SKILL.md."
    )
    meter = ModelCallMeter(model)
    result = invoke_metered("learner", agent, task, {}, meter, budget)
    usage = meter.usage.model_dump()
    proposals, unreadable = read_proposals(workspace)
    return LearnerResult(
        proposals=proposals,
        unreadable=unreadable,
        answer=str(result["messages"][-1].content),
        usage=usage,
        wall_s=time.perf_counter() - started,
    )


def read_proposals(workspace: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The learner's SKILL.md files, read as untrusted (no links, bounded, UTF-8), and the reasons for any not read."""
    proposals: dict[str, str] = {}
    unreadable: dict[str, str] = {}
    learned = LEARNED
    for name in safe_files.list_dirs(workspace, learned):
        if not safe_files.is_file(workspace, f"{learned}/{name}/SKILL.md"):
            continue
        try:
            proposals[name] = safe_files.read_text(workspace, f"{learned}/{name}/SKILL.md", MAX_SKILL_BYTES + 1)
        except safe_files.UnsafeFileError as error:
            unreadable[name] = str(error)
    return proposals, unreadable
