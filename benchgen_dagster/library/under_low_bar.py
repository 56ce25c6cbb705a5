"""A low crate must be moved under a low bar that spans the whole workspace, into a goal area beyond."""

from build123d import Box, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "under_low_bar"
TIER = 1
DESCRIPTION = "Move a flat crate under a low bar of random clearance to a goal area at a random distance."


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    clearance = p.param("bar_clearance", nominal=90, spread=0.4)
    crate_w = p.param("crate_width", nominal=80, spread=0.4)
    goal_x = p.param("goal_x", nominal=440, spread=0.4)
    bar_t = p.param("bar_thickness", nominal=40, spread=0.4)
    crate_h = 0.55 * clearance  # always fits under the bar, never over a stacked crate
    half_y, top = 250.0, 500.0
    post_w, bar_x = 30.0, 100.0
    bar_depth = 30.0
    s = Scene(workspace=Zone((-500, -half_y, 0), (700, half_y, top)), scale=scale, params=p, title="Under a low bar")
    # Posts at the workspace edges and a bar between them: the only way across is underneath.
    for side, y in (("left", -half_y + post_w / 2), ("right", half_y - post_w / 2)):
        s.add(
            Part(
                f"post_{side}",
                Pos(bar_x, y, (clearance + bar_depth) / 2) * Box(bar_t, post_w, clearance + bar_depth),
                role="fixed",
                material="steel",
            )
        )
    s.add(
        Part(
            "bar",
            Pos(bar_x, 0, clearance + bar_depth / 2) * Box(bar_t, 2 * half_y - 2 * post_w, bar_depth),
            role="fixed",
            material="steel",
        )
    )
    s.add(Part("crate", Pos(-300, 0, crate_h / 2 + 0.5) * Box(crate_w, crate_w, crate_h), role="free", material="wood"))
    goal_half = 70.0
    s.objectives(
        moved="crate",
        goal=Zone((goal_x - goal_half, -goal_half, 0), (goal_x + goal_half, goal_half, crate_h + 20)),
        build=Zone((-480, -230, 0), (bar_x - bar_t / 2 - 10, 230, 450)),
        # Nothing may go over the bar or hang from it.
        forbid=[Zone((bar_x - bar_t / 2 - 10, -half_y, clearance), (bar_x + bar_t / 2 + 10, half_y, top))],
    )
    s.constraints(max_unit_cost=25.0, max_weight=1500.0, target_quantity=100)
    return s
