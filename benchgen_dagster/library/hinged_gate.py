"""A ball waits behind a self-closing gate in a fence; it must be sent through the gate to the far side.

The gate swings on a nearly vertical hinge; the hinge leans a few degrees so gravity swings the gate
shut against its stop, as a garden gate does. It opens away from the ball only.
"""

import math

from build123d import Box, Pos, Sphere

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "hinged_gate"
TIER = 2
DESCRIPTION = "Push a ball through a self-closing hinged gate of random size to a goal at a random distance."


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    gate_w = p.param("gate_width", nominal=160, spread=0.4)
    gate_h = p.param("gate_height", nominal=150, spread=0.4)
    radius = p.param("ball_radius", nominal=30, spread=0.4)
    goal_x = p.param("goal_x", nominal=350, spread=0.4)
    half_y, top = 300.0, 400.0
    wall_t, gate_t, lift, gap = 20.0, 12.0, 3.0, 3.0
    lean = math.radians(4.0)
    y_hinge = -gate_w / 2 - gap
    fence_h = gate_h + lift
    s = Scene(
        workspace=Zone((-500, -half_y, 0), (600, half_y, top)),
        scale=scale,
        params=p,
        title="Through a self-closing gate",
    )
    left_end, right_end = y_hinge - 9, gate_w / 2 + 3
    s.add(
        Part(
            "fence_left",
            Pos(0, (-half_y + left_end) / 2, fence_h / 2) * Box(wall_t, left_end + half_y, fence_h),
            role="fixed",
            material="wood",
        )
    )
    s.add(
        Part(
            "fence_right",
            Pos(0, (right_end + half_y) / 2, fence_h / 2) * Box(wall_t, half_y - right_end, fence_h),
            role="fixed",
            material="wood",
        )
    )
    # The hinge axis leans so that opening (positive angles, towards +x) lifts the gate's free end.
    s.add(
        Part(
            "gate",
            Pos(0, 0, lift + gate_h / 2) * Box(gate_t, gate_w, gate_h),
            role="hinged",
            material="wood",
            axis=(math.sin(lean), 0, -math.cos(lean)),
            anchor=(0, y_hinge, lift + gate_h / 2),
            limits=(0, 100),
            damping=0.05,
        )
    )
    # A faceted ball balances on a vertex and creeps away; a 1 mm flat at its foot lets it stand still.
    ball = Sphere(radius) & Pos(0, 0, 1) * Box(3 * radius, 3 * radius, 2 * radius)
    s.add(Part("ball", Pos(-180, 0, radius - 1 + 0.5) * ball, role="free", material="rubber"))
    s.objectives(
        moved="ball",
        goal=Zone((goal_x - 70, -90, 0), (goal_x + 70, 90, 2 * radius + 20)),
        build=Zone((-490, -290, 0), (-wall_t / 2 - 5, 290, 390)),
        # Over the fence is not through the gate.
        forbid=[Zone((-wall_t / 2 - 5, -half_y, fence_h), (wall_t / 2 + 5, half_y, top))],
    )
    s.constraints(max_unit_cost=20.0, max_weight=800.0, target_quantity=100)
    return s
