"""A ramp solver: two fixed rails rise from the floor in front of the moved object to the height of a goal
that is higher than it (a shelf), and a driven finger between them, square to the slope, pushes the
object up the rails and over onto the goal.

Placed from the task alone: the object's bounds, the goal's near edge and floor, the build zone (which
rails and finger stay inside, so the rails end short of the goal's edge). A goal no higher than the
object's floor needs no ramp, and it says so.
"""

import math

from build123d import Box, Compound, Pos, Rot

from benchgen_dagster.models.evaluation import Task
from benchgen_dagster.scene import Part

THICK_MM = 5.0  # the rails, square to the slope
TIP_MM = 0.8  # the rails' first stretch: a sliver, so the object meets no step where they leave the floor
RAIL_MM = 10.0  # each rail's width
FINGER_MM = 6.0
EDGE_GAP_MM = 6.0  # the rails' top ends this far short of the goal (and of the build zone's edge)


def _bar(x: float, z: float, theta: float, length: float, thickness: float, y0: float, y1: float) -> Compound:
    """A bar whose top face starts at (x, z) and rises at `theta` (radians) for `length`, `thickness` below it."""
    bar = Pos(length / 2, (y0 + y1) / 2, -thickness / 2) * Box(length, y1 - y0, abs(thickness))
    return Pos(x, 0, z) * Rot(0, -math.degrees(theta), 0) * bar


def solve(task: Task, seed: int) -> list[Part]:
    (lo, hi) = task.part(task.moved_object).bounds_mm
    goal, build = task.goal_zone, task.build_zone
    floor = lo[2]
    height = goal.lo[2] - floor
    if height < 10:
        raise ValueError("the goal is not above the object: no ramp is needed")
    if goal.lo[0] < hi[0]:
        raise ValueError("the goal is not ahead of the object along x: this ramp only climbs forwards")
    centre_y, size = (lo[1] + hi[1]) / 2, hi[0] - lo[0]
    tip_x = hi[0] + 2.0
    top_x = min(goal.lo[0], build.hi[0]) - EDGE_GAP_MM - THICK_MM
    run = top_x - tip_x
    if run <= height / 2:
        raise ValueError("there is no room in the build zone for a ramp up to the goal")
    theta = math.atan2(height + 1, run)
    c, s = math.cos(theta), math.sin(theta)
    length = math.hypot(run, height + 1)
    # Where a full-thickness rail's underside has risen clear of the floor; before it, the sliver.
    start = THICK_MM / math.tan(theta) + 0.5
    inner = (hi[1] - lo[1]) / 4  # rails under both sides of the object, a gap between them for the finger
    rails = []
    for y0 in (centre_y + inner, centre_y - inner - RAIL_MM):
        rails.append(_bar(tip_x, floor + TIP_MM, theta, start + 5, TIP_MM, y0, y0 + RAIL_MM))
        rails.append(_bar(tip_x + start * c, floor + start * s, theta, length - start, THICK_MM, y0, y0 + RAIL_MM))
    # The finger: a plate square to the slope, its face 1 mm behind the object and its lowest corner 1 mm off the
    # floor, between the rails. Turned a quarter turn up from the slope, a negative thickness puts it behind
    # its face. It runs straight to where its face is level with the goal's floor, short of the rails' top.
    x0, z0 = lo[0] - 1, floor + FINGER_MM * s + 1
    finger = _bar(x0, z0, theta + math.pi / 2, size * 0.8, -FINGER_MM, centre_y - inner + 3, centre_y + inner - 3)
    end_x, end_z = top_x - 6, floor + height - 3
    dx, dz = end_x - x0, end_z - z0
    stroke = math.hypot(dx, dz)
    return [
        Part("ramp", Compound(rails), role="fixed", material="wood"),
        Part(
            "finger",
            finger,
            role="sliding",
            material="aluminium",
            axis=(dx / stroke, 0.0, dz / stroke),
            limits=(0.0, stroke),
            drive=400.0,
        ),
    ]
