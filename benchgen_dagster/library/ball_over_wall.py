"""A ball must get over a wall and into an open bin on the far side."""

from build123d import Box, Pos, Sphere

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "ball_over_wall"
TIER = 1
DESCRIPTION = "Lift a ball over a wall of random height into a bin at a random distance."


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    wall_h = p.param("wall_height", nominal=120, spread=0.4)
    bin_x = p.param("bin_x", nominal=500, spread=0.4)
    radius = p.param("ball_radius", nominal=35, spread=0.4)
    s = Scene(
        workspace=Zone((-600, -300, 0), (900, 300, 600)), scale=scale, params=p, title="Ball over a wall into a bin"
    )
    s.add(Part("wall", Pos(150, 0, wall_h / 2) * Box(20, 400, wall_h), role="fixed", material="wood"))
    # The bin is concave: it is composed of convex slabs, each its own collision solid.
    s.add(Part("bin_floor", Pos(bin_x, 0, 5) * Box(160, 160, 10), role="fixed"))
    for dx in (-75, 75):
        s.add(
            Part(
                f"bin_wall_x{dx:+d}".replace("+", "p").replace("-", "m"),
                Pos(bin_x + dx, 0, 50) * Box(10, 160, 80),
                role="fixed",
            )
        )
    for dy in (-75, 75):
        s.add(
            Part(
                f"bin_wall_y{dy:+d}".replace("+", "p").replace("-", "m"),
                Pos(bin_x, dy, 50) * Box(140, 10, 80),
                role="fixed",
            )
        )
    # A faceted ball balances on a vertex and creeps away; a 1 mm flat at its foot lets it stand still.
    ball = Sphere(radius) & Pos(0, 0, 1) * Box(3 * radius, 3 * radius, 2 * radius)
    s.add(Part("ball", Pos(-300, 0, radius - 1 + 0.5) * ball, role="free", material="steel"))
    s.objectives(
        moved="ball",
        goal=Zone((bin_x - 70, -70, 10), (bin_x + 70, 70, 90)),
        build=Zone((-450, -250, 0), (100, 250, 400)),
        forbid=[Zone((135, -205, 0), (165, 205, wall_h + 5))],
    )
    s.constraints(max_unit_cost=40.0, max_weight=1500.0, target_quantity=100)
    return s
