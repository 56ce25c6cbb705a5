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
    # Per-call retries of the model before the session ends as failed.
    model_retries: int = Field(default=2, ge=0, le=10)
    tracing: TracingSettings | None = None
