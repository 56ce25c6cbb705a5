"""A solver for `benchgen evaluate`, and the offline engineer's first design: a driven plate pushes the
moved object along what it stands on towards the goal, placed from the task alone (the moved object's
bounds, the goal and the build zone).

It solves benchmarks where pushing along one axis is enough (a crate under a low bar, a ball moved
sideways) and fails the rest: a baseline, not an engineer.
"""

from build123d import Box, Pos

from benchgen_dagster.models.evaluation import Task
from benchgen_dagster.scene import Part

PLATE_MM = 20.0  # the plate's thickness along the push
CLEAR_MM = 3.0  # above the floor, so it never rubs it
OVERSHOOT_MM = 4.0  # the servo's overshoot at its stop, kept inside the build zone


def solve(task: Task, seed: int) -> list[Part]:
    (lo, hi) = task.part(task.moved_object).bounds_mm
    goal, build = task.goal_zone, task.build_zone
    centre = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    target = [(a + b) / 2 for a, b in zip(goal.lo, goal.hi, strict=True)]
    # Push along the horizontal axis the object has furthest to go.
    axis = 0 if abs(target[0] - centre[0]) >= abs(target[1] - centre[1]) else 1
    across = 1 - axis
    sign = 1.0 if target[axis] >= centre[axis] else -1.0
    face = (lo if sign > 0 else hi)[axis] - sign * 1.0  # the plate's front, just behind the object
    # No further than the build zone lets the plate's front go, nor past the goal's centre.
    edge = build.hi[axis] if sign > 0 else build.lo[axis]
    stop = min(sign * (edge - face) - OVERSHOOT_MM, sign * (target[axis] - face))
    height = max(10.0, (hi[2] - lo[2]) / 3)
    width = min(hi[across] - lo[across] + 40.0, build.hi[across] - build.lo[across] - 2.0)
    size = [0.0, 0.0, height]
    size[axis], size[across] = PLATE_MM, width
    # Off what the object stands on (the floor, or a platform above the build zone's floor).
    where = [0.0, 0.0, max(build.lo[2], lo[2]) + CLEAR_MM + height / 2]
    where[axis] = face - sign * PLATE_MM / 2
    where[across] = centre[across]
    direction = [0.0, 0.0, 0.0]
    direction[axis] = sign
    plate = Pos(*where) * Box(size[0], size[1], size[2])
    return [
        Part(
            "pusher",
            plate,
            role="sliding",
            material="aluminium",
            axis=(direction[0], direction[1], direction[2]),
            limits=(0.0, max(1.0, stop)),
            drive=350.0,
        )
    ]
