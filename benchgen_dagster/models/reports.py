"""What the worker reports: per-check, per-seed results, as pydantic models (also the sandbox's wire format)."""

from enum import StrEnum
from typing import Any

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


class CheckResult(BaseModel):
    check: Check
    passed: bool
    # None for checks over all seeds together (randomization, variety).
    seed: int | None = None
    message: str = ""
    # Numbers behind the verdict (speeds, spans, counts) for a person or a dashboard.
    details: dict[str, Any] = Field(default_factory=dict)


class PartMesh(BaseModel):
    name: str
    mesh_files: list[str]
    sha256: str
    volume_mm3: float
    mass_g: float
    convex_pieces: int
    decomposed: bool


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


class SeedOutcome(BaseModel):
    """Everything one seed produced inside the sandbox."""

    seed: int
    results: list[CheckResult] = []
    scene: SceneSpec | None = None
    parts: list[PartMesh] = []
    scene_digest: str | None = None
    mjcf_path: str | None = None
    simulation: SimulationTrace | None = None
    wall_s: float = 0.0

    @classmethod
    def failed(cls, seed: int, check: Check, message: str) -> "SeedOutcome":
        """The outcome of a seed that got no further than one failed check."""
        return cls(seed=seed, results=[CheckResult(check=check, seed=seed, passed=False, message=message)])


class ChildReport(BaseModel):
    """The JSON document the sandboxed child writes; the parent validates it and trusts nothing else."""

    seeds: list[SeedOutcome]
    peak_rss_mb: float = 0.0
    wall_s: float = 0.0


class Failure(BaseModel):
    check: str
    seed: int | None
    message: str


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
