"""A solver judged on the dataset: `solver_evaluations`, a partition per solver run.

Each run judges one solver (`reference`, `none`, or a Python module's source with `solve(task, seed)`)
on every promoted benchmark, or the ids asked, on seeds none of them was generated on (the audit's
fresh-seed rule), through `worker.evaluate`: the solver in the builder's sandbox, the verdict from the
trusted judge. Its value is the run's document (`SolverEvaluation.document`); its metadata, a table
a row per benchmark and the score (`models.evaluation`).
"""

import functools
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.audit import AuditSeedsError, fresh_seeds
from benchgen_dagster.defs.candidates import SANDBOX_CODE, code_version
from benchgen_dagster.defs.dataset_index import pulled_dataset
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import AgentsResource, RegistryResource, SandboxResource
from benchgen_dagster.models.evaluation import NO_SOLUTION, REFERENCE, BenchmarkEvaluation, SolverEvaluation
from benchgen_dagster.models.manifest import BenchmarkManifest, read_manifests
from benchgen_dagster.paths import benchgen_home

EVALUATE_JOB = "evaluate_solver"
DEFAULT_EVALUATION_SEEDS = 8
SOLVER_RUNS = "solver_runs"
solver_runs = dg.DynamicPartitionsDefinition(name=SOLVER_RUNS)


class EvaluationConfig(dg.Config):
    # `reference`, `none`, or the name of the module whose source is `source`.
    solver: str
    source: str = ""
    # Benchmark ids; none: every promoted benchmark.
    benchmarks: list[str] = Field(default_factory=list)
    seeds: int = DEFAULT_EVALUATION_SEEDS
    # The first seed; -1 picks the first multiple of 1024 past every benchmark's checked seeds.
    first_seed: int = -1
    # The engineer agent's model (`offline`, `provider:model`): the solver is then the agent, which
    # designs each benchmark's solution.py and may check it `attempts` times.
    agent: str = ""
    attempts: int = Field(default=3, ge=1, le=10)


def chosen(manifests: list[BenchmarkManifest], ids: list[str]) -> list[BenchmarkManifest]:
    """The benchmarks asked for (all, for none); ValueError naming the ids the dataset does not hold."""
    if not ids:
        return manifests
    unknown = sorted(set(ids) - {m.id for m in manifests})
    if unknown:
        raise ValueError(f"the dataset holds no benchmark {', '.join(unknown)}")
    return [m for m in manifests if m.id in set(ids)]


_COLUMNS = [
    dg.TableColumn("benchmark"),
    dg.TableColumn("family"),
    dg.TableColumn("tier", "int"),
    dg.TableColumn("solved", description="seeds solved of the seeds judged"),
    dg.TableColumn("weight margin", "float", description="the solved seeds' mean share of the weight budget left"),
    dg.TableColumn("cost margin", "float", description="the solved seeds' mean share of the cost budget left"),
    dg.TableColumn("time to goal (s)", "float"),
    dg.TableColumn("attempts", "int"),
    dg.TableColumn("score", "float", description="models/evaluation.py: solving first, then the margins"),
    dg.TableColumn("first failure"),
]


def results_table(rows: list[dict[str, Any]]) -> dg.TableMetadataValue:
    return table(
        _COLUMNS,
        (
            {
                "benchmark": r["benchmark_id"],
                "family": r["family"],
                "tier": r["tier"],
                "solved": f"{r['solved']}/{r['seeds']}",
                "weight margin": r["weight_margin"],
                "cost margin": r["cost_margin"],
                "time to goal (s)": r["time_to_goal_s"],
                "attempts": r["attempts"],
                "score": r["score"],
                "first failure": r["first_failure"][:120],
            }
            for r in rows
        ),
    )


@dg.asset(
    partitions_def=solver_runs,
    # Every promoted benchmark (not the index, which carries the calibration made from these runs).
    deps=["promoted_benchmark"],
    code_version=code_version(__name__, *SANDBOX_CODE),
    group_name="evaluation",
    kinds={"mujoco"},
    description="A solver judged on every promoted benchmark (or those asked) on fresh seeds: the share of seeds "
    "solved, the weight and cost margins, the time to the goal and the score, a row per benchmark.",
)
def solver_evaluations(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    sandbox: SandboxResource,
    registry: RegistryResource,
    artifacts: ArtifactStoreResource,
    agents: AgentsResource,
) -> dg.Output[dict[str, Any]]:
    from benchgen_dagster.worker.evaluate import SolverError, evaluate_benchmark

    try:
        manifests = chosen(read_manifests(pulled_dataset(registry, artifacts)), config.benchmarks)
        plans = {m.id: fresh_seeds(m.seeds_checked, config.seeds, config.first_seed) for m in manifests}
    except (AuditSeedsError, ValueError) as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    if config.agent and config.solver in (REFERENCE, NO_SOLUTION):
        raise dg.Failure(f"an agent's run cannot be named {config.solver!r}, a bound's name", allow_retries=False)
    started = time.perf_counter()
    checker = sandbox.checker(artifacts.shared_entries())
    source = config.source.encode() if config.source else None
    evaluations = []
    usage: list[dict[str, Any]] = []
    for manifest in manifests:
        about = {"benchmark_id": manifest.id, "family": manifest.family, "tier": manifest.tier}
        where: dict[str, Any] = {**about, "renders": manifest.path / "renders", "scale": manifest.scale}
        script, seeds = manifest.path / "script.py", plans[manifest.id]

        # A module's source judged on this benchmark's seeds (the engineer's designs, one by one).
        judged = functools.partial(evaluate_benchmark, checker, script, seeds, config.solver, **where)
        try:
            if config.agent:
                found, spent = _engineered(context, config, agents, checker, judged, script, seeds, where)
                usage.append(spent)
            else:
                found = judged(source=source)
        except SolverError as error:
            raise dg.Failure(str(error), allow_retries=False) from None
        context.log.info(f"{manifest.id}: {found.summary()['solved']}/{len(found.seeds)} seeds solved")
        evaluations.append(found)
    run = SolverEvaluation(
        evaluated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        solver=config.solver,
        seeds_per_benchmark=config.seeds,
        benchmarks=evaluations,
        wall_s=time.perf_counter() - started,
    )
    document = run.document()
    return dg.Output(
        document,
        metadata={
            "solver": config.solver,
            "benchmarks": len(evaluations),
            "seeds_per_benchmark": config.seeds,
            "solved_share": dg.MetadataValue.float(document["solved_share"]),
            "score": dg.MetadataValue.float(document["score"]),
            "results": results_table(document["results"]),
            "wall_s": dg.MetadataValue.float(document["wall_s"]),
            **({"engineer": _usage_metadata(usage)} if config.agent else {}),
        },
    )


def _engineered(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    agents: AgentsResource,
    checker: Any,
    judged: Any,
    script: Path,
    seeds: list[int],
    where: dict[str, Any],
) -> tuple[BenchmarkEvaluation, dict[str, Any]]:
    """The engineer agent's evaluation of one benchmark: its tasks made by the judge, its workspace under
    BENCHGEN_HOME/engineer/<run>/<benchmark>, its designs judged as a module's."""
    from benchgen_dagster.worker.evaluate import benchmark_views, evaluate_benchmark, scene_tasks

    tasks = scene_tasks(checker, script, seeds, **where)
    if not tasks:  # no seed's scene built: nothing to design from; the scene's own run says why, seed by seed
        return evaluate_benchmark(checker, script, seeds, NO_SOLUTION, **where), {}
    workspace = benchgen_home() / "engineer" / context.partition_key / where["benchmark_id"]
    run = agents.engineer(
        tasks,
        benchmark_views(where["renders"]),
        judged,
        workspace,
        benchmark_id=where["benchmark_id"],
        seeds=seeds,
        model=config.agent,
        attempts=config.attempts,
        settings=checker.settings,
    )
    context.log.info(f"{where['benchmark_id']}: the engineer {run.decision} ({run.reason}); workspace {run.workspace}")
    return run.evaluation, {"benchmark": where["benchmark_id"], "model_failed": run.model_failed, **run.usage}


def _usage_metadata(usage: list[dict[str, Any]]) -> dg.MetadataValue:
    from benchgen_dagster.agent.model_calls import usage_total

    total = usage_total([u for u in usage if u])
    cost = total["cost_usd"]
    failed = [u["benchmark"] for u in usage if u.get("model_failed")]
    words = f"{total['calls']} model call(s), cost {'unknown' if cost is None else f'${cost:g}'}"
    return dg.MetadataValue.text(words + (f"; the model failed on {', '.join(failed)}" if failed else ""))
