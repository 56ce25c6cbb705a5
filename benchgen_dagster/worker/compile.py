"""Compile a scene's meshes (millimetres, grams) into what MuJoCo simulates: convex collision pieces
and mass properties. Trusted code: it works on meshes the judge read, never on the script's objects.

A part made of several convex solids collides as those solids; a concave solid is decomposed with
CoACD (cached by mesh hash), never replaced by its hull. Mass, centre of mass and inertia are
integrated exactly over the closed triangle meshes (holes included), at the material's density.
The output is a pure function of the meshes: same meshes, same bytes.
"""

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from benchgen_dagster.models.reports import PartMesh
from benchgen_dagster.models.scene import PartSpec, SceneSpec
from benchgen_dagster.models.settings import GeometrySettings
from benchgen_dagster.models.units import inertia_kg_m2, mass_g
from benchgen_dagster.worker.safe_files import write_file_atomically


class CompileError(ValueError):
    """The scene cannot be turned into collision pieces; the message names the part and the reason."""


@dataclass
class SolidMesh:
    """One solid of a part as the judge read it: a cleaned triangle mesh in world millimetres."""

    mesh: trimesh.Trimesh
    # What the builder said of the CAD solid; it can only fail the solid, never excuse its mesh.
    cad_valid: bool = True


@dataclass
class InputPart:
    """A part as the judge received it: its declared spec and its solids' meshes."""

    spec: PartSpec
    solids: list[SolidMesh]


@dataclass
class CompiledPart:
    spec: PartSpec
    solids: list[SolidMesh]
    visual: trimesh.Trimesh
    pieces: list[trimesh.Trimesh]
    decomposed: bool
    volume_mm3: float
    mass_g: float
    com_mm: np.ndarray
    inertia_kg_m2: np.ndarray
    mesh_files: list[str] = field(default_factory=list)
    sha256: str = ""

    def record(self) -> PartMesh:
        return PartMesh(
            name=self.spec.name,
            mesh_files=self.mesh_files,
            sha256=self.sha256,
            volume_mm3=self.volume_mm3,
            mass_g=self.mass_g,
            convex_pieces=len(self.pieces),
            decomposed=self.decomposed,
            bounds_mm=(tuple(self.visual.bounds[0]), tuple(self.visual.bounds[1])),
        )


@dataclass
class CompiledScene:
    spec: SceneSpec
    parts: list[CompiledPart]
    mjcf_path: Path
    digest: str


def clean_mesh(vertices: np.ndarray, faces: np.ndarray, scale: float = 1.0) -> trimesh.Trimesh:
    """A CAD tessellation as a proper mesh: shared edges shared again, slivers dropped, then scaled
    about the world origin (like the zones and joint anchors)."""
    mesh = trimesh.Trimesh(np.asarray(vertices, float) * scale, np.asarray(faces, np.int64), process=True)
    # Tessellation emits one vertex per face corner and zero-area slivers at poles and seams; merging
    # and dropping them makes a closed solid's mesh watertight.
    mesh.merge_vertices(digits_vertex=6)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.remove_unreferenced_vertices()
    return mesh


class DecompositionCache:
    """Convex decompositions keyed by mesh hash: read from `read_dir`, new ones written to `write_dir`.

    Only the judge computes them (trusted code); in the sandbox the shared cache is mounted read-only
    and new entries are adopted by the parent after the run."""

    def __init__(self, read_dir: Path | None, write_dir: Path | None) -> None:
        self.read_dir, self.write_dir = read_dir, write_dir

    def _key(self, mesh: trimesh.Trimesh, threshold: float) -> str:
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(mesh.vertices, dtype="<f8").tobytes())
        h.update(np.ascontiguousarray(mesh.faces, dtype="<i8").tobytes())
        h.update(f"{threshold:.6f}".encode())
        return h.hexdigest()

    def get(self, mesh: trimesh.Trimesh, threshold: float) -> list[trimesh.Trimesh] | None:
        key = self._key(mesh, threshold)
        for folder in (self.write_dir, self.read_dir):
            path = folder / f"{key}.npz" if folder else None
            if path and path.exists():
                with np.load(path, allow_pickle=False) as data:
                    count = len(data.files) // 2
                    return [trimesh.Trimesh(data[f"v{i}"], data[f"f{i}"], process=False) for i in range(count)]
        return None

    def put(self, mesh: trimesh.Trimesh, threshold: float, pieces: list[trimesh.Trimesh]) -> None:
        if self.write_dir is None:
            return
        self.write_dir.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {}
        for i, piece in enumerate(pieces):
            arrays[f"v{i}"], arrays[f"f{i}"] = np.asarray(piece.vertices), np.asarray(piece.faces)
        # Renamed into place: seeds judged side by side may decompose the same mesh at once.
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        write_file_atomically(self.write_dir / f"{self._key(mesh, threshold)}.npz", buffer.getvalue())


def _is_concave(mesh: trimesh.Trimesh, settings: GeometrySettings) -> bool:
    volume = abs(mesh.volume)
    return bool(volume > 0 and mesh.convex_hull.volume > volume * settings.concavity_ratio)


def _decompose(mesh: trimesh.Trimesh, settings: GeometrySettings, cache: DecompositionCache) -> list[trimesh.Trimesh]:
    cached = cache.get(mesh, settings.decomposition_threshold)
    if cached is not None:
        return cached
    import coacd

    coacd.set_log_level("error")
    hulls = coacd.run_coacd(
        coacd.Mesh(np.asarray(mesh.vertices), np.asarray(mesh.faces)),
        threshold=settings.decomposition_threshold,
        seed=0,
    )
    pieces = [trimesh.Trimesh(v, f, process=True) for v, f in hulls]
    cache.put(mesh, settings.decomposition_threshold, pieces)
    return pieces


def mass_properties(meshes: list[trimesh.Trimesh], density_g_cm3: float) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Volume (mm³), mass (g), centre of mass (mm) and inertia about it (kg·m²) of closed meshes."""
    triangles = np.concatenate([np.asarray(m.triangles) for m in meshes])
    props = trimesh.triangles.mass_properties(triangles, density=1.0)
    volume = float(props.volume)
    inertia = np.asarray(props.inertia, float)
    if volume < 0:  # faces wound inwards: the same solid, integrated with the opposite sign
        volume, inertia = -volume, -inertia
    center = np.asarray(props.center_mass, float)
    to_si = np.vectorize(lambda v: inertia_kg_m2(v, density_g_cm3))
    return volume, mass_g(volume, density_g_cm3), center, to_si(inertia)


def compile_part(part: InputPart, settings: GeometrySettings, cache: DecompositionCache) -> CompiledPart:
    if not part.solids:
        raise CompileError(f"part {part.spec.name!r} has no solids")
    pieces: list[trimesh.Trimesh] = []
    decomposed = False
    for solid in part.solids:
        if _is_concave(solid.mesh, settings):
            pieces.extend(_decompose(solid.mesh, settings, cache))
            decomposed = True
        else:
            pieces.append(solid.mesh)
    meshes = [s.mesh for s in part.solids]
    visual = meshes[0]
    if len(meshes) > 1:
        merged = trimesh.util.concatenate(meshes)
        assert isinstance(merged, trimesh.Trimesh)
        visual = merged
    volume, mass, com, inertia = mass_properties(meshes, part.spec.material.density_g_cm3)
    return CompiledPart(
        spec=part.spec,
        solids=part.solids,
        visual=visual,
        pieces=pieces,
        decomposed=decomposed,
        volume_mm3=volume,
        mass_g=mass,
        com_mm=com,
        inertia_kg_m2=inertia,
    )


def compile_parts(parts: list[InputPart], settings: GeometrySettings, cache: DecompositionCache) -> list[CompiledPart]:
    if not parts:
        raise CompileError("the scene has no parts")
    return [compile_part(part, settings, cache) for part in parts]
