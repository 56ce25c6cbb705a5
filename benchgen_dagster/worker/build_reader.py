"""The judge's reading of what the builder wrote: bounded, schema-validated, never executed.

`seeds/<seed>/build.json` is validated with pydantic (`models.build.BuildRecord`); each mesh is a
strict binary PLY (the one layout the builder writes) parsed with numpy into a trimesh mesh, with
counts, sizes, indices and coordinates bounded. The digest of every byte read is what the
determinism check compares between two builds.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from benchgen_dagster.models.build import (
    BUILD_ERROR,
    BUILD_RECORD,
    BUILD_STATUS,
    MESH_FOLDER,
    BuildFailure,
    BuildRecord,
    BuiltPart,
)
from benchgen_dagster.models.scene import PartSpec, SceneSpec
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.compile import InputPart, SolidMesh, clean_mesh

MAX_RECORD_BYTES = 4 * 1024 * 1024
MAX_MESH_BYTES = 64 * 1024 * 1024
MAX_SEED_BYTES = 256 * 1024 * 1024
# Triangles per mesh file and per seed: far beyond a benchmark part (a few thousand at 0.2 mm), and
# small enough that no mesh keeps the judge (its decomposition, its contacts) busy for long.
MAX_FACES = 200_000
MAX_SEED_FACES = 1_000_000
# Millimetres: a kilometre is no benchmark.
MAX_COORDINATE_MM = 1_000_000.0
_PLY_HEADER = re.compile(
    rb"ply\nformat binary_little_endian 1\.0\n"
    rb"element vertex (\d{1,9})\nproperty double x\nproperty double y\nproperty double z\n"
    rb"element face (\d{1,9})\nproperty list uchar int vertex_indices\nend_header\n"
)
_FACE = np.dtype([("n", "u1"), ("i", "<i4", (3,))])


class BuildInputError(ValueError):
    """The builder's output for a seed cannot be judged; the message says which file and why."""


@dataclass
class SceneInput:
    """One seed as the judge sees it: the declared scene, its parts' meshes, the solution's."""

    seed: int
    spec: SceneSpec
    parts: list[InputPart]
    solution: list[InputPart] | None
    solution_error: str | None
    # sha256 over every file read, in order: two builds of a deterministic script give the same.
    digest: str


def parse_ply(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    header = _PLY_HEADER.match(data)
    if header is None:
        raise BuildInputError(f"{name} is not a binary PLY mesh of the builder's layout")
    vertices, faces = int(header.group(1)), int(header.group(2))
    if faces > MAX_FACES:
        raise BuildInputError(f"{name} has {faces} triangles (at most {MAX_FACES})")
    start = header.end()
    if len(data) != start + 24 * vertices + _FACE.itemsize * faces:
        raise BuildInputError(f"{name} is truncated or has trailing bytes")
    v = np.frombuffer(data, "<f8", count=3 * vertices, offset=start).reshape(-1, 3)
    rows = np.frombuffer(data, _FACE, count=faces, offset=start + 24 * vertices)
    if not np.isfinite(v).all() or (len(v) and np.abs(v).max() > MAX_COORDINATE_MM):
        raise BuildInputError(f"{name} has coordinates that are not finite or beyond {MAX_COORDINATE_MM:g} mm")
    f = rows["i"].astype(np.int64)
    if (rows["n"] != 3).any() or (len(f) and (f.min() < 0 or f.max() >= vertices)):
        raise BuildInputError(f"{name} has faces that are not triangles of its own vertices")
    return v, f


class _Reader:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.digest = hashlib.sha256()
        self.total = 0
        self.faces = 0

    def read(self, relative: str, limit: int) -> bytes:
        try:
            data = safe_files.read_bytes(self.folder, relative, limit)
        except safe_files.UnsafeFileError as error:
            raise BuildInputError(f"the builder's {relative} is unusable: {error}") from None
        self.total += len(data)
        if self.total > MAX_SEED_BYTES:
            raise BuildInputError(f"the builder wrote more than {MAX_SEED_BYTES // 2**20} MB for one seed")
        self.digest.update(relative.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
        return data

    def parts(self, built: list[BuiltPart], scale: float) -> list[InputPart]:
        parts = []
        for part in built:
            solids = []
            for solid in part.solids:
                v, f = parse_ply(self.read(f"{MESH_FOLDER}/{solid.mesh}", MAX_MESH_BYTES), solid.mesh)
                self.faces += len(f)
                if self.faces > MAX_SEED_FACES:
                    raise BuildInputError(f"the builder wrote more than {MAX_SEED_FACES} triangles for one seed")
                solids.append(SolidMesh(mesh=clean_mesh(v, f, scale), cad_valid=solid.cad_valid))
            parts.append(InputPart(spec=part.spec, solids=solids))
        return parts


def scaled_parts(parts: list[PartSpec], factor: float) -> list[PartSpec]:
    """Joints scaled about the origin like the meshes, and in time by √factor (`SceneSpec.time_scale`).

    Lengths (anchors, slide limits) grow by `factor`; slide speeds by √factor, hinge speeds (deg/s) by
    1/√factor, delays by √factor. Damping grows with the forces it must give at the new speeds: a slide's
    (force per speed) by factor^2.5, a hinge's (torque per angular speed) by factor^4.5."""
    scaled = []
    time = factor**0.5
    for part in parts:
        joint = part.joint
        if joint is not None and factor != 1.0:
            slide = joint.kind == "slide"
            drive = None if joint.drive is None else joint.drive * (factor / time if slide else 1 / time)
            update = {
                "anchor": tuple(v * factor for v in joint.anchor),
                "limits": (joint.limits[0] * factor, joint.limits[1] * factor) if slide else joint.limits,
                "drive": drive,
                "delay": joint.delay * time,
                "damping": joint.damping * factor ** (2.5 if slide else 4.5),
            }
            scaled.append(part.model_copy(update={"joint": joint.model_copy(update=update)}))
        else:
            scaled.append(part)
    return scaled


def scaled_spec(spec: SceneSpec) -> SceneSpec:
    """The scene at its scale: zones and joints scaled like the meshes, and the weight and cost limits by the
    cube of the scale, as every solid's mass (and so its stock's price) grows with its volume.

    A script declares its limits for its layout at scale 1, so a layout grown to fit a larger request
    keeps the same puzzle: the reference solution, grown with it, weighs scale³ as much."""
    factor = spec.scale
    if factor == 1.0:
        return spec
    limits = spec.constraints
    volume = factor**3
    constraints = limits.model_copy(
        update={
            "max_weight_g": None if limits.max_weight_g is None else limits.max_weight_g * volume,
            "max_unit_cost": None if limits.max_unit_cost is None else limits.max_unit_cost * volume,
        }
    )
    return spec.model_copy(
        update={
            "constraints": constraints,
            "parts": scaled_parts(spec.parts, factor),
            "workspace": spec.workspace.scaled(factor),
            "goal_zone": spec.goal_zone.scaled(factor),
            "build_zone": spec.build_zone.scaled(factor),
            "forbid_zones": [z.scaled(factor) for z in spec.forbid_zones],
        }
    )


def _record(reader: "_Reader", seed: int) -> BuildRecord:
    try:
        record = BuildRecord.model_validate_json(reader.read(BUILD_RECORD, MAX_RECORD_BYTES))
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise BuildInputError(f"the builder's {BUILD_RECORD} is not a valid record ({where}: {first['msg']})") from None
    if record.seed != seed:
        raise BuildInputError(f"the build record for seed {seed} claims seed {record.seed}")
    return record


def build_digest(folder: Path, seed: int) -> str:
    """The digest `read_build` gives, from the bytes alone (the meshes are hashed, not parsed): what the
    determinism check compares."""
    reader = _Reader(folder / "seeds" / str(seed))
    record = _record(reader, seed)
    for part in [*record.parts, *(record.solution or [])]:
        for solid in part.solids:
            reader.read(f"{MESH_FOLDER}/{solid.mesh}", MAX_MESH_BYTES)
    return reader.digest.hexdigest()


def read_build(folder: Path, seed: int) -> SceneInput:
    """Seed `seed` of the builder's output in `folder` (`seeds/<seed>/` inside it)."""
    reader = _Reader(folder / "seeds" / str(seed))
    record = _record(reader, seed)
    names = [p.spec.name for p in record.parts]
    if len(set(names)) != len(names):
        raise BuildInputError("the build record names a part twice")
    spec = scaled_spec(record.scene.model_copy(update={"parts": [p.spec for p in record.parts]}))
    scale = record.scene.scale
    parts = reader.parts(
        [BuiltPart(spec=s, solids=p.solids) for s, p in zip(spec.parts, record.parts, strict=True)], scale
    )
    solution = None
    if record.solution is not None:
        specs = scaled_parts([p.spec for p in record.solution], scale)
        solution = reader.parts(
            [BuiltPart(spec=s, solids=p.solids) for s, p in zip(specs, record.solution, strict=True)], scale
        )
    return SceneInput(
        seed=seed,
        spec=spec,
        parts=parts,
        solution=solution,
        solution_error=record.solution_error,
        digest=reader.digest.hexdigest(),
    )


def build_failure(folder: Path, seed: int) -> BuildFailure | None:
    """Why the builder has no record for this seed, as it said (untrusted text: it can only fail the seed)."""
    seed_folder = folder / "seeds" / str(seed)
    for name in (BUILD_STATUS, BUILD_ERROR):
        try:
            return BuildFailure.model_validate_json(safe_files.read_bytes(seed_folder, name, 64 * 1024))
        except (safe_files.UnsafeFileError, ValidationError):
            continue
    return None
