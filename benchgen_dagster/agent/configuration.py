"""Session configuration: one pydantic model, with the environment's `BENCHGEN_MODEL` as the model default."""

import os
from pathlib import Path

from pydantic import BaseModel, Field

from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.versions import judge_version

OFFLINE_MODEL = "offline"
MAX_PROMPT_CHARS = 4000
# Beside trusted renders (SessionConfig.renders_dir): the script they show and the judge that made them.
RENDERED_SCRIPT = "script_sha256"


def rendered_marker(script_sha256: str) -> str:
    """What trusted renders are labelled with: the script's sha256 and the judge's version."""
    return f"{script_sha256} {judge_version()}"


def default_model() -> str:
    return os.environ.get("BENCHGEN_MODEL") or OFFLINE_MODEL


class CallBudget(BaseModel):
    """How many tool calls and model calls one turn of a role may make."""

    tool_calls: int = Field(ge=1, le=2000)
    model_calls: int = Field(ge=1, le=2000)

    def recursion_limit(self) -> int:
        # Each model call and each tool call is a graph step, and deepagents adds a few of its own per
        # call (middleware hooks): a limit that the budgets, not LangGraph, always reach first.
        return 4 * (self.tool_calls + self.model_calls) + 50


class RoleBudgets(BaseModel):
    """Budgets sized for a real model that explores: reading docs and skills, self-checking, fixing.

    The offline policy needs 4–12 tool calls a turn (its engineer, up to 4 per design it tries)."""

    planner: CallBudget = CallBudget(tool_calls=40, model_calls=40)
    coder: CallBudget = CallBudget(tool_calls=150, model_calls=150)
    reviewer: CallBudget = CallBudget(tool_calls=40, model_calls=40)
    learner: CallBudget = CallBudget(tool_calls=120, model_calls=120)
    engineer: CallBudget = CallBudget(tool_calls=120, model_calls=120)

    def of(self, role: str) -> CallBudget:
        budget: CallBudget = getattr(self, role)
        return budget


class RetrySettings(BaseModel):
    """Retries of one model call with exponential backoff and jitter, transient errors only."""

    retries: int = Field(default=2, ge=0, le=10)
    initial_delay_s: float = Field(default=1.0, ge=0.0, le=60.0)
    max_delay_s: float = Field(default=30.0, ge=0.0, le=600.0)


class TracingSettings(BaseModel):
    """Where a session's trace goes (Langfuse); off unless both keys are given."""

    public_key: str = ""
    secret_key: str = ""
    base_url: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.public_key and self.secret_key)


class SessionConfig(BaseModel):
    prompt: str
    workspace: Path
    model: str = Field(default_factory=default_model)
    plan_file: Path | None = None
    # Folder of skills (<name>/SKILL.md with name/description front matter) offered to the coder.
    skills_dir: Path | None = None
    feedback: str = ""
    max_rounds: int = Field(default=3, ge=1, le=10)
    # Seeds of the worker's check that gates the coder's script before review.
    check_seeds: int = Field(default=8, ge=2, le=64)
    render_size: tuple[int, int] = (320, 240)
    # Where the worker's renders of the checked script are kept, out of the agents' reach (their
    # programs can write the workspace); copied into the workspace's renders/ for them. A file
    # `script_sha256` beside them names the script they show.
    renders_dir: Path | None = None
    settings: CheckSettings = CheckSettings()
    # Retries of one model call (transient errors only) before the session ends as failed.
    model_retries: int = Field(default=2, ge=0, le=10)
    retry_delay_s: float = Field(default=1.0, ge=0.0, le=60.0)
    # Tool and model calls one turn of each role may make.
    budgets: RoleBudgets = RoleBudgets()
    tracing: TracingSettings | None = None

    @property
    def retry(self) -> RetrySettings:
        return RetrySettings(retries=self.model_retries, initial_delay_s=self.retry_delay_s)
