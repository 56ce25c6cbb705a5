"""The dataset's difficulty calibrated by its solvers: `difficulty_calibration`.

It reads every run of `solver_evaluations` through its input and gives each benchmark the empirical
difficulty the non-trivial solvers' runs show (`models.calibration`): written into its manifest beside
the feature-based score (and published with it), and into the registry's row, which the index then
carries. `dataset_quality` reports how well the two scores agree.
"""

from typing import Any

import dagster as dg

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import code_version
from benchgen_dagster.defs.dataset_index import AFTER_PROMOTIONS, pulled_dataset
from benchgen_dagster.defs.leaderboard import documents_of
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import DATASET_LOCK, RegistryResource
from benchgen_dagster.models.calibration import EmpiricalDifficulty, empirical_difficulties
from benchgen_dagster.models.manifest import BenchmarkManifest, read_manifests
from benchgen_dagster.paths import MANIFEST
from benchgen_dagster.worker.safe_files import write_file_atomically

CALIBRATE_JOB = "calibrate_difficulty"
_COLUMNS = [
    dg.TableColumn("benchmark"),
    dg.TableColumn("difficulty", "float", description="the feature-based score (models.difficulty)"),
    dg.TableColumn("empirical", "float", description="100 × (1 − solve rate) over the non-trivial solvers"),
    dg.TableColumn("solve rate", "float"),
    dg.TableColumn("trials", "int", description="seeds judged, over every attempt of every solver"),
    dg.TableColumn("solvers"),
]


@dg.asset(
    ins={"solver_evaluations": dg.AssetIn(metadata={"allow_missing_partitions": True})},
    code_version=code_version(__name__, "models"),
    group_name="evaluation",
    kinds={"pandas"},
    automation_condition=AFTER_PROMOTIONS,
    description="Each benchmark's empirical difficulty, from the non-trivial solvers evaluated on it: in its "
    "manifest beside the feature-based score, and in the index.",
)
def difficulty_calibration(
    registry: RegistryResource, artifacts: ArtifactStoreResource, solver_evaluations: Any
) -> dg.MaterializeResult:
    found = empirical_difficulties(documents_of(solver_evaluations))
    folder = pulled_dataset(registry, artifacts)
    # Under the dataset lock: a promotion swaps a benchmark's folder in whole, never while this writes into it.
    with registry.locked(DATASET_LOCK):
        manifests = read_manifests(folder)
        rows, changed = write_calibration(manifests, found, artifacts)
        registry.set_empirical_difficulty({m.id: (e.score if (e := found.get(m.id)) else None) for m in manifests})
    return dg.MaterializeResult(
        metadata={
            "calibrated": len(rows),
            "manifests_changed": changed,
            "benchmarks": table(_COLUMNS, rows),
        }
    )


def write_calibration(
    manifests: list[BenchmarkManifest], found: dict[str, EmpiricalDifficulty], artifacts: ArtifactStoreResource
) -> tuple[list[dict[str, Any]], int]:
    """Write each of the dataset's `manifests` its empirical difficulty (`found`, by id; none clears it) and
    publish the ones that changed; returns the table's rows and how many changed. Called under the dataset lock."""
    rows, changed = [], 0
    for held in manifests:
        manifest, empirical = held, found.get(held.id)
        if manifest.empirical_difficulty != empirical:
            name = f"dataset/{manifest.id}"
            if artifacts.remote:
                # What another host published since this one pulled (a re-promotion) comes first: the push
                # below mirrors the folder, and a stale copy would undo it.
                artifacts.pull(name, manifest.path)
                if not (manifest.path / MANIFEST).is_file():  # withdrawn meanwhile: nothing to calibrate
                    continue
                manifest = BenchmarkManifest.read(manifest.path / MANIFEST)
            updated = manifest.model_copy(update={"empirical_difficulty": empirical})
            write_file_atomically(manifest.path / MANIFEST, updated.to_yaml().encode())
            artifacts.push(manifest.path, name)  # only the manifest differs: only it is uploaded
            changed += 1
        if empirical is not None:
            rows.append(
                {
                    "benchmark": manifest.id,
                    "difficulty": manifest.difficulty.score if manifest.difficulty else None,
                    "empirical": empirical.score,
                    "solve rate": empirical.solve_rate,
                    "trials": empirical.trials,
                    "solvers": ", ".join(empirical.solvers),
                }
            )
    return rows, changed
