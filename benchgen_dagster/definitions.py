"""The Definitions object: every stage's assets, checks, sensor and schedule, and the cross-cutting
policy — jobs, executor, and the resource set for the environment, chosen in one place.

Environment (read here and nowhere else):
- `BENCHGEN_DEPLOYMENT`: the one switch between deployments. `local` (the default): embedded SQLite,
  local folders, whatever of the services below is configured. `production`: the registry, the
  artifact store and Dagster's instance must all be services (`BENCHGEN_REGISTRY_URL`,
  `BENCHGEN_S3_BUCKET`, `DAGSTER_HOME` with deploy/dagster.yaml's PostgreSQL); a missing one is an
  error at load, not a silent fall back to local files.
- `BENCHGEN_MODEL`: the agents' model (`offline` by default).
- `BENCHGEN_REGISTRY_URL`: the registry database (SQLite under BENCHGEN_HOME when unset).
- `BENCHGEN_S3_BUCKET` (+ `BENCHGEN_S3_ENDPOINT_URL`, `BENCHGEN_S3_PREFIX`, `AWS_*`): the artifact store
  (local folders when unset).
- `LANGFUSE_PUBLIC_KEY` / `LANGFUSE_SECRET_KEY` / `LANGFUSE_BASE_URL`: tracing (off when unset).
- `BENCHGEN_SEEDS`: seeds each candidate is checked on (8).
- `BENCHGEN_LEARN_AFTER`: new journals that make the skill learner run again (10).
- `BENCHGEN_REQUIRE_SOLVABLE`: `0`/`false` promotes benchmarks whose solvability is unproven (on by default).
- `BENCHGEN_CELERY_BROKER`, `BENCHGEN_CELERY_BACKEND`: production's Celery broker (RabbitMQ) and result
  backend (Redis); `celery_config` says the defaults. docs/deploy.md has the whole production set-up.
"""

import os
import warnings
from typing import Any

import dagster as dg

from benchgen_dagster.agent.configuration import default_model
from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource, SandboxResource, TracingResource
from benchgen_dagster.models.registry import CANDIDATE_STAGES

# Data versions on outputs are how a changed script marks everything downstream stale; the API is
# marked beta, and we rely on it knowingly.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*data_version.*")

CANDIDATE_ASSETS = list(CANDIDATE_STAGES)
PUBLISH_JOB = "publish_dataset"


DEPLOYMENTS = ("local", "production")
DEPLOYMENT_VARIABLE = "BENCHGEN_DEPLOYMENT"
# What `production` needs, and why.
_PRODUCTION_NEEDS = {
    "BENCHGEN_REGISTRY_URL": "the registry's database (PostgreSQL)",
    "BENCHGEN_S3_BUCKET": "the artifact store's bucket",
    "DAGSTER_HOME": "the folder of the instance's dagster.yaml (deploy/, PostgreSQL)",
}


class DeploymentError(ValueError):
    """The environment does not describe a usable deployment; the message says what is missing."""


def deployment() -> str:
    """`BENCHGEN_DEPLOYMENT` (`local` unless set), checked against what that deployment needs."""
    chosen = (os.environ.get(DEPLOYMENT_VARIABLE) or "local").strip().lower()
    if chosen not in DEPLOYMENTS:
        raise DeploymentError(f"BENCHGEN_DEPLOYMENT must be one of {', '.join(DEPLOYMENTS)}, got {chosen!r}")
    missing = [f"{name} ({why})" for name, why in _PRODUCTION_NEEDS.items() if not os.environ.get(name)]
    if chosen == "production" and missing:
        raise DeploymentError("BENCHGEN_DEPLOYMENT=production needs " + "; ".join(missing))
    return chosen


CELERY_TICK_S = 0.2


def celery_config() -> dict[str, Any]:
    """The Celery settings, one source for the jobs' `celery_executor` and for the workers (celery_app.py).

    A step's task is acknowledged when it ends (`task_acks_late`), and requeued when its worker's process
    dies (`task_reject_on_worker_lost`): a worker killed in a step leaves that step to another worker.
    Each worker takes one task at a time, so a busy one never sits on steps another could run."""
    return {
        "broker": os.environ.get("BENCHGEN_CELERY_BROKER") or "pyamqp://guest:guest@127.0.0.1:5672//",
        "backend": os.environ.get("BENCHGEN_CELERY_BACKEND") or "redis://127.0.0.1:6379/0",
        "config_source": {
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            "result_expires": 7 * 24 * 3600,
        },
    }


def _step_executor(production: bool, default: dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """Production's steps run on the Celery workers, whichever host; otherwise `default`."""
    if not production:
        return default
    from dagster_celery import celery_executor, core_execution_loop

    # The run's process looks for finished steps once a tick, and the next step waits for it: at
    # dagster-celery's 1 s that is half a second a step on average, a tenth of a candidate's steps.
    # Asking the result backend five times a second costs next to nothing.
    core_execution_loop.TICK_SECONDS = CELERY_TICK_S  # type: ignore[assignment]  # an int there; sleep takes either
    return celery_executor.configured(celery_config(), name="benchgen_celery_executor")


def _io_manager(env: Any) -> dict[str, object]:
    """Production's step outputs go to the bucket (any host reads what another wrote), under `<prefix>/io`;
    otherwise Dagster's default, the instance's local storage."""
    if deployment() != "production":
        return {}
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    s3 = S3Resource(
        endpoint_url=env("BENCHGEN_S3_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=env("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env("AWS_SECRET_ACCESS_KEY") or None,
        # botocore's backoff over 10 attempts waits out about a minute of an unreachable bucket (the
        # artifact store's own window is 120 s).
        max_attempts=10,
    )
    prefix = os.environ.get("BENCHGEN_S3_PREFIX") or "benchgen"
    return {
        "io_manager": S3PickleIOManager(s3_resource=s3, s3_bucket=env("BENCHGEN_S3_BUCKET"), s3_prefix=f"{prefix}/io")
    }


def resources(resolved: bool = False) -> dict[str, object]:
    """The resource set for this environment. Secrets and endpoints come in as EnvVar (resolved at run
    time, never shown in the UI); `resolved=True` gives plain values, for the CLI's use outside a run."""
    deployment()

    def _env(name: str) -> str:
        value = os.environ.get(name, "")
        return value if resolved or not value else dg.EnvVar(name)

    tracing = TracingResource(
        public_key=_env("LANGFUSE_PUBLIC_KEY"),
        secret_key=_env("LANGFUSE_SECRET_KEY"),
        base_url=_env("LANGFUSE_BASE_URL"),
    )
    # The coder's gate and compiled_scenes check the same seeds: the stage then reuses the gate's verdict.
    seeds = int(os.environ.get("BENCHGEN_SEEDS") or 8)
    return {
        "agents": AgentsResource(model=default_model(), tracing=tracing, check_seeds=seeds),
        "sandbox": SandboxResource(seeds=seeds, require_solvable=require_solvable()),
        "registry": RegistryResource(url=_env("BENCHGEN_REGISTRY_URL")),
        "artifacts": ArtifactStoreResource(
            bucket=_env("BENCHGEN_S3_BUCKET"),
            prefix=os.environ.get("BENCHGEN_S3_PREFIX") or "benchgen",
            region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=_env("BENCHGEN_S3_ENDPOINT_URL"),
            aws_access_key_id=_env("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=_env("AWS_SECRET_ACCESS_KEY"),
        ),
        **_io_manager(_env),
    }


def require_solvable() -> bool:
    """Whether promotion needs a proven reference solution (BENCHGEN_REQUIRE_SOLVABLE, default on)."""
    raw = (os.environ.get("BENCHGEN_REQUIRE_SOLVABLE") or "1").strip().lower()
    if raw not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(f"BENCHGEN_REQUIRE_SOLVABLE must be on or off (1/0, true/false), got {raw!r}")
    return raw in ("1", "true", "yes", "on")


def learn_after() -> int:
    """How many new journals make the skill learner run again (BENCHGEN_LEARN_AFTER, default 10)."""
    raw = os.environ.get("BENCHGEN_LEARN_AFTER") or "10"
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"BENCHGEN_LEARN_AFTER must be a whole number of journals, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"BENCHGEN_LEARN_AFTER must be at least 1, got {value}")
    return value


def _jobs() -> list[Any]:
    from benchgen_dagster.defs import audit, calibration, evaluation, leaderboard, requests, skills

    production = deployment() == "production"
    return [
        dg.define_asset_job(
            requests.GENERATE_JOB,
            selection=dg.AssetSelection.assets(*CANDIDATE_ASSETS),
            description="One candidate, request to promotion, with every gate as a blocking check.",
            # A candidate's steps form a chain: they run one after another in the run's process (a process
            # per step would import the definitions again for each). Candidates run side by side as runs,
            # through the instance's run queue. In production each step is a task for the Celery workers.
            executor_def=_step_executor(production, dg.in_process_executor),
        ),
        dg.define_asset_job(
            PUBLISH_JOB,
            selection=dg.AssetSelection.assets("benchmark_dataset", "dataset_quality", "dataset_gallery"),
            description="Rebuild the dataset index, its quality report and the gallery page.",
            executor_def=_step_executor(production, dg.multiprocess_executor),
        ),
        dg.define_asset_job(
            skills.LEARN_JOB,
            selection=dg.AssetSelection.assets("agent_journals", "learned_skills"),
            description="Compress every journal and run the skill learner over them.",
            executor_def=_step_executor(production, dg.multiprocess_executor),
        ),
        dg.define_asset_job(
            audit.AUDIT_JOB,
            selection=dg.AssetSelection.assets(
                "dataset_audit", "benchmark_dataset", "dataset_quality", "dataset_gallery"
            ),
            description="Re-check every promoted benchmark on fresh seeds, then rebuild index, quality and gallery.",
            executor_def=_step_executor(production, dg.multiprocess_executor),
        ),
        dg.define_asset_job(
            evaluation.EVALUATE_JOB,
            selection=dg.AssetSelection.assets("solver_evaluations"),
            description="Judge one solver on the promoted benchmarks, on fresh seeds (a partition per solver run).",
            executor_def=_step_executor(production, dg.in_process_executor),
        ),
        dg.define_asset_job(
            leaderboard.LEADERBOARD_JOB,
            selection=dg.AssetSelection.assets("solver_leaderboard"),
            description="Rebuild the solvers' leaderboard from every solver run.",
            executor_def=_step_executor(production, dg.in_process_executor),
        ),
        dg.define_asset_job(
            calibration.CALIBRATE_JOB,
            selection=dg.AssetSelection.assets("difficulty_calibration", "benchmark_dataset", "dataset_quality"),
            description="Recompute each benchmark's empirical difficulty from every solver run, then the index and "
            "the quality report that carry it.",
            executor_def=_step_executor(production, dg.in_process_executor),
        ),
    ]


def build_definitions(resource_overrides: dict[str, object] | None = None) -> dg.Definitions:
    """The Definitions; `resource_overrides` swaps resources (tests drive the stages with scripted agents)."""
    from benchgen_dagster.defs import (
        audit,
        cad,
        calibration,
        dataset_index,
        evaluation,
        gallery,
        leaderboard,
        planning,
        promotion,
        quality,
        requests,
        review,
        simulation,
        skills,
    )

    return dg.Definitions(
        assets=[
            requests.benchmark_request,
            planning.benchmark_plan,
            skills.agent_journals,
            skills.learned_skills,
            cad.cad_script,
            cad.compiled_scenes,
            simulation.simulation_report,
            review.benchmark_review,
            promotion.promoted_benchmark,
            dataset_index.benchmark_dataset,
            quality.dataset_quality,
            gallery.dataset_gallery,
            audit.dataset_audit,
            evaluation.solver_evaluations,
            leaderboard.solver_leaderboard,
            calibration.difficulty_calibration,
        ],
        jobs=_jobs(),
        sensors=[
            requests.request_files_sensor,
            requests.candidate_run_failure_sensor,
            review.review_revision_sensor,
            skills.build_skill_learning_sensor(learn_after()),
            # Declarative automation runs only while this sensor does: on by default, not left to the UI.
            dg.AutomationConditionSensorDefinition(
                "benchgen_automation_sensor",
                target=dg.AssetSelection.all(),
                default_status=dg.DefaultSensorStatus.RUNNING,
            ),
        ],
        schedules=[requests.daily_batch_schedule, skills.weekly_skill_learning, audit.weekly_dataset_audit],
        resources={**resources(), **(resource_overrides or {})},
        # What the UI's and the automation sensor's runs use: in production, the Celery workers too.
        executor=_step_executor(deployment() == "production", dg.multiprocess_executor),
    )


def __getattr__(name: str) -> Any:
    """`defs`, built on first use: commands that only need the resources (`benchgen list`, `show`) get
    them without importing every stage (pandas, the agents); Dagster's loaders ask for `defs` by name
    or through dir(), and get it."""
    if name == "defs":
        globals()["defs"] = built = build_definitions()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "defs"})
