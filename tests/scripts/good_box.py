"""A minimal valid benchmark: a box to be pushed into a goal zone; randomized size and distance.

Its reference solution is a slow driven pusher that shoves the box along the floor into the goal.
"""

from build123d import Box, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    size = p.param("box_size", nominal=60, spread=0.4)
    goal_x = p.param("goal_x", nominal=85, spread=0.4)
    s = Scene(workspace=Zone((-400, -300, 0), (800, 300, 400)), scale=scale, params=p, title="push a box")
    s.add(Part("box", Pos(-200, 0, size / 2 + 0.3) * Box(size, size, size), role="free", material="wood"))
    s.add(Part("curb", Pos(0, 250, 10) * Box(600, 20, 20), role="fixed"))
    s.objectives(
        moved="box",
        goal=Zone((goal_x - 60, -60, 0), (goal_x + 60, 60, 150)),
        build=Zone((-380, -200, 0), (100, 200, 300)),
    )
    s.constraints(max_unit_cost=10.0, max_weight=500.0, target_quantity=1000)
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    s = build(seed, scale)
    size, goal_x = s.value("box_size"), s.value("goal_x")
    face = -200 - size / 2 - 1
    # The pusher's face stops where the box's centre is on the goal's, but never past the build zone.
    stroke = min(goal_x - size / 2, 95.0) - face
    height = size / 3  # low, so the box slides instead of tipping
    pusher = Pos(face - 10, 0, 2 + height / 2) * Box(20, 80, height)
    return [Part("pusher", pusher, role="sliding", axis=(1, 0, 0), limits=(0, stroke), drive=150.0)]
