"""What the worker reports: per-check, per-seed results, as pydantic models (also the sandbox's wire format)."""

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from benchgen_dagster.models.scene import SceneSpec


class Check(StrEnum):
    """The named checks, in the order a scene meets them."""

    SCRIPT_RUNS = "script_runs"
    DETERMINISTIC = "deterministic"
    SOLID_VALID = "solid_valid"
    INSIDE_WORKSPACE = "inside_workspace"
    NO_INTERPENETRATION = "no_interpenetration"
    ZONES_CONSISTENT = "zones_consistent"
    MJCF_LOADS = "mjcf_loads"
    RANDOMIZATION_COVERAGE = "randomization_coverage"
    GEOMETRIC_VARIETY = "geometric_variety"
    STABILITY = "stability"
    NON_TRIVIAL = "non_trivial"
    SOLVABLE = "solvable"


class CheckResult(BaseModel):
    check: Check
    passed: bool
    # None for checks over all seeds together (randomization, variety).
    seed: int | None = None
    message: str = ""
    # Numbers behind the verdict (speeds, spans, counts) for a person or a dashboard.
    details: dict[str, Any] = Field(default_factory=dict)
    # The check never ran on this seed: an earlier seed hung and ended the check there.
    not_run: bool = False


class PartMesh(BaseModel):
    name: str
    mesh_files: list[str]
    sha256: str
    volume_mm3: float
    mass_g: float
    convex_pieces: int
    decomposed: bool
    # The part's box at spawn, in world millimetres (what difficulty and similarity are measured on).
    bounds_mm: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None


class SimulationTrace(BaseModel):
    duration_s: float
    steps: int
    steps_per_second: float
    max_speed_m_s: float
    max_penetration_mm: float
    energy_start_j: float
    energy_max_j: float
    final_speed_m_s: float
    moved_start_mm: tuple[float, float, float]
    moved_end_mm: tuple[float, float, float]


class SolutionTrace(BaseModel):
    """The reference solution of one seed: what it is made of and what it did in the scene."""

    parts: list[str]
    drives: int
    mass_g: float
    unit_cost: float
    max_weight_g: float | None = None
    max_unit_cost: float | None = None
    time_limit_s: float
    # When the moved object's centre of mass first entered the goal zone; None if it never did.
    reached_goal_s: float | None = None
    in_goal_at_end: bool = False
    # The moved object's speed over the last rest window: "at rest" means below rest_speed_m_s.
    final_speed_m_s: float = 0.0
    moved_end_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    problems: list[str] = []

    @property
    def weight_margin(self) -> float | None:
        """The share of the weight budget left over (0: exactly at the limit)."""
        return None if not self.max_weight_g else 1.0 - self.mass_g / self.max_weight_g

    @property
    def cost_margin(self) -> float | None:
        return None if not self.max_unit_cost else 1.0 - self.unit_cost / self.max_unit_cost


SeedStatus = Literal["judged", "build_failed", "not_run"]


class SeedOutcome(BaseModel):
    """Everything the judge found for one seed (or why it had nothing to judge)."""

    seed: int
    status: SeedStatus = "judged"
    results: list[CheckResult] = []
    scene: SceneSpec | None = None
    parts: list[PartMesh] = []
    # The judge's compiled meshes and MJCF (what is promoted), and the builder's output it read.
    scene_digest: str | None = None
    input_digest: str | None = None
    mjcf_path: str | None = None
    simulation: SimulationTrace | None = None
    solution: SolutionTrace | None = None
    wall_s: float = 0.0

    @classmethod
    def failed(cls, seed: int, check: Check, message: str) -> "SeedOutcome":
        """The outcome of a seed that got no further than one failed check."""
        return cls(
            seed=seed,
            status="build_failed",
            results=[CheckResult(check=check, seed=seed, passed=False, message=message)],
        )

    @classmethod
    def skipped(cls, seed: int, reason: str) -> "SeedOutcome":
        """A seed the check never ran ("not run"): it failed nothing, and proved nothing either."""
        return cls(
            seed=seed,
            status="not_run",
            results=[
                CheckResult(
                    check=Check.SCRIPT_RUNS, seed=seed, passed=False, not_run=True, message=f"not run: {reason}"
                )
            ],
        )


class JudgeSummary(BaseModel):
    """What the judge process reports about itself beside its per-seed verdicts."""

    seeds: list[int]
    peak_rss_mb: float = 0.0
    wall_s: float = 0.0


class Failure(BaseModel):
    check: str
    seed: int | None
    message: str
    not_run: bool = False


class CheckReport(BaseModel):
    """The verdict of `benchgen check`: every check for every seed, plus the cross-seed checks."""

    script: str
    seeds: list[int]
    passed: bool
    failures: list[Failure]
    results: list[CheckResult]
    outcomes: list[SeedOutcome] = []
    sandbox: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = []
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    # Reused from the verdict cache: the same script, seeds and settings judged by the same judge before.
    cached: bool = False

    @property
    def solvability(self) -> str:
        """`proven` (the reference solution solved every seed), `failed`, or `unproven` (no solution())."""
        results = [r for r in self.results if r.check == Check.SOLVABLE]
        if not results:
            return "unproven"
        return "proven" if all(r.passed for r in results) and len(results) == len(self.seeds) else "failed"
