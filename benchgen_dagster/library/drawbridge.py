"""A ball must cross a gap between two platforms; a hinged drawbridge stands raised at the near edge.

The bridge stands in the gap just beyond the near platform's edge, hinged at its foot a little more than a
plank's thickness below deck level, and leans back a hair past upright onto its stop, so it stays up on its
own. Lowered, it starts a step below the near deck and slopes gently down across the gap to rest on the
lower far platform; nothing may be built in the gap.
"""

import math

from build123d import Box, Compound, Pos, Sphere

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "drawbridge"
TIER = 2
DESCRIPTION = (
    "Lower a hinged drawbridge over a gap of random width and roll a ball across it, downhill, to the lower"
    " far platform."
)


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    gap = p.param("gap_width", nominal=160, spread=0.4)
    height = p.param("platform_height", nominal=100, spread=0.4)
    radius = p.param("ball_radius", nominal=35, spread=0.4)
    goal_x = p.param("goal_x", nominal=300, spread=0.4)
    half_y, top, end = 250.0, 500.0, 490.0
    deck_w, plank_t, clear = 300.0, 8.0, 2.0
    # The hinge sits a plank's thickness and 3 mm below deck level, so the lowered bridge starts a step down from
    # the near deck: a ball whose centre is past the near edge drops onto it. (Hinged on top of the deck, the
    # lowered plank left a 9 mm step up that a slowly pushed small ball could stall on; flush, a small ball's
    # 1 mm foot flat could sit across the slot between the near edge and the bridge.)
    hinge_x, hinge_z = -gap / 2 + clear + plank_t, height - plank_t - 3
    length = gap - clear - plank_t + 30  # lowered, it reaches 30 mm onto the far platform
    # The far platform stands lower, so the lowered bridge slopes down 8 degrees: a ball that is only just on it
    # (toppling the bridge takes most of a pushed ball's speed) still rolls across. Its tip rests on the far deck.
    slope = math.radians(8)
    far_z = hinge_z - length * math.sin(slope)
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
            Pos((end + gap / 2) / 2, 0, far_z / 2) * Box(end - gap / 2, deck_w, far_z),
            role="fixed",
            material="concrete",
        )
    )
    # Raised: a plank standing in the gap, 2 mm clear of the near platform's edge, its foot on the hinge line.
    # Positive angles lower it over the gap; its weight, a few millimetres behind the hinge, holds it on the
    # stop at 0. The upper limit leaves room past the 98 degrees at which it lands on the far deck.
    plank = Pos(hinge_x - plank_t / 2, 0, hinge_z + length / 2) * Box(plank_t, 180, length)
    s.add(
        Part(
            "bridge",
            plank,
            role="hinged",
            material="wood",
            axis=(0, 1, 0),
            anchor=(hinge_x, 0, hinge_z),
            limits=(0, 90 + math.degrees(slope) + 5),
            damping=0.1,
        )
    )
    # A buffer at the goal's far side: a rolling ball has next to no rolling resistance here, so without
    # it nothing on the far platform could stop the ball in the goal.
    # Its cheeks keep a ball that glances off it from wandering out of the goal sideways.
    buffer = [Pos(goal_x + 65, 0, far_z + 30) * Box(10, deck_w, 60)]
    buffer += [Pos(goal_x + 30, side * 100, far_z + 30) * Box(60, 10, 60) for side in (-1, 1)]
    s.add(Part("buffer", Compound(buffer), role="fixed", material="wood"))
    # A faceted ball balances on a vertex and creeps away; a 1 mm flat at its foot lets it stand still.
    ball = Sphere(radius) & Pos(0, 0, 1) * Box(3 * radius, 3 * radius, 2 * radius)
    s.add(Part("ball", Pos(-330, 0, height + radius - 1 + 0.5) * ball, role="free", material="rubber"))
    s.objectives(
        moved="ball",
        goal=Zone((goal_x - 60, -100, far_z), (goal_x + 60, 100, far_z + 2 * radius + 20)),
        build=Zone((-490, -240, height), (hinge_x - plank_t - 5, 240, top - 10)),
        # No filling the gap: the only way over is the bridge.
        forbid=[Zone((-gap / 2, -half_y, 0), (gap / 2, half_y, height))],
    )
    s.constraints(max_unit_cost=25.0, max_weight=1000.0, target_quantity=100)
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """A pusher on a driven slider rolls the ball into the raised bridge, tipping it over the gap, then on
    past the near edge onto the lowered bridge; the ball rolls down it and comes to rest against the buffer
    in the goal.

    Nothing may be built within 5 mm of the raised bridge, so the ball itself is the pusher's tool: the
    pusher drives it into the plank just above the hinge, far enough to topple it past its balance point.
    Toppling the plank takes most of the ball's speed, so the bridge's downhill slope does the rest.
    """
    s = build(seed, scale)
    gap, height, r = s.value("gap_width"), s.value("platform_height"), s.value("ball_radius")
    hinge_x = -gap / 2 + 10  # as in build(): the raised plank's face is 2 mm past the near edge
    # The pusher's face stops 10 mm inside the build zone, which ends 5 mm short of the raised plank (the end
    # stop gives ~3 mm at this speed): the ball's centre is then r - 13 mm (at least 8 mm) past the near edge,
    # over the slot before the lowered bridge's lower, downhill deck, so it drops onto it and rolls on across.
    face = hinge_x - 8 - 5 - 10
    plate_t, plate_w, plate_h = 10.0, 60.0, 2 * r
    back = -330 - r - 1
    plate = Pos(back - plate_t / 2, 0, height + 3 + plate_h / 2) * Box(plate_t, plate_w, plate_h)
    # Steel ballast behind the plate brings the pusher near 0.95 kg (the weight limit is 1 kg): its end stop,
    # a soft joint limit whose stiffness scales with the moving mass, then holds within a millimetre.
    ballast_v = 0.95e6 / 7.85 - plate_t * plate_w * plate_h
    ballast_l, ballast_w = 40.0, 100.0
    ballast_h = ballast_v / (ballast_l * ballast_w)
    ballast = Pos(back - plate_t - ballast_l / 2, 0, height + 3 + ballast_h / 2) * Box(ballast_l, ballast_w, ballast_h)
    # 500 mm/s: fast enough to topple the bridge with the ball.
    return [
        Part(
            "pusher",
            Compound([plate, ballast]),
            role="sliding",
            axis=(1, 0, 0),
            limits=(0, face - back),
            drive=500.0,
            material="steel",
        )
    ]
