"""A block must be passed through a raised window in a wall that spans the whole workspace.

The wall is one concave solid (a box with a box cut out), so the compiler decomposes it into convex
pieces with CoACD; the other families build their concave fixtures from convex slabs instead.

The build zone runs through the wall, up to just short of the goal: a solution may place parts on the
far side, but anything that crosses the wall has to pass through the window, since nothing may be
built into the wall and the space over its top is forbidden.
"""

import math

from build123d import Box, Compound, Plane, Polygon, Pos, Rot, extrude

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "through_window"
TIER = 1
DESCRIPTION = (
    "Pass a block through a window of random size and sill height in a wall to a goal at a random distance "
    "beyond it; solution parts may reach through the window to the far side."
)

WALL_X, WALL_T = 60.0, 30.0
BLOCK_X = -300.0
GOAL_HALF = 80.0


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    sill = p.param("sill_height", nominal=120, spread=0.4)
    win_w = p.param("window_width", nominal=150, spread=0.4)
    win_h = p.param("window_height", nominal=120, spread=0.4)
    goal_x = p.param("goal_x", nominal=400, spread=0.4)
    half_y, top = 250.0, 500.0
    wall_h = sill + win_h + 80
    block = 0.5 * min(win_w, win_h)
    s = Scene(workspace=Zone((-500, -half_y, 0), (700, half_y, top)), scale=scale, params=p, title="Through a window")
    wall = Pos(WALL_X, 0, wall_h / 2) * Box(WALL_T, 2 * half_y, wall_h)
    window = Pos(WALL_X, 0, sill + win_h / 2) * Box(WALL_T + 10, win_w, win_h)
    s.add(Part("wall", wall - window, role="fixed", material="concrete"))
    s.add(Part("block", Pos(BLOCK_X, 0, block / 2 + 0.5) * Box(block, block, block), role="free", material="abs"))
    goal_lo = goal_x - GOAL_HALF
    s.objectives(
        moved="block",
        goal=Zone((goal_lo, -GOAL_HALF, 0), (goal_x + GOAL_HALF, GOAL_HALF, block + 20)),
        # Through the wall to 3 mm short of the goal: with the build zone ending in front of the wall only a
        # throw could work, and a thrown crate hops and tumbles. Its top stays under the forbid zone (a zone
        # is one box, so the cap holds on both sides of the wall); the window is the only way across.
        build=Zone((-480, -230, 0), (goal_lo - 3, 230, wall_h - 2)),
        # Over the wall is not a way through, and nothing may hang from its top.
        forbid=[Zone((WALL_X - WALL_T / 2 - 5, -half_y, wall_h), (WALL_X + WALL_T / 2 + 5, half_y, top))],
    )
    s.constraints(max_unit_cost=30.0, max_weight=1500.0, target_quantity=100)
    return s


def _slope_box(origin, theta, s0, s1, n0, n1, width):
    """A box in the ramp's frame: from s0 to s1 along the slope from `origin` (x, z), n0 to n1 off it."""
    c, sn = math.cos(theta), math.sin(theta)
    sm, nm = (s0 + s1) / 2, (n0 + n1) / 2
    x = origin[0] + sm * c - nm * sn
    z = origin[1] + sm * sn + nm * c
    return Pos(x, 0, z) * Rot(0, -math.degrees(theta), 0) * Box(s1 - s0, width, n1 - n0)


def _prism(points, width):
    """A prism across y (centred on y = 0) on a polygon in the xz plane."""
    return extrude(Plane.XZ * Polygon(*points, align=None), amount=width / 2, both=True)


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """A ramp through the window with a pusher driven up its slope, then a low floor pusher on the far side.

    The ramp's surface meets the floor 2 mm in front of the block and clears the sill; the pusher,
    sliding parallel to it, shoves the block up and over the ramp's end past the wall, where it drops to
    the floor. A second pusher, waiting against the wall's far face, then sweeps it into the goal.
    """
    s = build(seed, scale)
    sill, win_w, win_h = s.value("sill_height"), s.value("window_width"), s.value("window_height")
    goal_x = s.value("goal_x")
    b = 0.5 * min(win_w, win_h)
    build_hi = goal_x - GOAL_HALF - 3
    near, far = WALL_X - WALL_T / 2, WALL_X + WALL_T / 2  # the wall's faces
    t = 4.0  # ramp plate
    back, front = BLOCK_X - b / 2, BLOCK_X + b / 2
    toe = front + 2.0
    # The plate's underside clears the sill's near edge (its lowest point over the sill) by 1.5 mm.
    theta = math.atan2(sill + 1.5, near - toe)
    for _ in range(5):
        theta = math.atan2(sill + 1.5 + t / math.cos(theta), near - toe)
    c, sn = math.cos(theta), math.sin(theta)
    origin = (toe, 0.0)  # where the ramp's surface meets the floor
    # The far-side pusher (the sweeper): 6 mm thick, 1 mm off the wall, low enough (0.4 of the block) not to tip it.
    p2_t, p2_h = 6.0, 0.4 * b
    p2_face = far + 1 + p2_t
    # The ramp ends 8 mm past the wall: the lower the block drops from, the less it tumbles (from a ramp end
    # 60 mm further out, a big block dropped 230 mm and rolled on past the nearest goal). Tipping off here it
    # lands clear of the waiting sweeper, 100-140 mm past the wall, inside the nearest goal.
    x_end = far + 8
    s_end = (x_end - toe) / c
    ramp_w = min(b + 30, win_w - 12)
    # The plate starts where its underside is 1 mm off the floor; its lip is covered by a low toe, a roof-shaped
    # prism whose front face continues the ramp's surface down to the floor. The toe is symmetric so that its
    # collision piece's frame (its principal axes) is the world's: the zone check boxes each piece in its own
    # frame, and a plate cut off at the floor would be boxed several millimetres into it. The toe's base is 0.4 mm
    # below the floor (fixed parts don't collide with the floor, and the zone check allows 1 mm), so its leading
    # edge lies under the block's foot: a toe standing 0.6 mm proud made a step that a shallow ramp's block jammed on.
    s0 = (1 + t * c) / sn
    apex = s0 + 3
    ax, az = toe + apex * c, apex * sn
    half = (az + 0.4) / math.tan(theta)
    toe_piece = _prism([(ax - half, -0.4), (ax + half, -0.4), (ax, az)], ramp_w)
    ramp = Compound([toe_piece, _slope_box(origin, theta, s0, s_end, -t, 0, ramp_w)])
    # The slope pusher's face starts 1 mm behind the block. Its slab (12 mm along the slope) sits with its
    # lowest corner 1 mm off the floor, and an upright foot fills in under its leading edge down to that height,
    # so it meets the block low down; like the toe, each piece is a box in its own frame (see above).
    p1_t = 12.0
    fx, fz = back - 1, 1.0 + p1_t * sn
    s_f = (fx - toe) * c + fz * sn  # along the slope
    n_f = -(fx - toe) * sn + fz * c  # off the slope
    # Its top stays under the window's top where it crosses the wall (at the far face, the tightest place).
    room = (sill + win_h - 3 - (sill + 1.5 + t / c + WALL_T * math.tan(theta))) * c
    n_top = min(0.85 * b, room)
    foot = Pos(fx - 4, 0, (1 + fz) / 2) * Box(8, 0.8 * b, fz - 1)
    p1 = Compound([_slope_box(origin, theta, s_f - p1_t, s_f, n_f, n_top, 0.8 * b), foot])
    # It stops with the block's centre just past the ramp's end, so the block tips off by itself rather than
    # being shoved off (which flung it further).
    stroke1 = s_end - 0.1 * b - s_f
    v1 = 250.0
    p2 = Pos(p2_face - p2_t / 2, 0, 1 + p2_h / 2) * Box(p2_t, 150, p2_h)
    # It stops 3 mm short of the build zone's end (the servo overshoots up to ~2 mm); the block's centre is then
    # at least half a block (18 mm) further on, inside the goal.
    stroke2 = build_hi - 3 - p2_face
    return [
        Part("ramp", ramp, role="fixed", material="abs"),
        Part("pusher", p1, role="sliding", material="aluminium", axis=(c, 0, sn), limits=(0, stroke1), drive=v1),
        Part(
            "sweeper",
            p2,
            role="sliding",
            material="aluminium",
            axis=(1, 0, 0),
            limits=(0, stroke2),
            drive=400.0,
            # It waits until the block has tipped off the ramp and landed in front of it.
            delay=stroke1 / v1 + 0.6,
        ),
    ]
