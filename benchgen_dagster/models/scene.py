"""The shape-free description of a compiled scene: what reports, manifests and the MJCF writer share."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchgen_dagster.models.materials import Material

Vec3 = tuple[float, float, float]


class ZoneSpec(BaseModel):
    """An axis-aligned box, millimetres."""

    model_config = ConfigDict(frozen=True)

    lo: Vec3
    hi: Vec3

    @property
    def well_formed(self) -> bool:
        return all(h > lo for lo, h in zip(self.lo, self.hi, strict=True))

    def contains_point(self, point: Vec3) -> bool:
        return all(lo <= v <= h for lo, v, h in zip(self.lo, point, self.hi, strict=True))

    def contains_box(self, lo: Vec3, hi: Vec3, tolerance: float = 0.0) -> bool:
        return all(
            zl - tolerance <= bl and bh <= zh + tolerance
            for zl, bl, bh, zh in zip(self.lo, lo, hi, self.hi, strict=True)
        )

    def overlaps(self, other: "ZoneSpec") -> bool:
        """True when the two boxes share volume (touching faces do not count)."""
        return all(
            a_lo < b_hi and b_lo < a_hi
            for a_lo, a_hi, b_lo, b_hi in zip(self.lo, self.hi, other.lo, other.hi, strict=True)
        )

    def scaled(self, factor: float) -> "ZoneSpec":
        return ZoneSpec(
            lo=tuple(v * factor for v in self.lo),
            hi=tuple(v * factor for v in self.hi),
        )


class JointSpec(BaseModel):
    kind: Literal["hinge", "slide"]
    axis: Vec3
    anchor: Vec3 = (0.0, 0.0, 0.0)
    # Degrees for a hinge, millimetres for a slide.
    limits: tuple[float, float]
    damping: float = Field(default=0.0, ge=0)
    # A declared actuator: a velocity servo that turns (deg/s) or slides (mm/s) the joint at this
    # speed until the joint's limit stops it. None: the joint is passive.
    drive: float | None = None
    # Seconds the drive holds its joint still before it starts (so one drive can wait for another).
    delay: float = Field(default=0.0, ge=0, le=60)

    @model_validator(mode="after")
    def _axis_and_limits(self) -> "JointSpec":
        if sum(v * v for v in self.axis) < 1e-12:
            raise ValueError("joint axis must not be the zero vector")
        if self.limits[0] >= self.limits[1]:
            raise ValueError(f"joint limits {self.limits} must be increasing")
        if self.drive is not None and self.drive == 0:
            raise ValueError("a drive speed of 0 drives nothing: leave drive=None for a passive joint")
        if self.delay and self.drive is None:
            raise ValueError("a delay belongs to a drive: this joint has none")
        return self


class PartSpec(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
    role: Literal["fixed", "free", "hinged", "sliding"]
    material: Material
    rgba: tuple[float, float, float, float]
    joint: JointSpec | None = None


class Constraints(BaseModel):
    max_unit_cost: float | None = None
    max_weight_g: float | None = None
    target_quantity: int | None = None


class ParamRecord(BaseModel):
    """A randomized parameter: its declared range and the value drawn for one seed."""

    name: str
    kind: Literal["float", "int", "choice"]
    nominal: float
    low: float
    high: float
    value: float
    options: list[str] | None = None


class SceneSpec(BaseModel):
    title: str = ""
    scale: float = Field(gt=0)
    workspace: ZoneSpec
    parts: list[PartSpec]
    moved_object: str
    goal_zone: ZoneSpec
    build_zone: ZoneSpec
    forbid_zones: list[ZoneSpec] = []
    constraints: Constraints = Constraints()
    params: list[ParamRecord] = []

    @property
    def time_scale(self) -> float:
        """How much longer things take in this scene than at scale 1: √scale.

        Gravity does not scale with the layout, so a scene grown by `scale` plays out as the same puzzle
        (Froude similarity: a ball thrown at √scale the speed lands scale as far) when its times grow by
        √scale: drive speeds, delays and the judge's time limits follow it."""
        return float(self.scale) ** 0.5
