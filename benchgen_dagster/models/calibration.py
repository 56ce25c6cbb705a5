"""Empirical difficulty: how hard the solvers found each benchmark, beside the feature-based score.

For each benchmark, over the latest run of every **non-trivial** solver that judged it (every solver
but the two bounds, `reference` and `none`, which are constant by design: the engineer agent, the
modules, any solver evaluated later):

    solve rate            = seeds solved / seeds judged, over every attempt (an engineer's designs are
                            each judged on every seed: `BenchmarkEvaluation.attempt_solved`)
    empirical difficulty  = 100 × (1 − solve rate)     (0 easiest – 100 hardest, as the feature score)

Seeds on which the benchmark's own scene failed count for no solver, nor does a run of an agent
whose model failed on that benchmark. **Agreement** with the
feature-based score (`models.difficulty`) is Spearman's rank correlation over the benchmarks that have
both; a benchmark is an **outlier** where its two percentile ranks differ by at least
`OUTLIER_RANK_GAP` (it ranks in the easy half by one score and the hard half by the other).
"""

from typing import Any

import pandas as pd
from pydantic import BaseModel

from benchgen_dagster.models.evaluation import NO_SOLUTION, REFERENCE, BenchmarkEvaluation

BOUNDS = (REFERENCE, NO_SOLUTION)
OUTLIER_RANK_GAP = 0.5
MIN_AGREEMENT_BENCHMARKS = 3


class EmpiricalDifficulty(BaseModel):
    """`score` (0 easiest – 100 hardest) from `solve_rate` over `trials` judged seeds of `solvers`."""

    score: float
    solve_rate: float
    trials: int
    solvers: list[str]


def _trials(found: BenchmarkEvaluation) -> tuple[int, int]:
    """(seeds solved, seeds judged) over every attempt; the benchmark's own failed seeds left out."""
    counted = [s for s in found.seeds if not s.scene_failed]
    if not found.attempt_solved:
        return sum(s.solved for s in counted), len(counted)
    # Each attempt judged every seed; the scene's failures are the same seeds each time, and never solved.
    return sum(found.attempt_solved), len(counted) * len(found.attempt_solved)


def empirical_difficulties(documents: list[dict[str, Any]]) -> dict[str, EmpiricalDifficulty]:
    """Each benchmark's empirical difficulty from solver runs (`SolverEvaluation.document`s): per solver and
    benchmark the latest run that judged it; benchmarks no non-trivial solver judged have none."""
    latest: dict[tuple[str, str], tuple[str, BenchmarkEvaluation]] = {}
    for document in documents:
        solver, when = str(document["solver"]), str(document.get("evaluated_at", ""))
        if solver in BOUNDS:
            continue
        for raw in document.get("evaluations", []):
            found = BenchmarkEvaluation.model_validate(raw)
            if found.model_failed:  # a provider's outage is no measure of the benchmark
                continue
            kept = latest.get((solver, found.benchmark_id))
            if kept is None or when >= kept[0]:
                latest[(solver, found.benchmark_id)] = (when, found)
    totals: dict[str, list[Any]] = {}
    for (solver, benchmark_id), (_, found) in sorted(latest.items()):
        solved, judged = _trials(found)
        if judged:
            entry = totals.setdefault(benchmark_id, [0, 0, []])
            entry[0], entry[1] = entry[0] + solved, entry[1] + judged
            entry[2].append(solver)
    return {
        benchmark_id: EmpiricalDifficulty(
            score=round(100 * (1 - solved / judged), 1),
            solve_rate=round(solved / judged, 3),
            trials=judged,
            solvers=solvers,
        )
        for benchmark_id, (solved, judged, solvers) in totals.items()
    }


def agreement(scores: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """How the feature-based and empirical scores (by benchmark: (feature, empirical)) agree: Spearman's rho
    (None under MIN_AGREEMENT_BENCHMARKS benchmarks, or where either score does not vary) and the outliers."""
    frame = pd.DataFrame([(k, f, e) for k, (f, e) in sorted(scores.items())], columns=["id", "feature", "empirical"])
    rho = None
    if len(frame) >= MIN_AGREEMENT_BENCHMARKS and frame["feature"].nunique() > 1 and frame["empirical"].nunique() > 1:
        rho = round(float(frame["feature"].corr(frame["empirical"], method="spearman")), 3)
    outliers = []
    if len(frame) >= MIN_AGREEMENT_BENCHMARKS:
        frame["feature_rank"] = frame["feature"].rank(pct=True)
        frame["empirical_rank"] = frame["empirical"].rank(pct=True)
        frame["gap"] = frame["empirical_rank"] - frame["feature_rank"]
        for row in frame[frame["gap"].abs() >= OUTLIER_RANK_GAP].itertuples():
            outliers.append(
                {
                    "id": row.id,
                    "feature": row.feature,
                    "empirical": row.empirical,
                    "rank_gap": round(float(row.gap), 3),
                    # Harder for the solvers than its features say (or easier).
                    "finding": "harder than scored" if row.gap > 0 else "easier than scored",
                }
            )
    return {"spearman": rho, "benchmarks": len(frame), "outliers": outliers}
