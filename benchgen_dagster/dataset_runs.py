"""The dataset's own jobs, run from the command line: the audit, a solver's evaluation, and the export.

Like `runner`'s, each runs in this process on the instance under BENCHGEN_HOME.
"""

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from benchgen_dagster.paths import MANIFEST, dataset_dir, index_path, leaderboard_path
from benchgen_dagster.runner import QUIET, dagster_instance, definitions, failure_reason


def audit(seeds: int, first_seed: int = -1, quarantine: bool = False) -> dict[str, object]:
    """Run the audit job in this process (dataset_audit, then the index, quality and gallery) and return
    the audit's findings (audits/latest.json). Raises AuditSeedsError for seeds that are not fresh."""
    from benchgen_dagster.defs.audit import AUDIT_JOB, fresh_seeds, latest_audit_path
    from benchgen_dagster.models.manifest import read_manifests

    for manifest in read_manifests(dataset_dir()):  # bad input fails here, before any work or any move
        fresh_seeds(manifest.seeds_checked, seeds, first_seed)
    instance = dagster_instance()
    latest = latest_audit_path()
    before = latest.stat().st_mtime_ns if latest.exists() else None
    job = definitions().resolve_job_def(AUDIT_JOB)
    config = {"seeds": seeds, "first_seed": first_seed, "quarantine": quarantine}
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={**QUIET, "ops": {"dataset_audit": {"config": config}}},
    )
    if not latest.exists() or latest.stat().st_mtime_ns == before:
        raise RuntimeError(f"the audit did not finish: {failure_reason(result)}")
    return dict(json.loads(latest.read_text()))


def evaluate(
    solver: str, source: str, ids: list[str], seeds: int, first_seed: int = -1, agent: str = "", attempts: int = 3
) -> dict[str, Any]:
    """Run the evaluation job for `solver` (its module's `source`, for a module; the engineer agent with the
    model `agent`, for an agent, `attempts` checks each) in this process, in a partition of its own, and
    return the run's document. Raises ValueError for ids the dataset does not hold and AuditSeedsError for
    seeds that are not fresh, before any work."""
    from benchgen_dagster.defs.audit import fresh_seeds
    from benchgen_dagster.defs.calibration import CALIBRATE_JOB
    from benchgen_dagster.defs.evaluation import EVALUATE_JOB, SOLVER_RUNS, chosen
    from benchgen_dagster.defs.leaderboard import LEADERBOARD_JOB
    from benchgen_dagster.models.calibration import BOUNDS
    from benchgen_dagster.models.manifest import read_manifests

    for manifest in chosen(read_manifests(dataset_dir()), ids):
        fresh_seeds(manifest.seeds_checked, seeds, first_seed)
    instance = dagster_instance()
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in solver)[:40]
    key = f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    instance.add_dynamic_partitions(SOLVER_RUNS, [key])
    config = {"solver": solver, "source": source, "benchmarks": ids, "seeds": seeds, "first_seed": first_seed}
    if agent:
        config |= {"agent": agent, "attempts": attempts}
    result = (
        definitions()
        .resolve_job_def(EVALUATE_JOB)
        .execute_in_process(
            instance=instance,
            partition_key=key,
            raise_on_error=False,
            run_config={**QUIET, "ops": {"solver_evaluations": {"config": config}}},
        )
    )
    if not result.success:
        raise RuntimeError(f"the evaluation did not finish: {failure_reason(result)}")
    found = {"partition": key, **result.asset_value(dg.AssetKey("solver_evaluations"))}
    # The leaderboard with this run in it, and the empirical difficulty, which only a non-trivial solver's run
    # changes (the automation sensor does the same when a daemon runs).
    # The evaluation stands whatever happens next; what may be stale is the page or the calibration.
    ranked = (
        definitions()
        .resolve_job_def(LEADERBOARD_JOB)
        .execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET)
    )
    found |= {"leaderboard": str(leaderboard_path())} if ranked.success else {
        "leaderboard": None, "leaderboard_error": failure_reason(ranked)
    }  # fmt: skip
    if solver not in BOUNDS:
        calibrated = (
            definitions()
            .resolve_job_def(CALIBRATE_JOB)
            .execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET)
        )
        if not calibrated.success:
            found["calibration_error"] = failure_reason(calibrated)
    return found


def export_dataset(dest: Path, withhold: bool = False) -> int:
    """Copy every promoted benchmark folder and the index to `dest`; returns how many. With `withhold`, each
    script has its `solution()` cut out (`hf_export.script_without_solution`; a script it cannot be cut out
    of fails the export before anything is copied), and the solution's views, the judge's reports and the
    manifest's account of the reference solution are left behind."""
    from benchgen_dagster.hf_export import script_without_solution
    from benchgen_dagster.models.manifest import read_manifests

    manifests = read_manifests(dataset_dir())
    scripts = {m.id: script_without_solution((m.path / "script.py").read_text()) for m in manifests} if withhold else {}
    dest.mkdir(parents=True, exist_ok=True)
    skipped = shutil.ignore_patterns("solution", "reports", "script.py", MANIFEST) if withhold else None
    for manifest in manifests:
        shutil.copytree(manifest.path, dest / manifest.id, ignore=skipped)
        if withhold:
            (dest / manifest.id / "script.py").write_text(scripts[manifest.id])
            document = manifest.document()
            if isinstance(document.get("solvability"), dict):  # its parts, drives, mass and time to the goal
                document["solvability"].pop("reference_solution", None)
            (dest / manifest.id / MANIFEST).write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    if index_path().is_file():
        shutil.copyfile(index_path(), dest / index_path().name)
    return len(manifests)
