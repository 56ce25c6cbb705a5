"""The pipeline's resources: the agents (model), the sandboxed worker, the artifact store, tracing and
the registry database. Each is a Dagster ConfigurableResource; `definitions.py` picks the set for the
environment and passes secrets in as EnvVar."""

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
import yaml

from benchgen_dagster.migrations import migrate
from benchgen_dagster.models.registry import (
    Candidate,
    CandidateStatus,
    candidate_from_row,
    candidate_row,
    candidates_table,
    dataset_table,
)
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.paths import MANIFEST, benchgen_home


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
    ) -> Any:
        """Run `roles` of one generation session in `workspace`, from `start_round` up to `max_rounds`
        (this resource's when unset); returns the agent's SessionResult."""
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
            return run_session(config, home=benchgen_home(), roles=roles, start_round=start_round)
        except ModelConfigError as error:  # a model string that cannot work: no retry will make it work
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

    def checker(self) -> Any:
        from benchgen_dagster.worker.check import Checker

        return Checker(self.check_settings(), home=benchgen_home())

    def prewarm(self) -> None:
        """Start the warm sandboxes in the background, for the checks to come."""
        from benchgen_dagster.worker.warm import prewarm_for

        prewarm_for(benchgen_home(), self.check_settings().sandbox)


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where renders and promoted benchmarks are published: local folders by default, S3 when a bucket is set.

    The dataset is always written under BENCHGEN_HOME first (atomically); with a bucket it is then uploaded,
    and the URLs in the manifest point there."""

    bucket: str = ""
    prefix: str = "benchgen"
    endpoint_url: str = ""
    region_name: str = "us-east-1"  # AWS_REGION / AWS_DEFAULT_REGION when set (definitions.py)
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""

    @property
    def remote(self) -> bool:
        return bool(self.bucket)

    def _client(self) -> Any:
        from dagster_aws.s3 import S3Resource

        return S3Resource(
            endpoint_url=self.endpoint_url or None,
            region_name=self.region_name,
            aws_access_key_id=self.aws_access_key_id or None,
            aws_secret_access_key=self.aws_secret_access_key or None,
        ).get_client()

    def check_reachable(self) -> None:
        """Raise with one line when a configured bucket cannot be used."""
        if not self.remote:
            return
        try:
            self._client().head_bucket(Bucket=self.bucket)
        except Exception as error:
            raise ConnectionError(f"the artifact bucket s3://{self.bucket} cannot be reached: {error}") from None

    def _keys(self, client: Any, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def _delete(self, client: Any, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # the S3 API's batch limit
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def publish(self, folder: Path, name: str, complete_marker: str = MANIFEST) -> str:
        """Publish `folder` as `name`; returns where it can be found (a local path or an s3:// URL).

        In the bucket, `complete_marker` (the manifest) is uploaded last, so a reader that sees it sees
        the whole benchmark; keys of an earlier version that this one no longer has are removed."""
        if not self.remote:
            return str(folder)
        client = self._client()
        prefix = f"{self.prefix}/{name}/"
        files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.name == complete_marker)
        uploaded = set()
        for path in files:
            key = prefix + path.relative_to(folder).as_posix()
            client.upload_file(str(path), self.bucket, key)
            uploaded.add(key)
        self._delete(client, [k for k in self._keys(client, prefix) if k not in uploaded])
        return f"s3://{self.bucket}/{prefix}"

    def withdraw(self, name: str) -> None:
        if not self.remote:
            return
        client = self._client()
        keys = self._keys(client, f"{self.prefix}/{name}/")
        # The manifest first: from then on no reader takes the rest for a benchmark.
        self._delete(client, sorted(keys, key=lambda k: not k.endswith(f"/{MANIFEST}")))


# One engine per database URL for the whole process: Dagster builds a fresh resource object for every
# run and sensor tick, and an engine each would leak a connection pool each.
_ENGINES: dict[str, sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_for(url: str) -> sa.Engine:
    with _ENGINES_LOCK:
        if url in _ENGINES:
            return _ENGINES[url]
        try:
            engine = sa.create_engine(
                url,
                pool_pre_ping=True,
                # SQLite connections are cheap: open one per use, so none outlives the interpreter.
                poolclass=sa.pool.NullPool if url.startswith("sqlite") else None,
            )
        except (sa.exc.ArgumentError, ImportError) as error:
            raise ConnectionError(f"the registry database URL is not usable: {error}") from None
        try:
            migrate(engine)
        except sa.exc.OperationalError as error:
            engine.dispose()
            raise ConnectionError(
                f"the registry database {engine.url.render_as_string(hide_password=True)} cannot be reached: "
                f"{str(error.orig).splitlines()[0] if error.orig else error}"
            ) from None
        # Return pooled connections before the interpreter tears psycopg2 down.
        atexit.register(engine.dispose)
        _ENGINES[url] = engine
        return engine


class CandidateClosedError(RuntimeError):
    """A step tried to move a candidate a curator (or promotion) has already closed."""


class RegistryResource(dg.ConfigurableResource):
    """The candidates and the dataset index: SQLite under BENCHGEN_HOME by default, PostgreSQL by URL."""

    url: str = ""

    @property
    def database_url(self) -> str:
        return self.url or f"sqlite:///{benchgen_home() / 'registry.db'}"

    @property
    def engine(self) -> sa.Engine:
        return _engine_for(self.database_url)

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as connection:
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
        cannot undo that decision (a candidate the pipeline itself rejected may run again)."""
        candidate = self.get(key)
        if candidate is None:
            raise CandidateClosedError(f"candidate {key} is not in the registry")
        if candidate.rejected_by_curator:
            raise CandidateClosedError(f"candidate {key} was rejected by a curator ({candidate.reason})")
        if status is not None:
            fields["status"] = status
        self.update(key, stage=stage, **fields)

    # The dataset index ------------------------------------------------------------------------------

    def dataset_rows(self) -> list[dict[str, Any]]:
        with self._begin() as db:
            query = dataset_table.select().order_by(dataset_table.c.promoted_at)
            return [dict(row._mapping) for row in db.execute(query)]

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

    def put_benchmark(self, row: dict[str, Any]) -> None:
        with self._begin() as db:
            db.execute(dataset_table.delete().where(dataset_table.c.benchmark_id == row["benchmark_id"]))
            db.execute(dataset_table.insert().values(**row))

    def update_benchmark(self, benchmark_id: str, **fields: Any) -> None:
        with self._begin() as db:
            db.execute(dataset_table.update().where(dataset_table.c.benchmark_id == benchmark_id).values(**fields))

    def remove_benchmark(self, benchmark_id: str) -> None:
        with self._begin() as db:
            db.execute(dataset_table.delete().where(dataset_table.c.benchmark_id == benchmark_id))
