"""A low crate must be moved under a low bar that spans the whole workspace, into a goal area beyond.

The build zone runs under the bar, up to just short of the goal, but its roof sits below the bar's
clearance: whatever a solver builds must itself pass under the bar, and nothing may go over it.
"""

from build123d import Box, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "under_low_bar"
TIER = 1
DESCRIPTION = (
    "Move a flat crate under a low bar of random clearance to a goal area at a random distance, "
    "building only below the bar's height."
)

GOAL_HALF = 70.0  # the goal area's half-width
BUILD_GAP = 5.0  # the build zone ends this far short of the goal's near edge


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
    s.objectives(
        moved="crate",
        goal=Zone((goal_x - GOAL_HALF, -GOAL_HALF, 0), (goal_x + GOAL_HALF, GOAL_HALF, crate_h + 20)),
        # Under the bar and on towards the goal, but only below the bar's clearance: a mechanism must be
        # low enough to pass under the bar itself (without this the goal is reachable only by a free
        # launch, which a crate hopping on the floor makes a lottery).
        build=Zone((-480, -230, 0), (goal_x - GOAL_HALF - BUILD_GAP, 230, clearance - 5)),
        # Nothing may go over the bar or hang from it.
        forbid=[Zone((bar_x - bar_t / 2 - 10, -half_y, clearance), (bar_x + bar_t / 2 + 10, half_y, top))],
    )
    s.constraints(max_unit_cost=25.0, max_weight=1500.0, target_quantity=100)
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """A low driven pusher plate shoves the crate along the floor under the bar to the goal's near side."""
    s = build(seed, scale)
    crate_w, goal_x = s.value("crate_width"), s.value("goal_x")
    crate_h = 0.55 * s.value("bar_clearance")
    face = -300 - crate_w / 2 - 1  # the plate's front face, just behind the crate
    # The plate's front may go no further than the build zone's end, less the servo's overshoot at its
    # stop (~2 mm at this pace); the crate's centre is then half a crate past it, well inside the goal.
    stop = goal_x - GOAL_HALF - BUILD_GAP - 4
    # Low on the crate (under a third of its height, and its width is at least its height), so with the
    # floor's friction of 1 it slides rather than tips; 3 mm off the floor so the plate never rubs it.
    height = max(10.0, crate_h / 3)
    plate = Pos(face - 10, 0, 3 + height / 2) * Box(20, crate_w + 40, height)
    return [
        Part(
            "pusher",
            plate,
            role="sliding",
            material="aluminium",
            axis=(1, 0, 0),
            limits=(0, stop - face),
            # Moderate pace: the crate neither hops nor coasts far (~6 mm) after the stop, and even the
            # longest stroke (~860 mm) is over in about 2.5 s of the 4 s.
            drive=350.0,
        )
    ]
