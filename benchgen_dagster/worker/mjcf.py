"""Write a compiled scene as MuJoCo MJCF (m and kg) with its meshes, and load it back.

Each part becomes one MuJoCo body (fixed parts go on the world body): a visual mesh of the whole
part and one collision mesh per convex piece, with the mass properties the compiler measured.
Driven joints get a velocity servo and a keyframe. Same compiled scene, same bytes.
"""

import hashlib
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import trimesh

from benchgen_dagster.models.scene import SceneSpec, ZoneSpec
from benchgen_dagster.models.units import g_to_kg, mm_to_m
from benchgen_dagster.worker.compile import CompiledPart, CompiledScene

ZONE_RGBA = {
    "goal": (0.1, 0.85, 0.2, 0.3),
    "forbid": (0.9, 0.1, 0.1, 0.3),
    "build": (0.55, 0.55, 0.55, 0.18),
}
# MJCF groups: 0 visual meshes, 2 zone sites, 3 collision pieces (hidden in renders).
VISUAL_GROUP, ZONE_GROUP, COLLISION_GROUP = 0, 2, 3
# A drive's velocity servo reaches its speed within this time constant, and is never weaker than
# for a 1 kg slider (0.005 kg·m² about a hinge), so pushing a kilogram-scale load barely slows it.
DRIVE_TIME_CONSTANT_S = 0.01
DRIVE_MIN_INERTIA = {"slide": 1.0, "hinge": 0.005}
# The keyframe every simulation and render starts from: the drives' speeds as the controls.
DRIVE_KEYFRAME = "drives"
DRIVE_NUMERIC = "drive:"


def _fmt(values: Any) -> str:
    return " ".join(f"{float(v):.6g}" for v in np.atleast_1d(values))


def _stl_bytes(mesh: trimesh.Trimesh, origin_mm: np.ndarray) -> bytes:
    local = trimesh.Trimesh(mm_to_m(1.0) * (np.asarray(mesh.vertices) - origin_mm), mesh.faces, process=False)
    buffer = io.BytesIO()
    buffer.write(trimesh.exchange.stl.export_stl(local))
    return buffer.getvalue()


def _zone_site(parent: ET.Element, name: str, zone: ZoneSpec, kind: str) -> None:
    lo, hi = np.array(zone.lo), np.array(zone.hi)
    ET.SubElement(
        parent,
        "site",
        name=name,
        type="box",
        group=str(ZONE_GROUP),
        pos=_fmt(mm_to_m(1.0) * (lo + hi) / 2),
        size=_fmt(mm_to_m(1.0) * (hi - lo) / 2),
        rgba=_fmt(ZONE_RGBA[kind]),
    )


def _drive_gain(part: CompiledPart) -> float:
    """The velocity servo's gain (N·s/m or N·m·s/rad): the joint's inertia over the time constant."""
    joint = part.spec.joint
    assert joint is not None
    if joint.kind == "slide":
        inertia = g_to_kg(part.mass_g)
    else:
        axis = np.array(joint.axis, float) / np.linalg.norm(joint.axis)
        offset = mm_to_m(1.0) * (part.com_mm - np.array(joint.anchor))
        offset -= axis * float(offset @ axis)
        inertia = float(axis @ part.inertia_kg_m2 @ axis) + g_to_kg(part.mass_g) * float(offset @ offset)
    return max(inertia, DRIVE_MIN_INERTIA[joint.kind]) / DRIVE_TIME_CONSTANT_S


def _drive_speed_si(part: CompiledPart) -> float:
    joint = part.spec.joint
    assert joint is not None and joint.drive is not None
    return mm_to_m(joint.drive) if joint.kind == "slide" else float(np.radians(joint.drive))


def _write_drives(root: ET.Element, parts: list[CompiledPart]) -> None:
    """One velocity actuator per driven joint; a keyframe whose controls are their speeds (0 for a
    drive that waits), and each drive's speed and delay as custom numerics, so the file describes it."""
    driven = [p for p in parts if p.spec.joint is not None and p.spec.joint.drive is not None]
    if not driven:
        return
    actuators = ET.SubElement(root, "actuator")
    custom = ET.SubElement(root, "custom")
    start = []
    for part in driven:
        joint = part.spec.joint
        assert joint is not None
        name = f"{part.spec.name}_drive"
        ET.SubElement(
            actuators, "velocity", name=name, joint=f"{part.spec.name}_{joint.kind}", kv=f"{_drive_gain(part):.6g}"
        )
        ET.SubElement(custom, "numeric", name=f"{DRIVE_NUMERIC}{name}", data=_fmt([_drive_speed_si(part), joint.delay]))
        start.append(0.0 if joint.delay > 0 else _drive_speed_si(part))
    keyframes = ET.SubElement(root, "keyframe")
    ET.SubElement(keyframes, "key", name=DRIVE_KEYFRAME, ctrl=_fmt(start))


@dataclass(frozen=True)
class DriveSchedule:
    """When each drive runs: held still (control 0) until its delay, then at its speed."""

    actuators: np.ndarray
    speeds: np.ndarray
    delays: np.ndarray

    @classmethod
    def of(cls, model: mujoco.MjModel) -> "DriveSchedule":
        ids, speeds, delays = [], [], []
        for actuator in range(model.nu):
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, actuator) or ""
            numeric = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_NUMERIC, f"{DRIVE_NUMERIC}{name}")
            if numeric < 0:
                continue
            adr = model.numeric_adr[numeric]
            ids.append(actuator)
            speeds.append(model.numeric_data[adr])
            delays.append(model.numeric_data[adr + 1])
        return cls(np.array(ids, int), np.array(speeds, float), np.array(delays, float))

    def apply(self, data: mujoco.MjData) -> None:
        """Set the controls for the current time."""
        if len(self.actuators):
            data.ctrl[self.actuators] = np.where(data.time >= self.delays - 1e-9, self.speeds, 0.0)

    def steps_to_next_start(self, time_s: float, timestep_s: float) -> int | None:
        """Steps until the next waiting drive starts (so a loop can stop there), None if none waits."""
        waiting = self.delays[self.delays > time_s + 1e-9]
        return max(1, round((float(waiting.min()) - time_s) / timestep_s)) if len(waiting) else None


def start_data(model: mujoco.MjModel) -> mujoco.MjData:
    """Fresh data at the scene's start: the drive keyframe's controls when the scene has drives."""
    data = mujoco.MjData(model)
    key = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, DRIVE_KEYFRAME)
    if key >= 0:
        mujoco.mj_resetDataKeyframe(model, data, key)
    mujoco.mj_forward(model, data)
    return data


def write_mjcf(spec: SceneSpec, parts: list[CompiledPart], out_dir: Path, timestep_s: float) -> Path:
    """Write meshes and `scene.xml` into `out_dir`; fills each part's mesh files and hash."""
    mesh_dir = out_dir / "meshes"
    mesh_dir.mkdir(parents=True, exist_ok=True)
    root = ET.Element("mujoco", model=spec.title or "benchmark")
    ET.SubElement(root, "compiler", angle="degree", meshdir="meshes", autolimits="true")
    option = ET.SubElement(root, "option", timestep=f"{timestep_s:g}", integrator="implicitfast")
    ET.SubElement(option, "flag", energy="enable")
    # Stiffer contacts than MuJoCo's default (time constant 0.02 s), which lets a falling part sink
    # tens of millimetres into the floor; 2.5 timesteps is as stiff as stays stable.
    default = ET.SubElement(root, "default")
    ET.SubElement(default, "geom", solref=f"{2.5 * timestep_s:g} 1")
    visual = ET.SubElement(root, "visual")
    ET.SubElement(visual, "global", offwidth="1920", offheight="1080")
    ET.SubElement(visual, "quality", shadowsize="0")
    asset = ET.SubElement(root, "asset")
    ET.SubElement(
        asset,
        "texture",
        type="skybox",
        builtin="gradient",
        width="64",
        height="64",
        rgb1="0.62 0.72 0.82",
        rgb2="0.18 0.2 0.24",
    )
    ET.SubElement(
        asset,
        "texture",
        name="grid",
        type="2d",
        builtin="checker",
        width="256",
        height="256",
        rgb1="0.82 0.84 0.86",
        rgb2="0.74 0.76 0.78",
    )
    ET.SubElement(asset, "material", name="grid", texture="grid", texrepeat="8 8", reflectance="0")
    world = ET.SubElement(root, "worldbody")
    ET.SubElement(world, "light", name="sun", pos="0 0 5", dir="0 0 -1", directional="true", castshadow="false")
    ws_lo, ws_hi = np.array(spec.workspace.lo), np.array(spec.workspace.hi)
    floor_half = mm_to_m(1.0) * (ws_hi - ws_lo)[:2] / 2 + 0.1
    ET.SubElement(
        world,
        "geom",
        name="floor",
        type="plane",
        material="grid",
        pos=_fmt([*(mm_to_m(1.0) * (ws_lo + ws_hi)[:2] / 2), 0.0]),
        size=_fmt([*floor_half, 0.05]),
    )

    for part in parts:
        name = part.spec.name
        movable = part.spec.role != "fixed"
        origin = part.com_mm if movable else np.zeros(3)
        digest = hashlib.sha256()
        files = []
        for index, mesh in enumerate([part.visual, *part.pieces]):
            data = _stl_bytes(mesh, origin)
            filename = f"{name}_visual.stl" if index == 0 else f"{name}_c{index - 1}.stl"
            (mesh_dir / filename).write_bytes(data)
            digest.update(data)
            files.append(filename)
            ET.SubElement(asset, "mesh", name=filename.removesuffix(".stl"), file=filename)
        part.mesh_files, part.sha256 = files, digest.hexdigest()

        if movable:
            body = ET.SubElement(world, "body", name=name, pos=_fmt(mm_to_m(1.0) * part.com_mm))
            joint = part.spec.joint
            if part.spec.role == "free":
                ET.SubElement(body, "freejoint", name=f"{name}_free")
            elif joint is not None:
                limits = joint.limits if joint.kind == "hinge" else tuple(mm_to_m(v) for v in joint.limits)
                element = ET.SubElement(
                    body,
                    "joint",
                    name=f"{name}_{joint.kind}",
                    type=joint.kind,
                    pos=_fmt(mm_to_m(1.0) * (np.array(joint.anchor) - part.com_mm)),
                    axis=_fmt(joint.axis),
                    range=_fmt(limits),
                    damping=f"{joint.damping:g}",
                )
                if joint.drive is not None:
                    # A drive pushes into its limit for as long as the run lasts: the default soft limit
                    # (0.02 s) would let it creep tens of millimetres past; this one holds within a few.
                    element.set("solreflimit", f"{2 * timestep_s:g} 1")
            i = part.inertia_kg_m2
            ET.SubElement(
                body,
                "inertial",
                pos="0 0 0",
                mass=f"{g_to_kg(part.mass_g):.6g}",
                fullinertia=_fmt([i[0, 0], i[1, 1], i[2, 2], i[0, 1], i[0, 2], i[1, 2]]),
            )
            parent = body
        else:
            parent = world
        friction = _fmt([part.spec.material.friction, 0.005, 0.0001])
        ET.SubElement(
            parent,
            "geom",
            name=f"{name}_visual",
            type="mesh",
            mesh=f"{name}_visual",
            rgba=_fmt(part.spec.rgba),
            contype="0",
            conaffinity="0",
            group=str(VISUAL_GROUP),
            mass="0",
        )
        for filename in files[1:]:
            mesh_name = filename.removesuffix(".stl")
            ET.SubElement(
                parent,
                "geom",
                name=mesh_name,
                type="mesh",
                mesh=mesh_name,
                friction=friction,
                rgba="0.5 0.5 0.5 0.3",
                group=str(COLLISION_GROUP),
                mass="0",
            )

    _zone_site(world, "goal_zone", spec.goal_zone, "goal")
    _zone_site(world, "build_zone", spec.build_zone, "build")
    for index, zone in enumerate(spec.forbid_zones):
        _zone_site(world, f"forbid_zone_{index}", zone, "forbid")
    _write_drives(root, parts)
    ET.indent(root)
    path = out_dir / "scene.xml"
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n")
    return path


def load_compiled_model(mjcf_path: Path) -> mujoco.MjModel:
    """Load a compiled scene with its meshes passed as bytes.

    MuJoCo keeps a per-process asset cache keyed by file path: loading from the path after the same
    folder was rewritten (a second scene, a rerun) can silently reuse the old meshes.
    """
    meshes = mjcf_path.parent / "meshes"
    assets = {path.name: path.read_bytes() for path in sorted(meshes.iterdir())} if meshes.is_dir() else {}
    return mujoco.MjModel.from_xml_string(mjcf_path.read_text(), assets)


def scene_digest(out_dir: Path) -> str:
    """One hash over the MJCF and every mesh: equal digests mean byte-identical output."""
    digest = hashlib.sha256()
    for path in sorted([out_dir / "scene.xml", *sorted((out_dir / "meshes").iterdir())]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write_compiled(spec: SceneSpec, parts: list[CompiledPart], out_dir: Path, timestep_s: float) -> CompiledScene:
    """`out_dir/scene.xml` + `out_dir/meshes/*.stl` for the compiled parts, and the digest of those bytes."""
    path = write_mjcf(spec, parts, out_dir, timestep_s)
    return CompiledScene(spec=spec, parts=parts, mjcf_path=path, digest=scene_digest(out_dir))
