"""The dataset audit: every promoted benchmark re-checked on fresh seeds, solvability included.

A benchmark was generated and checked on a few seeds; the audit runs the whole check again on N
seeds it has never been checked on (by default the first aligned block of seeds after a multiple of
1024 beyond them, so the parameter strata are covered evenly). A benchmark that fails any check on
any fresh seed fails the audit; with `quarantine` it is moved out of the dataset to
`quarantine/<id>-<time>/` with the audit's findings beside it (never deleted), and out of the index.

A benchmark the current trusted judge has not judged (promoted before the judge existed, or by
another version of it) is first re-judged on the seeds it was promoted with: on success its seeds/
and renders are replaced by the judge's output and its manifest and index row name the judge; on
failure it fails the audit (and is quarantined with `quarantine`, or marked `judge: failed`). It is
never trusted on the word of the code that made it.
"""

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import SANDBOX_CODE, code_version
from benchgen_dagster.defs.dataset_index import pulled_dataset
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import DATASET_LOCK, RegistryResource, SandboxResource
from benchgen_dagster.models.manifest import BenchmarkManifest, JudgeEntry, read_manifests
from benchgen_dagster.models.reports import CheckReport
from benchgen_dagster.paths import MANIFEST, benchgen_home, dataset_dir
from benchgen_dagster.worker.safe_files import write_file_atomically
from benchgen_dagster.worker.versions import judge_version

AUDIT_JOB = "audit_dataset"
DEFAULT_AUDIT_SEEDS = 32
_SEED_BLOCK = 1024


class AuditSeedsError(ValueError):
    """The requested audit seeds overlap the seeds a benchmark was generated on."""


class AuditConfig(dg.Config):
    seeds: int = DEFAULT_AUDIT_SEEDS
    # The first audit seed; -1 picks the first multiple of 1024 past every benchmark's checked seeds.
    first_seed: int = -1
    quarantine: bool = False


def audits_dir() -> Path:
    folder = benchgen_home() / "audits"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def latest_audit_path() -> Path:
    return audits_dir() / "latest.json"


def fresh_seeds(checked: list[int], count: int, first: int = -1) -> list[int]:
    """`count` seeds none of which is in `checked`: from `first`, or from the next multiple of 1024."""
    if count < 1:
        raise AuditSeedsError(f"the audit needs at least one seed, got {count}")
    start = first if first >= 0 else (max(checked, default=-1) // _SEED_BLOCK + 1) * _SEED_BLOCK
    seeds = list(range(start, start + count))
    overlap = sorted(set(seeds) & set(checked))
    if overlap:
        raise AuditSeedsError(
            f"audit seeds {start}–{start + count - 1} include seeds the benchmark was generated on "
            f"({', '.join(map(str, overlap[:5]))}): fresh seeds must be disjoint from them"
        )
    return seeds


def audit_row(manifest: BenchmarkManifest, report: CheckReport) -> dict[str, Any]:
    """One benchmark's audit: passed, which checks failed on how many seeds, and solvable seeds."""
    failed: dict[str, set[int | None]] = {}
    for failure in report.failures:
        failed.setdefault(failure.check, set()).add(failure.seed)
    solvable = [r for r in report.results if r.check == "solvable"]
    return {
        "benchmark_id": manifest.id,
        "family": manifest.family,
        "tier": manifest.tier,
        "seeds": report.seeds,
        "passed": report.passed and bool(solvable),
        "failed_checks": {check: len(seeds) for check, seeds in sorted(failed.items())},
        "solvable_seeds": sum(r.passed for r in solvable),
        "first_failure": report.failures[0].message
        if report.failures
        else ("" if solvable else "the script defines no solution(seed, scale): solvability unproven"),
        "wall_s": round(report.wall_s, 1),
    }


def quarantine(row: dict[str, Any], registry: RegistryResource, artifacts: ArtifactStoreResource) -> Path | None:
    """Move a failing benchmark out of the dataset, with its audit beside it; out of the index and the store
    (under the dataset lock: a promotion of the same benchmark id does not interleave)."""
    bid = row["benchmark_id"]
    folder = dataset_dir() / bid
    moved = None
    with registry.locked(DATASET_LOCK):
        if folder.is_dir():
            target = benchgen_home() / "quarantine"
            target.mkdir(exist_ok=True)
            moved = target / f"{bid}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}"
            os.replace(folder, moved)
            (moved / "audit.json").write_text(json.dumps(row, indent=1))
        registry.remove_benchmark(bid)
        artifacts.withdraw(f"dataset/{bid}")
    return moved


def rejudge(
    manifest: BenchmarkManifest, checker: Any, registry: RegistryResource, artifacts: ArtifactStoreResource
) -> str | None:
    """Judge a benchmark again on its own checked seeds and take the judge's output into its folder.
    Returns why it failed (its manifest then says so), or None."""
    from benchgen_dagster.defs.folders import replace_folder_atomically
    from benchgen_dagster.defs.promotion import RENDER_SIZE

    folder = manifest.path
    seeds = list(manifest.seeds_checked or range(8))
    staging = folder.parent / f".rejudge-{folder.name}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(folder, staging, ignore=shutil.ignore_patterns("seeds", "renders"))
    report = checker.check(staging / "script.py", seeds, compiled_dest=staging / "seeds")
    relaxed = manifest.solvability_status != "proven"
    failures = [f for f in report.failures if not (relaxed and f.check == "solvable")]
    if failures:
        shutil.rmtree(staging, ignore_errors=True)
        reason = f"re-judged on its own seeds by the trusted judge: {failures[0].check} (seed {failures[0].seed}): "
        reason += failures[0].message
        failed = JudgeEntry(status="failed", version=judge_version(), reason=reason[:500])
        write_file_atomically(folder / MANIFEST, manifest.model_copy(update={"judge": failed}).to_yaml().encode())
        return reason
    width, height = RENDER_SIZE
    checker.render(staging / "script.py", 0, staging / "renders", width, height, video=False)
    if not relaxed:
        checker.render(
            staging / "script.py", 0, staging / "renders" / "solution", width, height, False, with_solution=True
        )
    judged = JudgeEntry(status="judged", version=judge_version(), seeds=seeds)
    (staging / MANIFEST).write_text(manifest.model_copy(update={"judge": judged}).to_yaml())
    replace_folder_atomically(staging, folder)
    digests = {str(o.seed): o.input_digest for o in report.outcomes if o.input_digest}
    registry.update_benchmark(manifest.id, judge=judge_version(), mesh_digests=digests)
    artifacts.publish(folder, f"dataset/{manifest.id}")
    return None


_RESULT_COLUMNS = [
    dg.TableColumn("benchmark"),
    dg.TableColumn("family"),
    dg.TableColumn("seeds", "int", description="fresh seeds it was checked on"),
    dg.TableColumn("solvable", description="seeds its reference solution solved"),
    dg.TableColumn("result"),
    dg.TableColumn("first failure"),
]


def results_table(rows: list[dict[str, Any]]) -> dg.TableMetadataValue:
    """The audit's findings, a row per benchmark: seeds, solvable seeds, pass or fail, the first failure."""
    return table(
        _RESULT_COLUMNS,
        (
            {
                "benchmark": r["benchmark_id"],
                "family": r["family"],
                "seeds": len(r["seeds"]),
                "solvable": f"{r['solvable_seeds']}/{len(r['seeds'])}",
                "result": "pass" if r["passed"] else "FAIL" + (" → quarantined" if r.get("quarantined") else ""),
                "first failure": r["first_failure"][:120],
            }
            for r in rows
        ),
    )


@dg.asset(
    deps=["promoted_benchmark"],
    code_version=code_version(__name__, *SANDBOX_CODE),
    group_name="dataset",
    kinds={"mujoco"},
    description="Every promoted benchmark re-checked on fresh seeds (solvability included), re-judged first on "
    "its own seeds when the current trusted judge has not judged it; failing ones are reported and, with "
    "quarantine on, moved out of the dataset.",
    check_specs=[
        dg.AssetCheckSpec(
            "audit_passed",
            asset="dataset_audit",
            description="every promoted benchmark passes every check on the fresh seeds",
        )
    ],
)
def dataset_audit(
    context: dg.AssetExecutionContext,
    config: AuditConfig,
    sandbox: SandboxResource,
    registry: RegistryResource,
    artifacts: ArtifactStoreResource,
) -> Any:
    manifests = read_manifests(pulled_dataset(registry, artifacts))
    plans = {}
    for manifest in manifests:
        try:
            plans[manifest.id] = fresh_seeds(manifest.seeds_checked, config.seeds, config.first_seed)
        except AuditSeedsError as error:
            raise dg.Failure(f"{manifest.id}: {error}", allow_retries=False) from None
    started = time.perf_counter()
    checker = sandbox.checker(artifacts.shared_entries())
    rows = []
    for manifest in manifests:
        unjudged = (manifest.judge.version if manifest.judge else None) != judge_version()
        problem = rejudge(manifest, checker, registry, artifacts) if unjudged else None
        report = checker.check(manifest.path / "script.py", plans[manifest.id])
        row = audit_row(manifest, report)
        row["rejudged"] = unjudged
        if problem:
            row.update(passed=False, first_failure=problem)
        if not row["passed"] and config.quarantine:
            moved = quarantine(row, registry, artifacts)
            row["quarantined"] = str(moved) if moved else "removed from the index"
        context.log.info(f"{row['benchmark_id']}: {'pass' if row['passed'] else 'FAIL ' + row['first_failure']}")
        rows.append(row)
    failed = [r for r in rows if not r["passed"]]
    pass_rate = round((len(rows) - len(failed)) / len(rows), 3) if rows else None
    document = {
        "audited_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seeds_per_benchmark": config.seeds,
        "quarantine": config.quarantine,
        "benchmarks": len(rows),
        "passed": len(rows) - len(failed),
        "pass_rate": pass_rate,
        "wall_s": round(time.perf_counter() - started, 1),
        "results": rows,
    }
    path = audits_dir() / f"audit-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json"
    text = json.dumps(document, indent=1)
    write_file_atomically(path, text.encode())
    write_file_atomically(latest_audit_path(), text.encode())
    yield dg.MaterializeResult(
        metadata={
            "benchmarks": len(rows),
            "passed": len(rows) - len(failed),
            "pass_rate": dg.MetadataValue.float(pass_rate if pass_rate is not None else 1.0),
            "quarantined": sum(1 for r in rows if r.get("quarantined")),
            "seeds_per_benchmark": config.seeds,
            "results": results_table(rows),
            "report": dg.MetadataValue.path(str(path)),
        }
    )
    yield dg.AssetCheckResult(
        check_name="audit_passed",
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="every benchmark passed on fresh seeds"
        if not failed
        else f"{len(failed)} of {len(rows)} failed: " + ", ".join(r["benchmark_id"] for r in failed[:5]),
    )


weekly_dataset_audit = dg.ScheduleDefinition(
    name="weekly_dataset_audit",
    job_name=AUDIT_JOB,
    cron_schedule="0 3 * * 0",
    description=f"Sundays at 03:00: every promoted benchmark on {DEFAULT_AUDIT_SEEDS} fresh seeds (report only; "
    "set quarantine in the run config to move failures out).",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
