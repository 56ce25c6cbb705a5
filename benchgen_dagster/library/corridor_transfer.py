"""A box must be moved along an L-shaped walled corridor, round the bend, to the corridor's far end."""

from build123d import Box, Compound, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "corridor_transfer"
TIER = 1
DESCRIPTION = "Move a box along an L-shaped walled corridor of random width and leg lengths to its far end."


def _wall(name: str, x0: float, x1: float, y0: float, y1: float, height: float) -> Part:
    box = Pos((x0 + x1) / 2, (y0 + y1) / 2, height / 2) * Box(x1 - x0, y1 - y0, height)
    return Part(name, box, role="fixed", material="wood")


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    width = p.param("corridor_width", nominal=140, spread=0.4)
    leg1 = p.param("leg1_length", nominal=550, spread=0.4)
    leg2 = p.param("leg2_length", nominal=400, spread=0.4)
    wall_h = p.param("wall_height", nominal=80, spread=0.4)
    t = 20.0  # wall thickness
    x0, yc = -450.0, -250.0  # corridor entrance and the first leg's centreline
    xc = x0 + leg1  # the second leg's centreline
    y_end = yc + leg2
    box = 0.5 * width
    w2 = width / 2
    s = Scene(
        workspace=Zone((-500, -400, 0), (500, 400, 400)), scale=scale, params=p, title="Round the bend of a corridor"
    )
    s.add(_wall("wall_outer_1", x0, xc + w2 + t, yc - w2 - t, yc - w2, wall_h))
    s.add(_wall("wall_inner_1", x0, xc - w2 - t, yc + w2, yc + w2 + t, wall_h))
    s.add(_wall("wall_outer_2", xc + w2, xc + w2 + t, yc - w2, y_end + t, wall_h))
    s.add(_wall("wall_inner_2", xc - w2 - t, xc - w2, yc + w2, y_end, wall_h))
    s.add(_wall("wall_end", xc - w2 - t, xc + w2, y_end, y_end + t, wall_h))
    s.add(Part("box", Pos(x0 + box / 2 + 30, yc, box / 2 + 0.5) * Box(box, box, box), role="free", material="abs"))
    s.objectives(
        moved="box",
        goal=Zone((xc - w2, y_end - 120, 0), (xc + w2, y_end, box + 20)),
        # Anything built stays in the entrance and the first leg of the corridor.
        build=Zone((-490, yc - w2, 0), (xc + w2, yc + w2, wall_h + 150)),
        # The land inside the bend is someone else's: no cutting the corner over it.
        forbid=[Zone((x0, yc + w2 + t, 0), (xc - w2 - t, y_end + t, 400))],
    )
    s.constraints(max_unit_cost=30.0, max_weight=1500.0, target_quantity=100)
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """Two driven pushers, the second on a delay.

    Pusher 1 runs along leg 1 and delivers the box into the corner, onto leg 2's centreline. Pusher 2
    waits in the strip between the box's lane and leg 1's outer wall; once the box has arrived it
    pushes it, low on its face, up to the build zone's edge (nothing may enter leg 2) and lets it go
    fast enough to slide and tumble on up leg 2 into the end wall, which stops it inside the goal.
    """
    s = build(seed, scale)
    width, leg1, leg2 = s.value("corridor_width"), s.value("leg1_length"), s.value("leg2_length")
    x0, yc = -450.0, -250.0  # as build() places the corridor
    xc, w2, b = x0 + leg1, width / 2, width / 2  # leg 2's centreline, half-width, the box's side
    y_end = yc + leg2
    box_kg = b**3 * 1.05e-6  # ABS
    h = 0.35 * b  # both pushers push low, so the box is not pitched forward over its front edge
    z = 2.0 + h / 2  # and ride 2 mm above the floor

    # Pusher 1: from 1 mm behind the box to where the box's centre is 2 mm short of leg 2's centreline,
    # so its face stays clear of pusher 2 (which starts 3 mm further on).
    face1 = x0 + 30 - 1
    stroke1 = (xc - b / 2 - 2) - face1
    speed1 = 450.0
    pusher1 = Pos(face1 - 10, yc, z) * Box(20, b - 4, h)
    # The servo (gain 100 N s/m for a part under 1 kg) lags by the box's friction: it runs this much slower.
    real1 = speed1 - 1000 * box_kg * 9.81 / 100

    # Pusher 2: spans the box's face in x (from 3 mm past pusher 1's final face to 3 mm short of leg 2's
    # outer wall) and sits 3 mm below the box's lane, at most 20 mm deep, 2 mm above leg 1's outer wall.
    px0, px1 = xc - b / 2 + 3, xc + w2 - 3
    py1 = yc - b / 2 - 3
    py0 = max(yc - w2 + 2, py1 - 20)
    length, depth = px1 - px0, py1 - py0
    # Steel and, where the strip is small, a taller body set back 5 mm from the low face (so it never
    # touches the box): a light part overshoots its stiff limit (15 mm at 60 g), out of the build zone.
    tall = max(h, min(b, 60000.0 / (length * depth)))
    face = Pos((px0 + px1) / 2, (py0 + py1) / 2, z) * Box(length, depth, h)
    body = Pos((px0 + px1) / 2, (py0 + py1 - 5) / 2, 2.0 + tall / 2) * Box(length, depth - 5, tall)
    pusher2 = Compound([face, body]) if tall > h else face
    # Its face stops this far short of the build zone's edge: the stiff limit overshoots up to ~9 mm.
    margin = 9.0
    stroke2 = (yc + w2 - margin) - py1
    release = yc + w2 - margin + b / 2  # the box's centre when pusher 2 stops
    # A launch just enough to slide to the end wall (v^2 = 2 g d at friction 1). Measured over the ranges:
    # the heavy (~1 kg) box needs ~90 % of that (faster bounces off the wall); the light one hops and
    # tumbles, losing less, and at full speed vaults the wall or bounces back out of the goal, so it gets
    # ~80 % of it. Slower leaves the box short; faster can bounce it back out of the goal.
    d = max(y_end - b / 2 - release, 30.0)
    speed2 = (0.8 + 0.1 * (b - 42.0) / 56.0) * (2 * 9810.0 * d) ** 0.5
    return [
        Part(
            "pusher_leg",
            pusher1,
            role="sliding",
            axis=(1, 0, 0),
            limits=(0, stroke1),
            drive=speed1,
            material="aluminium",
        ),
        Part(
            "pusher_bend",
            pusher2,
            role="sliding",
            axis=(0, 1, 0),
            limits=(0, stroke2),
            drive=max(speed2, 600.0),
            # Waits for pusher 1's travel at its lagging speed and for the box to settle.
            delay=stroke1 / real1 + 0.3,
            material="steel",
        ),
    ]
