"""Dataset quality: what the whole dataset covers, how hard it is, and which benchmarks are near copies.

`dataset_quality` reads every promoted benchmark's manifest and validation report and measures:
counts per tier and family, the spread of every randomized parameter across the benchmarks of a
family, the difficulty histogram (models.difficulty), and near-duplicates by geometric similarity.

Similarity: each benchmark becomes an occupancy grid over its own workspace (parts' boxes in one
channel, the goal zone in another, averaged over its checked seeds); two benchmarks are compared by
weighted Jaccard (Σ min / Σ max of the two grids). Identical meshes score 1; the same family with a
moved goal or a resized wall scores lower. Pairs at or above `NEAR_DUPLICATE` are reported.
"""

import io
import itertools
import json
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import code_version, image_markdown, text_version
from benchgen_dagster.defs.dataset_index import AFTER_PROMOTIONS, pulled_dataset
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.defs.resources import RegistryResource
from benchgen_dagster.models.calibration import agreement
from benchgen_dagster.models.manifest import BenchmarkManifest, read_manifests
from benchgen_dagster.paths import quality_dir
from benchgen_dagster.worker.safe_files import write_file_atomically

GRID = (16, 12, 8)
# Where the plots wait for the gallery, in the artifact store (with a bucket).
QUALITY_WORK = "work/quality"
NEAR_DUPLICATE = 0.9


def _fill(grid: np.ndarray, lo: np.ndarray, hi: np.ndarray, ws_lo: np.ndarray, ws_hi: np.ndarray) -> None:
    size = np.array(grid.shape)
    a = np.clip(np.floor((lo - ws_lo) / (ws_hi - ws_lo) * size), 0, size - 1).astype(int)
    b = np.clip(np.ceil((hi - ws_lo) / (ws_hi - ws_lo) * size), a + 1, size).astype(int)
    grid[a[0] : b[0], a[1] : b[1], a[2] : b[2]] = 1.0


def occupancy(report: dict[str, Any]) -> np.ndarray | None:
    """The benchmark's occupancy descriptor from its validation report (parts and goal, mean over seeds)."""
    grids = []
    for outcome in report.get("outcomes", []):
        scene = outcome.get("scene")
        bounds = [p["bounds_mm"] for p in outcome.get("parts", []) if p.get("bounds_mm")]
        if not scene or not bounds:
            continue
        ws_lo, ws_hi = np.array(scene["workspace"]["lo"]), np.array(scene["workspace"]["hi"])
        parts, goal = np.zeros(GRID), np.zeros(GRID)
        for lo, hi in bounds:
            _fill(parts, np.array(lo), np.array(hi), ws_lo, ws_hi)
        _fill(goal, np.array(scene["goal_zone"]["lo"]), np.array(scene["goal_zone"]["hi"]), ws_lo, ws_hi)
        grids.append(np.concatenate([parts.ravel(), goal.ravel()]))
    return np.mean(grids, axis=0) if grids else None


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Weighted Jaccard of two occupancy descriptors: 1 for the same scene, 0 for nothing in common."""
    union = float(np.maximum(a, b).sum())
    return float(np.minimum(a, b).sum()) / union if union else 1.0


def near_duplicates(descriptors: dict[str, np.ndarray], threshold: float = NEAR_DUPLICATE) -> list[dict[str, Any]]:
    pairs = []
    for (a, da), (b, db) in itertools.combinations(sorted(descriptors.items()), 2):
        score = similarity(da, db)
        if score >= threshold:
            pairs.append({"a": a, "b": b, "similarity": round(score, 3)})
    return sorted(pairs, key=lambda p: -p["similarity"])


def parameter_spread(manifests: list[BenchmarkManifest]) -> pd.DataFrame:
    """Per family and parameter: how many benchmarks vary it, and the span of nominals and drawn values."""
    rows = []
    for manifest in manifests:
        for name, r in manifest.parameters.items():
            rows.append({"family": manifest.family or "custom", "parameter": name, **r.model_dump()})
    columns = ["family", "parameter", "benchmarks", "nominal_min", "nominal_max", "drawn_min", "drawn_max", "spread"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    spread = frame.groupby(["family", "parameter"]).agg(
        benchmarks=("nominal", "size"),
        nominal_min=("nominal", "min"),
        nominal_max=("nominal", "max"),
        drawn_min=("min", "min"),
        drawn_max=("max", "max"),
        nominal_median=("nominal", "median"),
    )
    # The drawn span across the family's benchmarks, relative to their median nominal value.
    spread["spread"] = (spread["drawn_max"] - spread["drawn_min"]) / spread["nominal_median"].abs().clip(lower=1e-9)
    return spread.reset_index()[columns].round(3)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()


def plots(counts: pd.DataFrame, scores: list[float], spread: pd.DataFrame) -> dict[str, bytes]:
    """The three quality plots as PNG bytes: counts per family and tier, difficulty histogram, parameter spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    figure, axes = plt.subplots(figsize=(6, 3))
    if len(counts):
        counts.plot.barh(stacked=True, ax=axes)
    axes.set_xlabel("benchmarks")
    axes.set_title("benchmarks per family and tier")
    out["counts"] = _png(figure)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(6, 3))
    axes.hist(scores, bins=[float(b) for b in np.linspace(0, 100, 21)], color="#3b7dd8")
    axes.set_xlabel("difficulty (0 easiest – 100 hardest)")
    axes.set_ylabel("benchmarks")
    axes.set_title("difficulty")
    out["difficulty"] = _png(figure)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(6, max(2.0, 0.25 * len(spread) + 1)))
    labels = [f"{r.family}.{r.parameter}" for r in spread.itertuples()]
    axes.barh(labels, spread["spread"].tolist() if len(spread) else [], color="#e0892b")
    axes.axvline(0.8, color="grey", linestyle="--", linewidth=1)  # ±40 % of nominal, what one script must span
    axes.set_xlabel("drawn span / median nominal")
    axes.set_title("parameter spread across each family's benchmarks")
    out["parameters"] = _png(figure)
    plt.close(figure)
    return out


def _validation_report(manifest: BenchmarkManifest) -> dict[str, Any]:
    path = manifest.path / "reports" / "validation.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def measure(manifests: list[BenchmarkManifest]) -> dict[str, Any]:
    """Everything dataset_quality reports, as plain data (also written to quality.json)."""
    frame = pd.DataFrame(
        [
            {
                "id": m.id,
                "family": m.family or "custom",
                "tier": m.tier,
                "difficulty": m.difficulty.score if m.difficulty else None,
                "solvability": m.solvability_status,
            }
            for m in manifests
        ],
        columns=["id", "family", "tier", "difficulty", "solvability"],
    )
    counts = pd.crosstab(frame["family"], frame["tier"]) if len(frame) else pd.DataFrame()
    descriptors = {m.id: d for m in manifests if (d := occupancy(_validation_report(m))) is not None}
    scores = [float(s) for s in frame["difficulty"].dropna()]
    return {
        "benchmarks": len(frame),
        "by_tier": {str(k): int(v) for k, v in frame["tier"].value_counts().items()},
        "by_family": {str(k): int(v) for k, v in frame["family"].value_counts().items()},
        "by_solvability": {str(k): int(v) for k, v in frame["solvability"].value_counts().items()},
        "difficulty": {
            "mean": round(float(np.mean(scores)), 1) if scores else None,
            "min": min(scores, default=None),
            "max": max(scores, default=None),
            "histogram": np.histogram(scores, bins=np.linspace(0, 100, 11))[0].tolist(),
        },
        # The feature-based score against the solvers' (models.calibration), where a benchmark has both.
        "calibration": agreement(
            {
                m.id: (m.difficulty.score, m.empirical_difficulty.score)
                for m in manifests
                if m.difficulty and m.empirical_difficulty
            }
        ),
        "near_duplicates": near_duplicates(descriptors),
        "compared": len(descriptors),
        "counts": counts,
        "spread": parameter_spread(manifests),
        "scores": scores,
    }


_OUTLIER_COLUMNS = [
    dg.TableColumn("id"),
    dg.TableColumn("feature", "float", description="the feature-based difficulty"),
    dg.TableColumn("empirical", "float", description="the solvers' difficulty"),
    dg.TableColumn("rank_gap", "float", description="empirical minus feature percentile rank"),
    dg.TableColumn("finding"),
]


def _agreement_words(found: dict[str, Any]) -> str:
    if found["spearman"] is None:
        return f"not enough to rank: {found['benchmarks']} benchmark(s) with both scores"
    return (
        f"Spearman {found['spearman']:+.2f} over {found['benchmarks']} benchmarks; {len(found['outliers'])} outlier(s)"
    )


_DUPLICATE_COLUMNS = [dg.TableColumn("a"), dg.TableColumn("b"), dg.TableColumn("similarity", "float")]
_SPREAD_COLUMNS = [
    dg.TableColumn("family"),
    dg.TableColumn("parameter"),
    dg.TableColumn("benchmarks", "int"),
    *(dg.TableColumn(name, "float") for name in ("nominal_min", "nominal_max", "drawn_min", "drawn_max")),
    dg.TableColumn("spread", "float", description="the drawn span across the family over its median nominal"),
]


@dg.asset(
    deps=["benchmark_dataset"],
    code_version=code_version(__name__, "models"),
    group_name="dataset",
    kinds={"pandas"},
    automation_condition=AFTER_PROMOTIONS,
    description="Coverage and quality of the whole dataset: counts per tier and family, parameter spread, "
    "the difficulty histogram and near-duplicates by geometric similarity, with PNG plots.",
)
def dataset_quality(
    context: dg.AssetExecutionContext, registry: RegistryResource, artifacts: ArtifactStoreResource
) -> dg.MaterializeResult:
    manifests = read_manifests(pulled_dataset(registry, artifacts))
    measured = measure(manifests)
    out = quality_dir()
    out.mkdir(parents=True, exist_ok=True)
    images = plots(measured["counts"], measured["scores"], measured["spread"])
    for name, png in images.items():
        write_file_atomically(out / f"{name}.png", png)
    document = {k: v for k, v in measured.items() if k not in ("counts", "spread", "scores")}
    document["spread"] = measured["spread"].to_dict(orient="records")
    write_file_atomically(out / "quality.json", json.dumps(document, indent=1).encode())
    artifacts.push(out, QUALITY_WORK)  # for the gallery's step, on whichever host it runs
    duplicates = measured["near_duplicates"]
    if duplicates:
        context.log.warning(f"{len(duplicates)} near-duplicate pair(s): {duplicates[:3]}")
    return dg.MaterializeResult(
        metadata={
            "benchmarks": measured["benchmarks"],
            "by_tier": dg.MetadataValue.json(measured["by_tier"]),
            "by_family": dg.MetadataValue.json(measured["by_family"]),
            "by_solvability": dg.MetadataValue.json(measured["by_solvability"]),
            "difficulty_mean": dg.MetadataValue.float(measured["difficulty"]["mean"] or 0.0),
            "difficulty_agreement": dg.MetadataValue.text(_agreement_words(measured["calibration"])),
            "difficulty_outliers": table(_OUTLIER_COLUMNS, measured["calibration"]["outliers"]),
            "near_duplicates": table(_DUPLICATE_COLUMNS, duplicates),
            "parameter_spread": table(_SPREAD_COLUMNS, measured["spread"].to_dict(orient="records")),
            **{f"plot_{name}": dg.MetadataValue.md(image_markdown(png, name)) for name, png in images.items()},
            "report": dg.MetadataValue.path(str(out / "quality.json")),
        },
        data_version=text_version(json.dumps(document, sort_keys=True, default=str)),
    )
