"""The benchmark script contract: what `build(seed, scale)` returns.

A script builds its parts with build123d (millimetres, grams) and describes them with the classes
here; the worker turns the result into meshes and MJCF. This module is imported by untrusted
scripts inside the sandbox, so it stays small and free of I/O. It does not import build123d: parts
carry whatever shape object the script made, and the compiler checks it.
"""

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from benchgen_dagster.models.materials import MATERIALS, Material, material_named
from benchgen_dagster.models.scene import (
    Constraints,
    JointSpec,
    ParamRecord,
    PartSpec,
    SceneSpec,
    Vec3,
    ZoneSpec,
)

Role = Literal["fixed", "free", "hinged", "sliding"]

_SEED_BITS = 32
_PART_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")


@dataclass(frozen=True)
class Zone:
    """An axis-aligned box in millimetres, given by its low and high corners."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "lo", tuple(float(v) for v in self.lo))
        object.__setattr__(self, "hi", tuple(float(v) for v in self.hi))

    @classmethod
    def around(cls, center: Sequence[float], size: Sequence[float]) -> "Zone":
        c, s = np.asarray(center, float), np.asarray(size, float) / 2
        return cls(tuple(c - s), tuple(c + s))

    def spec(self) -> ZoneSpec:
        return ZoneSpec(lo=self.lo, hi=self.hi)


def _param_mask(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def _bit_reverse(value: int, bits: int = _SEED_BITS) -> int:
    return int(format(value % (1 << bits), f"0{bits}b")[::-1], 2)


class ParamSampler:
    """Draws a benchmark's randomized parameters for one seed, deterministically.

    Draws are a digitally scrambled van der Corput sequence over the seed: any aligned block of
    2^k consecutive seeds puts exactly one draw of every parameter in each of 2^k equal strata of
    its range, so 8 checked seeds span more than 75 % of every declared range. Each parameter has
    its own scramble (from its name), so parameters do not move in lockstep.
    """

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.seed = seed
        self.records: dict[str, ParamRecord] = {}
        # For randomness that is not a declared parameter (textures of clutter, say).
        self.rng = np.random.default_rng(seed)

    def unit(self, name: str) -> float:
        """The stratified draw in [0, 1) for parameter `name` at this seed."""
        scrambled = _bit_reverse(self.seed) ^ _param_mask(name)
        return scrambled / float(1 << _SEED_BITS)

    def _record(self, record: ParamRecord) -> None:
        if record.name in self.records:
            raise ValueError(f"parameter {record.name!r} is declared twice")
        self.records[record.name] = record

    def param(
        self,
        name: str,
        nominal: float,
        spread: float = 0.4,
        *,
        low: float | None = None,
        high: float | None = None,
    ) -> float:
        """A continuous parameter: `nominal` ± `spread` (a fraction), or the explicit [low, high]."""
        lo = nominal - abs(nominal) * spread if low is None else low
        hi = nominal + abs(nominal) * spread if high is None else high
        if not lo <= nominal <= hi or lo == hi:
            raise ValueError(f"parameter {name!r}: range [{lo}, {hi}] must contain nominal {nominal}")
        value = lo + (hi - lo) * self.unit(name)
        self._record(ParamRecord(name=name, kind="float", nominal=nominal, low=lo, high=hi, value=value))
        return value

    def integer(self, name: str, nominal: int, low: int, high: int) -> int:
        """An integer parameter drawn from [low, high] inclusive."""
        if not low <= nominal <= high or low == high:
            raise ValueError(f"parameter {name!r}: range [{low}, {high}] must contain nominal {nominal}")
        value = low + min(int(self.unit(name) * (high - low + 1)), high - low)
        self._record(ParamRecord(name=name, kind="int", nominal=nominal, low=low, high=high, value=value))
        return value

    def choice(self, name: str, options: Sequence[str]) -> str:
        """One of `options`; coverage means every option appears across enough seeds."""
        if len(options) < 2:
            raise ValueError(f"parameter {name!r}: a choice needs at least two options")
        index = min(int(self.unit(name) * len(options)), len(options) - 1)
        self._record(
            ParamRecord(
                name=name,
                kind="choice",
                nominal=0,
                low=0,
                high=len(options) - 1,
                value=index,
                options=list(options),
            )
        )
        return options[index]


_last_sampler: list[ParamSampler] = []


def sampler(seed: int) -> ParamSampler:
    """The parameter sampler for `seed`; the Scene built next picks up its draws."""
    p = ParamSampler(seed)
    _last_sampler[:] = [p]
    return p


@dataclass
class Part:
    """A named solid with a role in the scene.

    - `fixed`: environment, welded to the world.
    - `free`: a body with six degrees of freedom.
    - `hinged`: rotates about `axis` through `anchor` (mm), `limits` in degrees.
    - `sliding`: translates along `axis`, `limits` in millimetres from where it is built.

    A hinged or sliding part may declare `drive`: a simple actuator (a velocity servo) that turns it
    at `drive` deg/s or slides it at `drive` mm/s until its limit stops it; with `delay` (s) it holds
    the joint still until then. Solutions use it; a benchmark's own parts should stay passive (the
    simulation gate expects no energy from nowhere).
    """

    name: str
    shape: Any
    role: Role = "fixed"
    material: str | Material = "abs"
    color: tuple[float, float, float, float] | None = None
    axis: tuple[float, float, float] | None = None
    anchor: tuple[float, float, float] | None = None
    limits: tuple[float, float] | None = None
    damping: float = 0.0
    drive: float | None = None
    delay: float = 0.0

    def spec(self) -> PartSpec:
        if not _PART_NAME.fullmatch(self.name):
            raise ValueError(
                f"part name {self.name!r} must be 1-64 letters, digits, '_' or '-', starting with a letter or '_'"
            )
        material = self.material if isinstance(self.material, Material) else material_named(self.material)
        joint = None
        if (self.drive is not None or self.delay) and self.role not in ("hinged", "sliding"):
            raise ValueError(f"part {self.name!r} is {self.role}: only hinged or sliding parts can be driven")
        if self.role in ("hinged", "sliding"):
            if self.axis is None or self.limits is None:
                raise ValueError(f"part {self.name!r} is {self.role}: it needs an axis and limits")
            if self.role == "hinged" and self.anchor is None:
                raise ValueError(f"part {self.name!r} is hinged: it needs an anchor point")
            joint = JointSpec(
                kind="hinge" if self.role == "hinged" else "slide",
                axis=self.axis,
                anchor=self.anchor or (0.0, 0.0, 0.0),
                limits=self.limits,
                damping=self.damping,
                drive=self.drive,
                delay=self.delay,
            )
        return PartSpec(
            name=self.name,
            role=self.role,
            material=material,
            rgba=self.color or material.rgba,
            joint=joint,
        )


@dataclass
class Scene:
    """What a benchmark script's `build` returns: parts, zones, objectives and constraints."""

    workspace: Zone
    scale: float = 1.0
    params: ParamSampler | None = None
    parts: list[Part] = field(default_factory=list)
    moved_object: str | None = None
    goal_zone: Zone | None = None
    build_zone: Zone | None = None
    forbid_zones: list[Zone] = field(default_factory=list)
    limits: Constraints = field(default_factory=Constraints)
    title: str = ""

    def value(self, name: str) -> float:
        """The value this seed drew for parameter `name` (what a `solution()` reads to fit the scene)."""
        p = self.params or (_last_sampler[0] if _last_sampler else None)
        if p is None or name not in p.records:
            raise KeyError(f"the scene has no parameter named {name!r}")
        return p.records[name].value

    def add(self, part: Part) -> Part:
        if any(p.name == part.name for p in self.parts):
            raise ValueError(f"a part named {part.name!r} is already in the scene")
        self.parts.append(part)
        return part

    def objectives(
        self,
        moved: str,
        goal: Zone,
        build: Zone,
        forbid: Iterable[Zone] = (),
    ) -> None:
        self.moved_object, self.goal_zone, self.build_zone = moved, goal, build
        self.forbid_zones = list(forbid)

    def constraints(
        self,
        max_unit_cost: float | None = None,
        max_weight: float | None = None,
        target_quantity: int | None = None,
    ) -> None:
        """`max_unit_cost` in currency units, `max_weight` in grams, `target_quantity` in units made."""
        self.limits = Constraints(max_unit_cost=max_unit_cost, max_weight_g=max_weight, target_quantity=target_quantity)

    def spec(self) -> SceneSpec:
        """Everything but the shapes, as a validated schema (what reports and manifests keep)."""
        p = self.params or (_last_sampler[0] if _last_sampler else None)
        if self.moved_object is None or self.goal_zone is None or self.build_zone is None:
            raise ValueError("the scene has no objectives: call scene.objectives(moved=..., goal=..., build=...)")
        return SceneSpec(
            title=self.title,
            scale=self.scale,
            workspace=self.workspace.spec(),
            parts=[part.spec() for part in self.parts],
            moved_object=self.moved_object,
            goal_zone=self.goal_zone.spec(),
            build_zone=self.build_zone.spec(),
            forbid_zones=[z.spec() for z in self.forbid_zones],
            constraints=self.limits,
            params=list(p.records.values()) if p else [],
        )


__all__ = [
    "MATERIALS",
    "Material",
    "ParamSampler",
    "Part",
    "Scene",
    "Vec3",
    "Zone",
    "sampler",
]
