"""A promoted benchmark's manifest (`benchmark.yaml`): what it is, how it was checked, where it came from.

Every manifest ever written loads: the fields added over time (`judge`, `solvability`, `difficulty`)
are optional, everything but the id has the default readers always assumed, and keys this model does
not name are kept (`extra="allow"`), so a manifest from an older or a newer benchgen loads and is
written back with what it had. Written back, a manifest holds the keys it was read or built with
(`exclude_unset`), in the order promotion writes them.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchgen_dagster.models.calibration import EmpiricalDifficulty
from benchgen_dagster.paths import MANIFEST


class ManifestError(ValueError):
    """A manifest that cannot be read: not YAML, not a mapping, or a field of the wrong type."""


class NotAManifest(ManifestError):
    """A `benchmark.yaml` that holds no mapping at all (empty, or a single value)."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class ParameterRange(_Lenient):
    """A randomized parameter: the range the script declares and the values the checked seeds drew."""

    nominal: float
    low: float
    high: float
    min: float
    max: float


class ChecksEntry(_Lenient):
    passed: bool = True
    failed: list[Any] = Field(default_factory=list)


class JudgeEntry(_Lenient):
    """Who computed the verdicts: `judged` by the trusted judge of `version` on `seeds`, or `failed` (why)."""

    status: str
    version: str | None = None
    seeds: list[int] | None = None
    reason: str | None = None


class ReferenceSolution(_Lenient):
    parts: list[str] | None = None
    drives: int | None = None
    mass_g: float | None = None
    unit_cost: float | None = None
    reached_goal_s: float | None = None
    time_limit_s: float | None = None


class SolvabilityEntry(_Lenient):
    """`proven` by the reference solution on `seeds`, or `unproven` (and why)."""

    status: str = "unproven"
    seeds: list[int] | None = None
    reference_solution: ReferenceSolution | None = None
    reason: str | None = None


class Difficulty(BaseModel):
    """The difficulty score (0 easiest – 100 hardest) and its features over `seeds` (models.difficulty)."""

    score: float
    features: dict[str, float]
    seeds: int


class ReviewEntry(_Lenient):
    decision: str | None = None
    comments: str | None = None


class Provenance(_Lenient):
    candidate: str | None = None
    request_id: str | None = None
    prompt: str | None = None
    model: str | None = None
    plan_sha256: str | None = None
    script_sha256: str | None = None
    skill_versions: dict[str, str] = Field(default_factory=dict)
    code_version: str | None = None
    human_approved: bool | None = None


class BenchmarkManifest(_Lenient):
    """`benchmark.yaml`: the benchmark's id, title, tier, family, scale, objectives, parameter ranges, checked
    seeds, checks, judge, solvability, difficulty, review and provenance (promotion writes them in this order)."""

    id: str
    title: str | None = None
    tier: int | None = None
    family: str | None = None
    # The scale its scene is built at (its layout grown to reach a larger request, > 1): lengths in the
    # parameter ranges are the script's, before the scale.
    scale: float = 1.0
    learning_objectives: list[str] = Field(default_factory=list)
    parameters: dict[str, ParameterRange] = Field(default_factory=dict)
    seeds_checked: list[int] = Field(default_factory=list)
    checks: ChecksEntry = Field(default_factory=ChecksEntry)
    # Absent from manifests promoted before the trusted judge: never judged by it.
    judge: JudgeEntry | None = None
    # Absent from manifests promoted before solvability was checked: unproven.
    solvability: SolvabilityEntry | None = None
    difficulty: Difficulty | None = None
    # How hard the solvers evaluated on it found it (models.calibration), once any non-trivial one has.
    empirical_difficulty: EmpiricalDifficulty | None = None
    review: ReviewEntry = Field(default_factory=ReviewEntry)
    provenance: Provenance = Field(default_factory=Provenance)
    promoted_at: datetime | str | None = None
    # The benchmark's folder, when read from one; never written.
    folder: Path | None = Field(default=None, exclude=True)

    @property
    def path(self) -> Path:
        """The benchmark's folder (a manifest read from one); ValueError for a manifest built in memory."""
        if self.folder is None:
            raise ValueError(f"the manifest of {self.id} was not read from a folder")
        return self.folder

    @property
    def solvability_status(self) -> str:
        return self.solvability.status if self.solvability else "unproven"

    @classmethod
    def read(cls, path: Path) -> "BenchmarkManifest":
        """The manifest at `path` (`<folder>/benchmark.yaml`); its id is the folder's name when it names none.
        Raises ManifestError for one that is not a manifest, OSError for one that cannot be read."""
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise ManifestError(f"{path} is not YAML: {error}") from None
        if not isinstance(data, dict):
            raise NotAManifest(f"{path} is not a mapping of manifest fields")
        try:
            return cls.model_validate({"id": path.parent.name, **data, "folder": path.parent})
        except ValidationError as error:
            raise ManifestError(f"{path}: {error}") from None

    def document(self) -> dict[str, Any]:
        """The manifest as plain data, with the keys it was built or read with."""
        return self.model_dump(exclude_unset=True)

    def to_yaml(self, allow_unicode: bool = True) -> str:
        """The text of `benchmark.yaml`."""
        return yaml.safe_dump(self.document(), sort_keys=False, allow_unicode=allow_unicode)


def read_manifests(dataset: Path) -> list[BenchmarkManifest]:
    """Every complete benchmark of `dataset` (a folder with a manifest; a hidden one is still being built)."""
    manifests = []
    for path in sorted(dataset.glob(f"*/{MANIFEST}")):
        if path.parent.name.startswith("."):
            continue
        try:
            manifests.append(BenchmarkManifest.read(path))
        except NotAManifest:
            continue
    return manifests
