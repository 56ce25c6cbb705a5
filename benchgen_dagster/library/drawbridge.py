"""A ball must cross a gap between two platforms; a hinged drawbridge stands raised at the near edge.

The bridge leans back a hair past upright onto its stop, so it stays up on its own. Lowered, it spans
the gap and rests on the far platform; nothing may be built in the gap.
"""

from build123d import Box, Pos, Sphere

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "drawbridge"
TIER = 2
DESCRIPTION = "Lower a hinged drawbridge over a gap of random width and roll a ball across to the far platform."


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    gap = p.param("gap_width", nominal=160, spread=0.4)
    height = p.param("platform_height", nominal=100, spread=0.4)
    radius = p.param("ball_radius", nominal=35, spread=0.4)
    goal_x = p.param("goal_x", nominal=300, spread=0.4)
    half_y, top, end = 250.0, 500.0, 490.0
    deck_w, plank_t, lift = 300.0, 8.0, 1.0
    hinge_x = -gap / 2 - 10  # the bridge's hinge, just back from the near edge
    length = gap + 40  # lowered, it rests 30 mm onto the far platform
    s = Scene(
        workspace=Zone((-500, -half_y, 0), (500, half_y, top)), scale=scale, params=p, title="Drawbridge over a gap"
    )
    s.add(
        Part(
            "platform_near",
            Pos((-end - gap / 2) / 2, 0, height / 2) * Box(end - gap / 2, deck_w, height),
            role="fixed",
            material="concrete",
        )
    )
    s.add(
        Part(
            "platform_far",
            Pos((end + gap / 2) / 2, 0, height / 2) * Box(end - gap / 2, deck_w, height),
            role="fixed",
            material="concrete",
        )
    )
    # Raised: a plank standing just behind the hinge line. Positive angles lower it over the gap; its
    # weight, a few millimetres behind the hinge, holds it on the stop at 0.
    plank = Pos(hinge_x - plank_t / 2, 0, height + lift + length / 2) * Box(plank_t, 180, length)
    s.add(
        Part(
            "bridge",
            plank,
            role="hinged",
            material="wood",
            axis=(0, 1, 0),
            anchor=(hinge_x, 0, height + lift),
            limits=(0, 95),
            damping=0.1,
        )
    )
    # A faceted ball balances on a vertex and creeps away; a 1 mm flat at its foot lets it stand still.
    ball = Sphere(radius) & Pos(0, 0, 1) * Box(3 * radius, 3 * radius, 2 * radius)
    s.add(Part("ball", Pos(-330, 0, height + radius - 1 + 0.5) * ball, role="free", material="rubber"))
    s.objectives(
        moved="ball",
        goal=Zone((goal_x - 60, -100, height), (goal_x + 60, 100, height + 2 * radius + 20)),
        build=Zone((-490, -240, height), (hinge_x - plank_t - 5, 240, top - 10)),
        # No filling the gap: the only way over is the bridge.
        forbid=[Zone((-gap / 2, -half_y, 0), (gap / 2, half_y, height))],
    )
    s.constraints(max_unit_cost=25.0, max_weight=1000.0, target_quantity=100)
    return s
