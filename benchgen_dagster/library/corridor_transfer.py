"""A box must be moved along an L-shaped walled corridor, round the bend, to the corridor's far end."""

from build123d import Box, Pos

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
