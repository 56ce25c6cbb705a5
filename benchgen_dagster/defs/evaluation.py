"""A solver judged on the dataset: `solver_evaluations`, a partition per solver run.

Each run judges one solver (`reference`, `none`, or a Python module's source with `solve(task, seed)`)
on every promoted benchmark, or the ids asked, on seeds none of them was generated on (the audit's
fresh-seed rule), through `worker.evaluate`: the solver in the builder's sandbox, the verdict from the
trusted judge. Its value is the run's document (`SolverEvaluation.document`); its metadata, a table
a row per benchmark and the score (`models.evaluation`).
"""

import time
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.audit import AuditSeedsError, fresh_seeds
from benchgen_dagster.defs.candidates import SANDBOX_CODE, code_version
from benchgen_dagster.defs.dataset_index import pulled_dataset
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import RegistryResource, SandboxResource
from benchgen_dagster.models.evaluation import SolverEvaluation
from benchgen_dagster.models.manifest import BenchmarkManifest, read_manifests

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
    deps=["benchmark_dataset"],
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
) -> dg.Output[dict[str, Any]]:
    from benchgen_dagster.worker.evaluate import SolverError, evaluate_benchmark

    try:
        manifests = chosen(read_manifests(pulled_dataset(registry, artifacts)), config.benchmarks)
        plans = {m.id: fresh_seeds(m.seeds_checked, config.seeds, config.first_seed) for m in manifests}
    except (AuditSeedsError, ValueError) as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    started = time.perf_counter()
    checker = sandbox.checker(artifacts.shared_entries())
    source = config.source.encode() if config.source else None
    evaluations = []
    for manifest in manifests:
        try:
            found = evaluate_benchmark(
                checker,
                manifest.path / "script.py",
                plans[manifest.id],
                config.solver,
                source,
                benchmark_id=manifest.id,
                family=manifest.family,
                tier=manifest.tier,
                renders=manifest.path / "renders",
                scale=manifest.scale,
            )
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
        },
    )
