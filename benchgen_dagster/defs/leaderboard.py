"""The solvers' leaderboard: a static page beside the gallery comparing every solver evaluated.

It reads every run of `solver_evaluations` through its input (a partition per solver run), keeps each
solver's latest, and ranks them by score, overall, per tier and per family (`models.evaluation.standings`).
The page is `leaderboard/index.html` under BENCHGEN_HOME, published beside the gallery's folder.
"""

from typing import Any

import dagster as dg

from benchgen_dagster.defs.artifacts import ArtifactStoreResource
from benchgen_dagster.defs.candidates import code_version
from benchgen_dagster.defs.dataset_index import AFTER_PROMOTIONS
from benchgen_dagster.defs.gallery import render_page
from benchgen_dagster.defs.metadata import table
from benchgen_dagster.models.evaluation import standings
from benchgen_dagster.paths import leaderboard_path

LEADERBOARD_JOB = "publish_leaderboard"
TEMPLATE = "leaderboard.html.j2"


def documents_of(loaded: Any) -> list[dict[str, Any]]:
    """The runs' documents, however many were loaded: the IO manager gives one run's document alone, and
    several as a mapping of partition keys to documents."""
    if not loaded:
        return []
    if isinstance(loaded, dict) and "solver" in loaded:
        return [loaded]
    return list(loaded.values())


_COLUMNS = [
    dg.TableColumn("solver"),
    dg.TableColumn("score", "float"),
    dg.TableColumn("solved", description="seeds solved of the seeds judged"),
    dg.TableColumn("benchmarks", "int"),
    dg.TableColumn("evaluated"),
]


@dg.asset(
    ins={"solver_evaluations": dg.AssetIn(metadata={"allow_missing_partitions": True})},
    code_version=code_version(__name__, "models", f"defs/templates/{TEMPLATE}"),
    group_name="evaluation",
    kinds={"html"},
    # Not `eager()`: it waits while any partition is missing, and a run that failed leaves its partition so.
    automation_condition=AFTER_PROMOTIONS,
    description="A static page beside the gallery comparing every solver evaluated (its latest run): score and "
    "seeds solved overall, per tier and per family.",
)
def solver_leaderboard(artifacts: ArtifactStoreResource, solver_evaluations: Any) -> dg.MaterializeResult:
    ranked = standings(documents_of(solver_evaluations))
    out = leaderboard_path()
    render_page(TEMPLATE, out, standings=ranked)
    location = artifacts.publish(out.parent, "leaderboard")
    rows = [
        {
            "solver": r["solver"],
            "score": r["score"],
            "solved": f"{r['solved']}/{r['seeds']}",
            "benchmarks": r["benchmarks"],
            "evaluated": r["evaluated_at"],
        }
        for r in ranked["overall"]
    ]
    return dg.MaterializeResult(
        metadata={
            "solvers": len(rows),
            "standings": table(_COLUMNS, rows),
            "page": dg.MetadataValue.path(str(out)),
            "published": location,
        }
    )
