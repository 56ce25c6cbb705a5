"""Geometry and consistency checks: per seed on a compiled scene, and across seeds on their outcomes."""

import re
from collections import defaultdict

import mujoco
import numpy as np

from benchgen_dagster.models.reports import Check, CheckResult, SeedOutcome
from benchgen_dagster.models.scene import ParamRecord, ZoneSpec
from benchgen_dagster.models.settings import GeometrySettings, RandomizationSettings
from benchgen_dagster.models.units import m_to_mm
from benchgen_dagster.worker.compile import CompiledScene
from benchgen_dagster.worker.mjcf import load_compiled_model

# Parts may touch the workspace walls; floating-point tessellation may poke out by less than this.
_BOUNDS_TOLERANCE_MM = 0.01


def _result(check: Check, seed: int, problems: list[str], ok: str, **details: object) -> CheckResult:
    return CheckResult(
        check=check,
        seed=seed,
        passed=not problems,
        message="; ".join(problems) if problems else ok,
        details=dict(details),
    )


def solid_validity(scene: CompiledScene, seed: int, settings: GeometrySettings) -> CheckResult:
    """Every solid is valid in CAD, and its mesh is watertight with volume above the minimum (trimesh)."""
    problems = []
    for part in scene.parts:
        for index, solid in enumerate(part.solids):
            label = f"part {part.spec.name!r}" + (f" solid {index}" if len(part.solids) > 1 else "")
            mesh = solid.mesh
            if not solid.cad_valid:
                problems.append(f"{label} is not a valid CAD solid (self-intersecting or broken faces)")
            if not mesh.is_watertight:
                problems.append(f"{label} mesh is not watertight ({len(mesh.faces)} faces with open edges)")
            elif not mesh.is_winding_consistent:
                problems.append(f"{label} mesh has inconsistent face winding")
            volume = abs(float(mesh.volume)) if mesh.is_watertight else 0.0
            if volume <= settings.min_solid_volume_mm3:
                problems.append(
                    f"{label} has volume {volume:.3g} mm³, needs more than {settings.min_solid_volume_mm3:g} mm³"
                )
    return _result(Check.SOLID_VALID, seed, problems, f"{len(scene.parts)} parts valid and watertight")


def workspace_containment(scene: CompiledScene, seed: int) -> CheckResult:
    ws = scene.spec.workspace
    problems = []
    for part in scene.parts:
        lo, hi = part.visual.bounds
        if not ws.contains_box(tuple(lo), tuple(hi), _BOUNDS_TOLERANCE_MM):
            problems.append(
                f"part {part.spec.name!r} spans {np.round(lo, 1).tolist()}..{np.round(hi, 1).tolist()} mm, "
                f"outside the workspace {list(ws.lo)}..{list(ws.hi)}"
            )
    zones = {"goal zone": scene.spec.goal_zone, "build zone": scene.spec.build_zone}
    zones.update({f"forbid zone {i}": z for i, z in enumerate(scene.spec.forbid_zones)})
    for label, zone in zones.items():
        if not ws.contains_box(zone.lo, zone.hi, _BOUNDS_TOLERANCE_MM):
            problems.append(f"the {label} {list(zone.lo)}..{list(zone.hi)} lies outside the workspace")
    return _result(Check.INSIDE_WORKSPACE, seed, problems, "all parts and zones inside the workspace")


def zone_consistency(scene: CompiledScene, seed: int) -> CheckResult:
    spec = scene.spec
    problems = []
    named = {"workspace": spec.workspace, "goal zone": spec.goal_zone, "build zone": spec.build_zone}
    named.update({f"forbid zone {i}": z for i, z in enumerate(spec.forbid_zones)})
    for label, zone in named.items():
        if not zone.well_formed:
            problems.append(f"the {label} is not a box: every low corner must be below its high corner")
    for i, forbid in enumerate(spec.forbid_zones):
        for label, zone in (("goal zone", spec.goal_zone), ("build zone", spec.build_zone)):
            if zone.overlaps(forbid):
                problems.append(f"the {label} overlaps forbid zone {i}")
    moved = next((p for p in scene.parts if p.spec.name == spec.moved_object), None)
    if moved is None:
        problems.append(f"the moved object {spec.moved_object!r} is not a part of the scene")
    else:
        if moved.spec.role == "fixed":
            problems.append(f"the moved object {spec.moved_object!r} is fixed: it can never move")
        lo, hi = moved.visual.bounds
        if spec.goal_zone.overlaps(ZoneSpec(lo=tuple(lo), hi=tuple(hi))):
            problems.append(f"the moved object {spec.moved_object!r} starts (partly) inside the goal zone")
    return _result(Check.ZONES_CONSISTENT, seed, problems, "zones well-formed and consistent")


def load_model(scene: CompiledScene, seed: int) -> tuple[CheckResult, mujoco.MjModel | None]:
    try:
        model = load_compiled_model(scene.mjcf_path)
    except Exception as error:  # MuJoCo raises ValueError with the XML problem in the message
        return _result(Check.MJCF_LOADS, seed, [f"MuJoCo cannot load the MJCF: {error}"], ""), None
    return _result(Check.MJCF_LOADS, seed, [], f"MJCF loads ({model.nbody} bodies, {model.ngeom} geoms)"), model


def _part_of_geom(model: mujoco.MjModel, geom: int) -> str:
    # Collision geoms are named "<part>_c<i>" by the compiler; the ground is "floor".
    name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, geom) or f"geom {geom}"
    return re.sub(r"_c\d+$", "", name)


def spawn_interpenetration(model: mujoco.MjModel, seed: int, settings: GeometrySettings) -> CheckResult:
    """Contacts at spawn deeper than the tolerance, between the collision pieces MuJoCo will simulate."""
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    worst: dict[tuple[str, str], float] = {}
    for contact in data.contact[: data.ncon]:
        depth_mm = -m_to_mm(float(contact.dist))
        if depth_mm > settings.spawn_penetration_tolerance_mm:
            a, b = sorted((_part_of_geom(model, contact.geom1), _part_of_geom(model, contact.geom2)))
            worst[(a, b)] = max(worst.get((a, b), 0.0), depth_mm)
    problems = [f"{a!r} and {b!r} overlap by {depth:.2f} mm at spawn" for (a, b), depth in sorted(worst.items())]
    return _result(Check.NO_INTERPENETRATION, seed, problems, "no parts overlap at spawn")


def validate_compiled(
    scene: CompiledScene, seed: int, settings: GeometrySettings
) -> tuple[list[CheckResult], mujoco.MjModel | None]:
    """The per-seed geometry checks; returns the loaded model for simulation when the MJCF loads."""
    results = [
        solid_validity(scene, seed, settings),
        workspace_containment(scene, seed),
        zone_consistency(scene, seed),
    ]
    loaded, model = load_model(scene, seed)
    results.append(loaded)
    if model is not None:
        results.append(spawn_interpenetration(model, seed, settings))
    return results, model


def _required_coverage(settings: RandomizationSettings, seed_count: int) -> float:
    # n stratified draws of a range reach at most 1 - 2/n of it with certainty; fewer seeds, lower bar.
    return max(0.0, min(settings.min_range_coverage, 1.0 - 2.0 / max(seed_count, 1)))


def randomization_coverage(outcomes: list[SeedOutcome], settings: RandomizationSettings) -> CheckResult:
    """Each declared parameter's draws must cover its range, and the range must reach ±min_relative_spread."""
    draws: dict[str, list[ParamRecord]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.scene:
            for record in outcome.scene.params:
                draws[record.name].append(record)
    seeds = len([o for o in outcomes if o.scene])
    required = _required_coverage(settings, seeds)
    problems, narrowed, spans = [], [], {}
    if seeds == 0:
        problems.append("no seed produced a scene, so the parameter draws cannot be judged")
    elif not draws:
        problems.append("the script declares no randomized parameters (use sampler(seed).param(...))")
    for name, records in sorted(draws.items()):
        first = records[0]
        width = first.high - first.low
        values = [r.value for r in records]
        coverage = (max(values) - min(values)) / width if width else 0.0
        spans[name] = {
            "low": first.low,
            "high": first.high,
            "min": min(values),
            "max": max(values),
            "coverage": round(coverage, 3),
        }
        if first.kind != "choice" and first.nominal:
            half_spread = min(first.nominal - first.low, first.high - first.nominal) / abs(first.nominal)
            if half_spread + 1e-9 < settings.min_relative_spread:
                narrowed.append(
                    f"{name}: declared range ±{half_spread:.0%} is narrower than ±{settings.min_relative_spread:.0%} "
                    "by the author's choice"
                )
        if coverage + 1e-9 < required:
            problems.append(
                f"parameter {name!r} drew {min(values):.4g}..{max(values):.4g} over {seeds} seeds, "
                f"{coverage:.0%} of its range {first.low:.4g}..{first.high:.4g} (needs {required:.0%})"
            )
    return CheckResult(
        check=Check.RANDOMIZATION_COVERAGE,
        passed=not problems,
        message="; ".join(problems) if problems else f"{len(draws)} parameters cover ≥{required:.0%} of their ranges",
        details={"parameters": spans, "narrowed": narrowed, "required_coverage": required},
    )


def geometric_variety(outcomes: list[SeedOutcome], settings: RandomizationSettings) -> CheckResult:
    variants = {tuple(sorted(part.sha256 for part in outcome.parts)) for outcome in outcomes if outcome.parts}
    built = len([o for o in outcomes if o.parts])
    required = min(settings.min_distinct_variants, built)
    passed = built > 0 and len(variants) >= required
    if built == 0:
        message = "no seed produced meshes, so geometric variety cannot be judged"
    elif passed:
        message = f"{len(variants)} geometrically distinct variants over {built} seeds"
    else:
        message = (
            f"only {len(variants)} distinct geometries over {built} seeds (needs {required}): "
            "the randomized parameters do not change the shapes"
        )
    return CheckResult(
        check=Check.GEOMETRIC_VARIETY,
        passed=passed,
        message=message,
        details={"distinct_variants": len(variants), "seeds": built, "required": required},
    )
