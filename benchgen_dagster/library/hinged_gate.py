"""A ball waits behind a self-closing gate in a fence; it must be sent through the gate into a catch on the far side.

The gate swings on a nearly vertical hinge; the hinge leans a few degrees so gravity swings the gate
shut against its stop, as a garden gate does. It opens away from the ball only. Beyond it a low
three-sided catch, open towards the gate, holds a ball that arrives at a sensible pace.
"""

import math

from build123d import Box, Pos, Sphere

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "hinged_gate"
TIER = 2
DESCRIPTION = "Push a ball through a self-closing hinged gate of random size into a catch at a random distance."


def _slab(x0: float, y0: float, z0: float, x1: float, y1: float, z1: float) -> Box:
    return Pos((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2) * Box(x1 - x0, y1 - y0, z1 - z0)


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
    # The leaning axis sits up to ~7 mm off the gate's mid-plane at its top and bottom, so the gate's hinge-side
    # corners swing out to ~14 mm from it: with the fence ending 9 mm from the axis a tall gate jammed at ~60°
    # and pushed a ball passing it sideways. 18 mm lets it open fully; the slot is still far narrower than a ball.
    left_end, right_end = y_hinge - 18, gate_w / 2 + 3
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
            # Light damping: the lean's weight alone still swings it shut, but a ball can push it open. At 0.05
            # N·m·s/rad it acted as a viscous lock on a gate of a few hundred grams.
            damping=0.002,
        )
    )
    # A faceted ball balances on a vertex and creeps away; a 1 mm flat at its foot lets it stand still.
    # Steel, so the ball outweighs the wooden gate and carries on through it: a rubber ball (a tenth of the
    # mass, and grippy) was stopped or wedged against the gate at any moderate speed.
    ball = Sphere(radius) & Pos(0, 0, 1) * Box(3 * radius, 3 * radius, 2 * radius)
    s.add(Part("ball", Pos(-180, 0, radius - 1 + 0.5) * ball, role="free", material="steel"))
    # A low catch around the goal, open towards the gate and built of convex slabs: a ball rolling freely
    # on the floor stops too unpredictably to land in the goal by itself.
    catch_h = radius + 20
    for name, lo, hi in (
        ("catch_back", (goal_x + 70, -100, 0), (goal_x + 80, 100, catch_h)),
        ("catch_left", (goal_x - 70, -100, 0), (goal_x + 70, -90, catch_h)),
        ("catch_right", (goal_x - 70, 90, 0), (goal_x + 70, 100, catch_h)),
    ):
        s.add(Part(name, _slab(*lo, *hi), role="fixed", material="wood"))
    s.objectives(
        moved="ball",
        goal=Zone((goal_x - 70, -90, 0), (goal_x + 70, 90, 2 * radius + 20)),
        build=Zone((-490, -290, 0), (-wall_t / 2 - 5, 290, 390)),
        # Over the fence is not through the gate.
        forbid=[Zone((-wall_t / 2 - 5, -half_y, fence_h), (wall_t / 2 + 5, half_y, top))],
    )
    s.constraints(max_unit_cost=20.0, max_weight=800.0, target_quantity=100)
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """A driven ram behind the ball shoves it at the gate; the ball swings the gate open and rolls into the catch."""
    s = build(seed, scale)
    radius = s.value("ball_radius")
    back = -180 - radius - 2  # the ram's face starts 2 mm behind the ball
    ram_t = 20.0
    # Let go of the ball 20 mm before it meets the gate (whose face is at x = -6), well inside the build zone:
    # the ram's stroke ends clear of the zone's edge whatever the ball's size.
    stroke = (-6 - 20 - 2 * radius) - back
    # Off the floor (3 mm), facing the ball's centre height.
    ram = _slab(back - ram_t, -40, 3, back, 40, 2 * radius - 3)
    return [
        Part(
            "ram",
            ram,
            role="sliding",
            material="aluminium",
            axis=(1, 0, 0),
            limits=(0, stroke),
            # Measured over seeds 0-15 and 1000-1015: 0.9-1.8 m/s all land in the catch (the farthest goal needs
            # ~0.9, and the back wall holds the fastest); 1.3 m/s sits in the middle.
            drive=1300.0,
        )
    ]
