"""A solver judged on a dataset: the task a solver is given, what the judge found, and the score.

A **task** is the read-only view of one benchmark at one seed that a solver designs from: the scene as
the judge compiled it (its parts' names, roles, materials and bounds, the moved object), the build,
goal and forbid zones, the constraints (weight, unit cost), the parameters the seed drew, and the
benchmark's renders. It never holds the reference solution nor the script.

**The score** of a benchmark, between 0 and 1:

    seed score  = 0 if the seed is not solved, else 0.75 + 0.25 × quality
    quality     = the mean of the margins the benchmark has: weight left (1 − mass / max_weight),
                  cost left (1 − unit cost / max_unit_cost), and time left (1 − time to the goal /
                  time limit), each clipped to [0, 1]
    score       = mean seed score × 0.9 ** (attempts − 1)

Solving counts most (a solved seed is worth at least 0.75); a lighter, cheaper, quicker solution
scores more, and every attempt beyond the first costs a tenth. A solver's total is the mean of its
benchmarks' scores, each benchmark counted once whatever its seeds.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from benchgen_dagster.models.reports import PartMesh
from benchgen_dagster.models.scene import Constraints, ParamRecord, PartSpec, ZoneSpec

SOLVED_FLOOR = 0.75
ATTEMPT_DISCOUNT = 0.9
# The solvers that need no module: the script's own solution (the upper bound) and none at all (the lower).
REFERENCE, NO_SOLUTION = "reference", "none"


class TaskPart(BaseModel):
    """One part of the scene: what it is and where the judge found it (bounds in mm)."""

    model_config = ConfigDict(frozen=True)

    spec: PartSpec
    bounds_mm: tuple[tuple[float, float, float], tuple[float, float, float]]
    mass_g: float


class Task(BaseModel):
    """What a solver is given for one benchmark at one seed (`solve(task, seed) -> list[Part]`)."""

    model_config = ConfigDict(frozen=True)

    benchmark_id: str
    family: str | None = None
    tier: int | None = None
    seed: int
    title: str = ""
    scale: float
    moved_object: str
    parts: list[TaskPart]
    workspace: ZoneSpec
    goal_zone: ZoneSpec
    build_zone: ZoneSpec
    forbid_zones: list[ZoneSpec] = []
    constraints: Constraints = Constraints()
    params: list[ParamRecord] = []
    # Where the benchmark's renders are (seed 0's views, when it has them), to look at, not to parse.
    renders: list[str] = []

    def part(self, name: str) -> TaskPart:
        for part in self.parts:
            if part.spec.name == name:
                return part
        raise KeyError(f"the scene has no part {name!r}")

    def param(self, name: str) -> float:
        for param in self.params:
            if param.name == name:
                return param.value
        raise KeyError(f"the benchmark has no parameter {name!r}")


def task_parts(parts: list[PartMesh], specs: list[PartSpec]) -> list[TaskPart]:
    by_name = {spec.name: spec for spec in specs}
    return [TaskPart(spec=by_name[p.name], bounds_mm=p.bounds_mm, mass_g=p.mass_g) for p in parts if p.name in by_name]


class SeedEvaluation(BaseModel):
    """The judge's finding for one seed of one benchmark."""

    seed: int
    solved: bool
    message: str = ""
    mass_g: float | None = None
    unit_cost: float | None = None
    weight_margin: float | None = None
    cost_margin: float | None = None
    reached_goal_s: float | None = None
    time_limit_s: float | None = None
    # The benchmark's own scene did not build, or failed the judge's geometry, on this seed: unsolved for
    # every solver alike, and the benchmark's fault (the audit's business), not the solver's.
    scene_failed: bool = False

    @property
    def quality(self) -> float:
        margins = [self.weight_margin, self.cost_margin]
        if self.reached_goal_s is not None and self.time_limit_s:
            margins.append(1.0 - self.reached_goal_s / self.time_limit_s)
        kept = [min(1.0, max(0.0, m)) for m in margins if m is not None]
        return sum(kept) / len(kept) if kept else 1.0

    @property
    def score(self) -> float:
        return SOLVED_FLOOR + (1.0 - SOLVED_FLOOR) * self.quality if self.solved else 0.0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


class BenchmarkEvaluation(BaseModel):
    """One benchmark, judged on the seeds given, with what the solver made of it."""

    benchmark_id: str
    family: str | None = None
    tier: int | None = None
    seeds: list[SeedEvaluation]
    attempts: int = Field(default=1, ge=1)
    # Seeds solved by each attempt, in order (an engineer's designs, each judged on every seed); empty for a
    # solver of one attempt, whose seeds say it. What the empirical difficulty counts.
    attempt_solved: list[int] = []
    # The solver was an agent whose model failed (after its retries, or out of its budget): what it left is
    # judged and scored, but it says nothing about the benchmark, so the calibration leaves it out.
    model_failed: bool = False
    # Why the benchmark could not be evaluated at all (its scene did not build on these seeds).
    error: str | None = None

    @property
    def solved_share(self) -> float:
        return sum(s.solved for s in self.seeds) / len(self.seeds) if self.seeds else 0.0

    @property
    def score(self) -> float:
        mean = _mean([s.score for s in self.seeds]) or 0.0
        return mean * ATTEMPT_DISCOUNT ** (self.attempts - 1)

    def summary(self) -> dict[str, Any]:
        """The row a person reads: solved share, the solved seeds' mean margins and time, attempts, score."""
        solved = [s for s in self.seeds if s.solved]

        def mean_of(name: str) -> float | None:
            found = [getattr(s, name) for s in solved if getattr(s, name) is not None]
            return round(m, 3) if (m := _mean(found)) is not None else None

        first = next((s.message for s in self.seeds if not s.solved and s.message), self.error or "")
        return {
            "benchmark_id": self.benchmark_id,
            "family": self.family,
            "tier": self.tier,
            "seeds": len(self.seeds),
            "solved": len(solved),
            "solved_share": round(self.solved_share, 3),
            "weight_margin": mean_of("weight_margin"),
            "cost_margin": mean_of("cost_margin"),
            "time_to_goal_s": mean_of("reached_goal_s"),
            "attempts": self.attempts,
            "score": round(self.score, 3),
            "scene_failures": sum(s.scene_failed for s in self.seeds),
            "first_failure": first[:300],
        }


class SolverEvaluation(BaseModel):
    """A solver's run over a dataset: every benchmark's evaluation and the total."""

    solver: str
    seeds_per_benchmark: int
    benchmarks: list[BenchmarkEvaluation]
    wall_s: float = 0.0
    evaluated_at: str = ""

    @property
    def score(self) -> float:
        return _mean([b.score for b in self.benchmarks]) or 0.0

    @property
    def solved_share(self) -> float:
        seeds = [s for b in self.benchmarks for s in b.seeds]
        return sum(s.solved for s in seeds) / len(seeds) if seeds else 0.0

    def document(self) -> dict[str, Any]:
        rows = [b.summary() for b in self.benchmarks]
        return {
            "solver": self.solver,
            "evaluated_at": self.evaluated_at,
            "seeds_per_benchmark": self.seeds_per_benchmark,
            "benchmarks": len(rows),
            "solved_share": round(self.solved_share, 3),
            "score": round(self.score, 3),
            "wall_s": round(self.wall_s, 1),
            "results": rows,
            "evaluations": [b.model_dump(mode="json") for b in self.benchmarks],
        }


def _score_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    seeds = sum(int(r["seeds"]) for r in rows)
    solved = sum(int(r["solved"]) for r in rows)
    return {
        "benchmarks": len(rows),
        "solved": solved,
        "seeds": seeds,
        "solved_share": round(solved / seeds, 3) if seeds else 0.0,
        "score": round(sum(float(r["score"]) for r in rows) / len(rows), 3) if rows else 0.0,
    }


def standings(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The leaderboard of solver runs (`SolverEvaluation.document`s): for each solver the run over the most
    benchmarks (the latest of those: a run over a few ids does not stand for a solver), best score first,
    and its score and solved share per tier and per family (a benchmark counted once in each)."""

    def standing(document: dict[str, Any]) -> tuple[int, str]:
        return len(document["results"]), str(document.get("evaluated_at", ""))

    latest: dict[str, dict[str, Any]] = {}
    for document in documents:
        kept = latest.get(document["solver"])
        if kept is None or standing(document) >= standing(kept):
            latest[document["solver"]] = document
    runs = sorted(latest.values(), key=lambda d: (-float(d["score"]), d["solver"]))
    solvers = [d["solver"] for d in runs]

    def grouped(field: str) -> list[dict[str, Any]]:
        groups = sorted({str(r[field]) for d in runs for r in d["results"]})
        return [
            {
                field: group,
                "by_solver": {
                    d["solver"]: _score_of([r for r in d["results"] if str(r[field]) == group]) for d in runs
                },
            }
            for group in groups
        ]

    return {
        "solvers": solvers,
        "overall": [
            {"solver": d["solver"], "evaluated_at": d.get("evaluated_at", ""), **_score_of(d["results"])} for d in runs
        ],
        "by_tier": grouped("tier"),
        "by_family": grouped("family"),
    }
