"""The pipeline's records: a request, its candidates, and the promoted dataset's index.

Requests and candidates are pydantic models; the registry tables are SQLAlchemy Core, so the same
code runs on the embedded SQLite file under BENCHGEN_HOME and on PostgreSQL in production.
"""

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_COUNT = 100
CURATOR_PREFIX = "curator: "
MAX_PROMPT_CHARS = 4000
# A candidate's assets in the generate job, in order: the stage it records when each one starts.
CANDIDATE_STAGES = (
    "benchmark_request",
    "benchmark_plan",
    "cad_script",
    "compiled_scenes",
    "simulation_report",
    "benchmark_review",
    "promoted_benchmark",
)


class CandidateStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    # A review rejected the script with rounds left: the coder's next round is due (defs/review.py).
    REVISING = "revising"
    AWAITING_APPROVAL = "awaiting_approval"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    FAILED = "failed"


class BenchmarkRequest(BaseModel):
    """What a curator asks for: a request file in BENCHGEN_HOME/requests/, a schedule entry, or the CLI."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    tier: int | None = Field(default=None, ge=1, le=2)
    model: str | None = Field(default=None, max_length=200)
    # Extra constraints handed to the agents with the prompt (e.g. max_unit_cost: 20).
    constraints: dict[str, float | int | str] = Field(default_factory=dict)
    require_approval: bool = False
    # Coder rounds before a rejection is final (a failed check or a rejected review each cost one);
    # unset: the agents' default (AgentsResource.max_rounds).
    max_rounds: int | None = Field(default=None, ge=1, le=10)

    @field_validator("prompt")
    @classmethod
    def _has_words(cls, prompt: str) -> str:
        if not any(c.isalpha() for c in prompt):
            raise ValueError("the prompt has no words in it")
        return prompt.strip()

    def agent_prompt(self, variant: int) -> str:
        """The prompt the agents get for one candidate of this request."""
        text = self.prompt
        if self.tier is not None and not re.search(r"\btier\b", text, re.I):
            text += f" (tier {self.tier})"
        if self.constraints:
            text += ". Constraints: " + ", ".join(f"{k} {v}" for k, v in sorted(self.constraints.items()))
        if self.count > 1:
            text += f". Candidate {variant} of {self.count}."
        return text


class Candidate(BaseModel):
    """One benchmark candidate: one dynamic partition of the pipeline."""

    key: str
    request_id: str
    variant: int
    request: BenchmarkRequest
    model: str
    status: CandidateStatus = CandidateStatus.QUEUED
    stage: str = ""
    reason: str = ""
    benchmark_id: str | None = None
    approved: bool = False
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def rejected_by_curator(self) -> bool:
        """A curator's `benchgen reject` stands: no pipeline run reopens the candidate."""
        return self.status == CandidateStatus.REJECTED and self.reason.startswith(CURATOR_PREFIX)


metadata = sa.MetaData()

candidates_table = sa.Table(
    "benchgen_candidates",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("variant", sa.Integer, nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("stage", sa.String(64), nullable=False, default=""),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("benchmark_id", sa.String(120), nullable=True),
    sa.Column("approved", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# The dataset's index, mirrored here when a database is configured (the parquet file is the default).
dataset_table = sa.Table(
    "benchgen_dataset",
    metadata,
    sa.Column("benchmark_id", sa.String(120), primary_key=True),
    sa.Column("candidate", sa.String(80), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("tier", sa.Integer, nullable=True),
    sa.Column("family", sa.String(200), nullable=True),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("script_sha256", sa.String(64), nullable=False),
    sa.Column("seeds", sa.Integer, nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    # The per-seed mesh digests: a candidate sharing any of them duplicates this benchmark.
    sa.Column("mesh_digests", sa.JSON, nullable=False),
    # models.difficulty's score (0 easiest – 100 hardest) and "proven" or "unproven".
    sa.Column("difficulty", sa.Float, nullable=True),
    sa.Column("solvability", sa.String(16), nullable=True),
    # models.calibration's empirical difficulty, from the solvers evaluated on it; NULL until one has been.
    sa.Column("empirical_difficulty", sa.Float, nullable=True),
    # The trusted judge's version that judged this benchmark; NULL: never judged by it (made before it).
    sa.Column("judge", sa.String(40), nullable=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=False),
)


def candidate_row(candidate: Candidate) -> dict[str, Any]:
    row = candidate.model_dump(mode="json")
    row["created_at"], row["updated_at"] = candidate.created_at, candidate.updated_at
    return row


def candidate_from_row(row: Any) -> Candidate:
    values = dict(row._mapping)
    # SQLite hands datetimes back without their zone; PostgreSQL keeps it. Both were written in UTC.
    for name in ("created_at", "updated_at"):
        if values[name] is not None and values[name].tzinfo is None:
            values[name] = values[name].replace(tzinfo=UTC)
    return Candidate.model_validate(values)
