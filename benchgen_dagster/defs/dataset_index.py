"""The dataset index: every promoted benchmark, as parquet under the dataset and the registry's table."""

import io
import json
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import code_version, text_version
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import DATASET_LOCK, RegistryResource
from benchgen_dagster.models.registry import dataset_table
from benchgen_dagster.paths import dataset_dir, index_path
from benchgen_dagster.worker.safe_files import write_file_atomically

# The index and the gallery follow promotions (and withdrawals): whenever a promotion is newer than
# them. (`eager()` would wait for every candidate's promotion, and rejected ones never come.)
AFTER_PROMOTIONS = (
    dg.AutomationCondition.any_deps_updated().since_last_handled() & ~dg.AutomationCondition.in_progress()
)
INDEX_COLUMNS = [c.name for c in dataset_table.columns]
PREVIEW_ROWS = 50
PREVIEW_COLUMNS = [
    dg.TableColumn("id"),
    dg.TableColumn("tier", "int"),
    dg.TableColumn("family"),
    dg.TableColumn("title"),
]


def pulled_dataset(registry: RegistryResource, artifacts: ArtifactStoreResource) -> Path:
    """The dataset folder with every benchmark the registry holds, wherever it was promoted: with a bucket,
    each is pulled from where its promotion published it, and one the registry no longer holds (withdrawn
    or quarantined on another host) leaves this host's copy too. Without one, the folder as it is."""
    folder = dataset_dir()
    if not artifacts.remote:
        return folder
    # Under the dataset lock: a promotion on this host swaps its folder in and publishes it before the
    # registry holds it, and is never pruned or overwritten half-way.
    with registry.locked(DATASET_LOCK):
        held = {row["benchmark_id"] for row in registry.dataset_rows()}
        for benchmark_id in sorted(held):
            artifacts.pull(f"dataset/{benchmark_id}", folder / benchmark_id)
        for stale in folder.iterdir():
            if stale.is_dir() and not stale.name.startswith(".") and stale.name not in held:
                shutil.rmtree(stale)
    return folder


def dataset_frame(registry: RegistryResource) -> pd.DataFrame:
    """The index: every promoted benchmark the registry holds (the registry is the source of truth)."""
    rows = registry.dataset_rows()
    frame = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    for column in ("parameters", "mesh_digests"):
        frame[column] = frame[column].map(lambda v: json.dumps(v, sort_keys=True))
    return frame


@dg.asset(
    # After an audit too (a quarantined benchmark leaves the index), and a calibration (its empirical difficulty).
    deps=["promoted_benchmark", "dataset_audit", "difficulty_calibration"],
    code_version=code_version(__name__, "models"),
    group_name="dataset",
    kinds={"pandas", "parquet"},
    automation_condition=AFTER_PROMOTIONS,
    description="The index of promoted benchmarks: parquet under the dataset, and the registry table "
    "(PostgreSQL when configured).",
)
def benchmark_dataset(registry: RegistryResource) -> dg.MaterializeResult:
    frame = dataset_frame(registry)
    path = index_path()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    write_file_atomically(path, buffer.getvalue())
    tiers = frame["tier"].value_counts().to_dict() if len(frame) else {}
    preview = (
        frame[["benchmark_id", "tier", "family", "title"]].head(PREVIEW_ROWS).rename(columns={"benchmark_id": "id"})
    )
    return dg.MaterializeResult(
        metadata={
            "benchmarks": len(frame),
            "by_tier": dg.MetadataValue.json({str(k): int(v) for k, v in tiers.items()}),
            "index": dg.MetadataValue.path(str(path)),
            "database": registry.engine.url.render_as_string(hide_password=True),
            "preview": table(PREVIEW_COLUMNS, preview.to_dict(orient="records")),
        },
        data_version=text_version(frame.to_json(date_format="iso")),
    )
