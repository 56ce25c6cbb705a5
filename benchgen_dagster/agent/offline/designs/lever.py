"""A lever solver: the moved object rests on one arm of a hinged part of the scene (a beam on a
fulcrum); a driven plunger above the other arm presses it down, so the object's arm rises with it.

Placed from the task alone: the hinged part nearest under the moved object, its hinge's anchor and its
bounds, and the build zone, which the plunger must stay inside. Where the scene has no horizontal hinge
under the object there is nothing for it to press, and it says so (the judge records the error).
"""

import math

from build123d import Box, Pos

from benchgen_dagster.models.evaluation import Task, TaskPart
from benchgen_dagster.scene import Part

TILT_DEG = 20.0  # how far the plunger tips the beam: short of a steep stop, where a load would slide back
FOOT_MM = 20.0  # the plunger's length along the beam
HEIGHT_MM = 40.0
GAP_MM = 2.0  # above the beam at the start


def _beam(task: Task) -> TaskPart:
    bottom = task.part(task.moved_object).bounds_mm[0][2]
    hinges = [
        p
        for p in task.parts
        if p.spec.joint is not None and p.spec.joint.kind == "hinge" and abs(p.spec.joint.axis[2]) < 0.2
    ]
    if not hinges:
        raise ValueError("the scene has no horizontal hinge to press on")
    # The one the object rests on: its top nearest the object's bottom.
    return min(hinges, key=lambda p: abs(p.bounds_mm[1][2] - bottom))


def solve(task: Task, seed: int) -> list[Part]:
    beam = _beam(task)
    joint = beam.spec.joint
    assert joint is not None
    (lo, hi), build = beam.bounds_mm, task.build_zone
    # The beam's long horizontal axis, and the arm across the hinge from the object.
    axis = 0 if hi[0] - lo[0] >= hi[1] - lo[1] else 1
    across = 1 - axis
    (olo, ohi) = task.part(task.moved_object).bounds_mm
    pivot = joint.anchor[axis]
    sign = -1.0 if (olo[axis] + ohi[axis]) / 2 > pivot else 1.0
    end = hi[axis] if sign > 0 else lo[axis]
    # Three quarters out along the free arm, moved into the build zone where the arm leaves it.
    press = pivot + 0.75 * (end - pivot)
    press = min(max(press, build.lo[axis] + FOOT_MM / 2 + 2), build.hi[axis] - FOOT_MM / 2 - 2)
    arm = abs(press - pivot) - FOOT_MM / 2  # the foot's edge nearest the hinge touches the tilted beam
    if arm <= 10:
        raise ValueError("the build zone reaches no arm of the hinged part far enough from its hinge")
    bottom = hi[2] + GAP_MM
    stroke = GAP_MM + arm * math.tan(math.radians(TILT_DEG))
    width = min(hi[across] - lo[across] + 20.0, build.hi[across] - build.lo[across] - 4.0)
    size = [0.0, 0.0, HEIGHT_MM]
    size[axis], size[across] = FOOT_MM, width
    where = [0.0, 0.0, bottom + HEIGHT_MM / 2]
    where[axis], where[across] = press, (lo[across] + hi[across]) / 2
    plunger = Pos(*where) * Box(size[0], size[1], size[2])
    return [
        Part(
            "plunger",
            plunger,
            role="sliding",
            material="aluminium",
            axis=(0, 0, -1),
            limits=(0.0, stroke),
            drive=150.0,
        )
    ]
