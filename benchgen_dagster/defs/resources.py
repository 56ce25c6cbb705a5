"""The pipeline's resources: the agents (model), the sandboxed worker, tracing and the registry database
(the artifact store is in defs/artifacts.py). Each is a Dagster ConfigurableResource; `definitions.py`
picks the set for the environment and passes secrets in as EnvVar."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
import yaml

from benchgen_dagster.defs.registry_db import (
    advisory_lock,
    engine_for,
    file_lock,
    transaction,
)
from benchgen_dagster.models.registry import (
    CURATOR_PREFIX,
    Candidate,
    CandidateStatus,
    candidate_from_row,
    candidate_row,
    candidates_table,
    dataset_table,
)
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.paths import benchgen_home


class TracingResource(dg.ConfigurableResource):
    """Langfuse tracing of the agent sessions, when keys are configured; nothing is sent otherwise."""

    public_key: str = ""
    secret_key: str = ""
    base_url: str = ""

    def settings(self) -> Any:
        """What a session needs to trace itself (the agent layer's TracingSettings)."""
        from benchgen_dagster.agent.configuration import TracingSettings

        return TracingSettings(public_key=self.public_key, secret_key=self.secret_key, base_url=self.base_url)


class AgentsResource(dg.ConfigurableResource):
    """The agent graph's roles and the model behind them (`offline` or a LangChain `provider:model`)."""

    model: str = "offline"
    max_rounds: int = 3
    check_seeds: int = 8
    # Retries of one model call, transient errors only (agent/model_calls.py); a model failure after them
    # fails the stage for good, and Dagster's RetryPolicy only reruns a step that crashed.
    model_retries: int = 2
    retry_delay_s: float = 1.0
    tracing: TracingResource | None = None

    def run(
        self,
        roles: tuple[str, ...],
        prompt: str,
        workspace: Path,
        model: str | None = None,
        feedback: str = "",
        skills_dir: Path | None = None,
        start_round: int = 0,
        max_rounds: int | None = None,
        renders_dir: Path | None = None,
        shared_verdicts: Any = None,
    ) -> Any:
        """Run `roles` of one generation session in `workspace`, from `start_round` up to `max_rounds`
        (this resource's when unset); returns the agent's SessionResult. Its checks reuse and share
        verdicts through `shared_verdicts` (the artifact store's `shared_entries()`)."""
        from benchgen_dagster.agent.configuration import SessionConfig
        from benchgen_dagster.agent.session import run_session

        config = SessionConfig(
            prompt=prompt,
            workspace=workspace,
            model=model or self.model,
            feedback=feedback,
            skills_dir=skills_dir,
            max_rounds=max_rounds or self.max_rounds,
            check_seeds=self.check_seeds,
            model_retries=self.model_retries,
            retry_delay_s=self.retry_delay_s,
            renders_dir=renders_dir,
            tracing=self.tracing.settings() if self.tracing else None,
        )
        from benchgen_dagster.agent.models import ModelConfigError

        try:
            return run_session(
                config, home=benchgen_home(), roles=roles, start_round=start_round, shared_verdicts=shared_verdicts
            )
        except ModelConfigError as error:  # a model string that cannot work: no retry will make it work
            raise dg.Failure(f"the model cannot be used: {error}", allow_retries=False) from None

    def engineer(
        self,
        tasks: dict[int, Any],
        views: list[Path],
        judge: Any,
        workspace: Path,
        *,
        benchmark_id: str,
        seeds: list[int],
        model: str,
        attempts: int,
        settings: Any,
    ) -> Any:
        """Let the engineer agent solve one benchmark (`agent.engineer.run_engineer`) with `model` and this
        resource's retries and tracing; returns its EngineerRun."""
        from benchgen_dagster.agent.configuration import SessionConfig
        from benchgen_dagster.agent.engineer import run_engineer
        from benchgen_dagster.agent.models import ModelConfigError

        config = SessionConfig(
            prompt=f"solve the benchmark {benchmark_id}",
            workspace=workspace,
            model=model or self.model,
            settings=settings,
            model_retries=self.model_retries,
            retry_delay_s=self.retry_delay_s,
            tracing=self.tracing.settings() if self.tracing else None,
        )
        try:
            return run_engineer(
                tasks,
                views,
                judge,
                config,
                benchmark_id=benchmark_id,
                seeds=seeds,
                home=benchgen_home(),
                attempts=attempts,
            )
        except ModelConfigError as error:
            raise dg.Failure(f"the model cannot be used: {error}", allow_retries=False) from None

    def max_rounds_for(self, benchmark_request: dict[str, Any]) -> int:
        """A candidate's round cap: its request's `max_rounds` (`generate --max-rounds`), else this resource's."""
        return int((benchmark_request.get("request") or {}).get("max_rounds") or self.max_rounds)

    def learn(self, sessions: list[Any], skills_dir: Path, workspace: Path) -> Any:
        """Run the skill learner over compressed journals; returns its LearnerResult (proposals, not yet published)."""
        from benchgen_dagster.agent.learner import run_learner

        return run_learner(
            sessions,
            skills_dir,
            workspace,
            self.model,
            benchgen_home(),
            retries=self.model_retries,
            retry_delay_s=self.retry_delay_s,
        )


class SandboxResource(dg.ConfigurableResource):
    """The worker's sandboxed checker: the seeds every candidate is checked on and the check settings."""

    seeds: int = 8
    # A YAML file of CheckSettings overrides (the same file `benchgen check --settings` takes).
    settings_file: str = ""
    # The simulation gate's policy: promote only benchmarks whose reference solution solves every seed.
    # Off, a benchmark without a working solution is promoted and its manifest says "unproven".
    require_solvable: bool = True

    def check_settings(self) -> CheckSettings:
        if not self.settings_file:
            return CheckSettings()
        return CheckSettings.model_validate(yaml.safe_load(Path(self.settings_file).read_text()) or {})

    def checker(self, shared: Any = None) -> Any:
        """The checker, reusing and sharing verdicts through `shared` (the artifact store's `shared_entries()`)."""
        from benchgen_dagster.worker.check import Checker

        return Checker(self.check_settings(), home=benchgen_home(), shared=shared)

    def prewarm(self) -> None:
        """Start the warm sandboxes in the background, for the checks to come."""
        from benchgen_dagster.worker.warm import prewarm_for

        prewarm_for(benchgen_home(), self.check_settings().sandbox)


def _advance_in(db: sa.Connection, key: str, stage: str, fields: dict[str, Any]) -> bool:
    """Set a candidate's stage and fields unless a curator rejected it, in one statement; False if not."""
    values = {k: (v.value if isinstance(v, CandidateStatus) else v) for k, v in fields.items()}
    columns = candidates_table.c
    rejected_by_curator = sa.and_(
        columns.status == CandidateStatus.REJECTED.value, columns.reason.startswith(CURATOR_PREFIX, autoescape=True)
    )
    moved = db.execute(
        candidates_table.update()
        .where(columns.key == key, sa.not_(rejected_by_curator))
        .values(**values, stage=stage, updated_at=datetime.now(UTC))
    )
    return bool(moved.rowcount == 1)


class CandidateClosedError(RuntimeError):
    """A step tried to move a candidate a curator (or promotion) has already closed."""


def _closed(db: sa.Connection, key: str) -> CandidateClosedError:
    row = db.execute(candidates_table.select().where(candidates_table.c.key == key)).first()
    if row is None:
        return CandidateClosedError(f"candidate {key} is not in the registry")
    return CandidateClosedError(f"candidate {key} was rejected by a curator ({row.reason})")


# The lock every change to the dataset takes (promotion, a curator's reject, the audit's quarantine): the
# duplicate check and the write it guards are one step, and a reject cannot interleave with a promotion.
DATASET_LOCK = "dataset"
LOCK_TIMEOUT_S = 600.0


class RegistryResource(dg.ConfigurableResource):
    """The candidates and the dataset index: SQLite under BENCHGEN_HOME by default, PostgreSQL by URL."""

    url: str = ""

    @property
    def database_url(self) -> str:
        return self.url or f"sqlite:///{benchgen_home() / 'registry.db'}"

    @property
    def engine(self) -> sa.Engine:
        return engine_for(self.database_url)

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        with transaction(self.engine) as connection:
            yield connection

    def add(self, candidates: list[Candidate]) -> None:
        with self._begin() as db:
            for candidate in candidates:
                db.execute(candidates_table.insert().values(**candidate_row(candidate)))

    def get(self, key: str) -> Candidate | None:
        with self._begin() as db:
            row = db.execute(candidates_table.select().where(candidates_table.c.key == key)).first()
        return candidate_from_row(row) if row else None

    def find(self, identifier: str) -> Candidate | None:
        """A candidate by partition key, or the latest candidate that became the benchmark `identifier`."""
        with self._begin() as db:
            row = db.execute(candidates_table.select().where(candidates_table.c.key == identifier)).first()
            row = (
                row
                or db.execute(
                    candidates_table.select()
                    .where(candidates_table.c.benchmark_id == identifier)
                    .order_by(candidates_table.c.updated_at.desc())
                ).first()
            )
        return candidate_from_row(row) if row else None

    def all(self, request_id: str | None = None) -> list[Candidate]:
        query = candidates_table.select().order_by(candidates_table.c.created_at, candidates_table.c.key)
        if request_id:
            query = query.where(candidates_table.c.request_id == request_id)
        with self._begin() as db:
            return [candidate_from_row(row) for row in db.execute(query)]

    def in_status(self, status: CandidateStatus) -> list[Candidate]:
        query = candidates_table.select().where(candidates_table.c.status == status.value)
        with self._begin() as db:
            return [candidate_from_row(row) for row in db.execute(query.order_by(candidates_table.c.key))]

    def claim(self, key: str, expected: CandidateStatus, status: CandidateStatus, **fields: Any) -> bool:
        """Move a candidate from `expected` to `status` (and set `fields`) in one statement; False when it
        was not in `expected` (another process claimed it first, or a curator closed it)."""
        with self._begin() as db:
            moved = db.execute(
                candidates_table.update()
                .where(candidates_table.c.key == key, candidates_table.c.status == expected.value)
                .values(**fields, status=status.value, updated_at=datetime.now(UTC))
            )
        return bool(moved.rowcount == 1)

    def update(self, key: str, **fields: Any) -> None:
        """Set fields of a candidate as they are (a curator's commands use this)."""
        values = {k: (v.value if isinstance(v, CandidateStatus) else v) for k, v in fields.items()}
        with self._begin() as db:
            db.execute(
                candidates_table.update()
                .where(candidates_table.c.key == key)
                .values(**values, updated_at=datetime.now(UTC))
            )

    def advance(self, key: str, stage: str, status: CandidateStatus | None = None, **fields: Any) -> None:
        """What a pipeline step records: its stage, and a new status.

        Raises CandidateClosedError when a curator rejected the candidate, so a queued or automated run
        cannot undo that decision (a candidate the pipeline itself rejected may run again). The test and
        the write are one statement: a reject that lands first is never overwritten."""
        if status is not None:
            fields["status"] = status
        with self._begin() as db:
            if not _advance_in(db, key, stage, fields):
                raise _closed(db, key)

    @contextmanager
    def locked(self, name: str, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """An exclusive lock named `name`, shared by every process that uses this registry: a PostgreSQL
        advisory lock (so every host that reaches the database takes turns), or a file lock beside an
        SQLite registry, which lives on one host. The lock is held by a connection (or open file) of its
        own, so a process that dies holding it lets it go. Raises RegistryLockTimeout after `timeout_s`;
        a write under a PostgreSQL lock that the server dropped raises RegistryLockLost (registry_db.py)."""
        engine = self.engine
        held = advisory_lock if engine.dialect.name == "postgresql" else file_lock
        with held(engine, name, timeout_s):
            yield

    # The dataset index ------------------------------------------------------------------------------

    def dataset_rows(self) -> list[dict[str, Any]]:
        with self._begin() as db:
            query = dataset_table.select().order_by(dataset_table.c.promoted_at)
            return [dict(row._mapping) for row in db.execute(query)]

    def set_empirical_difficulty(self, scores: dict[str, float | None]) -> int:
        """Each benchmark's empirical difficulty (by id; None clears it); returns how many rows it changed."""
        changed = 0
        with self._begin() as db:
            for benchmark_id, score in sorted(scores.items()):
                query = dataset_table.update().where(dataset_table.c.benchmark_id == benchmark_id)
                changed += db.execute(query.values(empirical_difficulty=score)).rowcount
        return changed

    def duplicate_of(self, digests: dict[str, str], candidate: str, script_sha256: str = "") -> str | None:
        """The promoted benchmark (of another candidate) this one repeats, if any: the same script, or a seed
        whose built scene (the builder's output digest) is the same."""
        mine = set(digests.values())
        for row in self.dataset_rows():
            if row["candidate"] == candidate:
                continue
            if (script_sha256 and row["script_sha256"] == script_sha256) or mine & set(
                (row["mesh_digests"] or {}).values()
            ):
                return str(row["benchmark_id"])
        return None

    def put_benchmark(self, row: dict[str, Any], promoted: tuple[str, str] | None = None) -> None:
        """Index a benchmark (replacing its row); with `promoted` (candidate, stage), that candidate becomes
        PROMOTED in the same transaction, or neither happens (CandidateClosedError: a curator rejected it)."""
        with self._begin() as db:
            if promoted is not None:
                key, stage = promoted
                fields = {"status": CandidateStatus.PROMOTED, "benchmark_id": row["benchmark_id"], "reason": ""}
                if not _advance_in(db, key, stage, fields):
                    raise _closed(db, key)  # and the transaction is rolled back
            db.execute(dataset_table.delete().where(dataset_table.c.benchmark_id == row["benchmark_id"]))
            db.execute(dataset_table.insert().values(**row))

    def update_benchmark(self, benchmark_id: str, **fields: Any) -> None:
        with self._begin() as db:
            db.execute(dataset_table.update().where(dataset_table.c.benchmark_id == benchmark_id).values(**fields))

    def remove_benchmark(self, benchmark_id: str) -> None:
        with self._begin() as db:
            db.execute(dataset_table.delete().where(dataset_table.c.benchmark_id == benchmark_id))
