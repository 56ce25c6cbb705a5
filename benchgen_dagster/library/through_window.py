"""A block must be passed through a raised window in a wall that spans the whole workspace.

The wall is one concave solid (a box with a box cut out), so the compiler decomposes it into convex
pieces with CoACD; the other families build their concave fixtures from convex slabs instead.
"""

from build123d import Box, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "through_window"
TIER = 1
DESCRIPTION = "Pass a block through a window of random size and sill height in a wall to a goal beyond it."


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    sill = p.param("sill_height", nominal=120, spread=0.4)
    win_w = p.param("window_width", nominal=150, spread=0.4)
    win_h = p.param("window_height", nominal=120, spread=0.4)
    goal_x = p.param("goal_x", nominal=400, spread=0.4)
    half_y, top = 250.0, 500.0
    wall_x, wall_t = 60.0, 30.0
    wall_h = sill + win_h + 80
    block = 0.5 * min(win_w, win_h)
    s = Scene(workspace=Zone((-500, -half_y, 0), (700, half_y, top)), scale=scale, params=p, title="Through a window")
    wall = Pos(wall_x, 0, wall_h / 2) * Box(wall_t, 2 * half_y, wall_h)
    window = Pos(wall_x, 0, sill + win_h / 2) * Box(wall_t + 10, win_w, win_h)
    s.add(Part("wall", wall - window, role="fixed", material="concrete"))
    s.add(Part("block", Pos(-300, 0, block / 2 + 0.5) * Box(block, block, block), role="free", material="abs"))
    goal_half = 80.0
    s.objectives(
        moved="block",
        goal=Zone((goal_x - goal_half, -goal_half, 0), (goal_x + goal_half, goal_half, block + 20)),
        build=Zone((-480, -230, 0), (wall_x - wall_t / 2 - 5, 230, 450)),
        # Over the wall is not a way through, and nothing may hang from its top.
        forbid=[Zone((wall_x - wall_t / 2 - 5, -half_y, wall_h), (wall_x + wall_t / 2 + 5, half_y, top))],
    )
    s.constraints(max_unit_cost=30.0, max_weight=1500.0, target_quantity=100)
    return s
