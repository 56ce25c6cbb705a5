"""A box on the floor must be lifted onto a wall-mounted shelf; the space under the shelf stays clear.

The reference solution is a fixed ramp up to the shelf's edge and a driven finger that pushes the box up it.
"""

import math

from build123d import Box, Compound, Plane, Polygon, Pos, extrude

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "lift_to_shelf"
TIER = 1
DESCRIPTION = "Lift a box from the floor onto a wall shelf of random height and depth, keeping the space below clear."


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    height = p.param("shelf_height", nominal=200, spread=0.4)
    depth = p.param("shelf_depth", nominal=160, spread=0.4)
    size = p.param("box_size", nominal=60, spread=0.4)
    shelf_x = p.param("shelf_x", nominal=250, spread=0.4)  # the shelf's front edge
    slab, half_w, back_t = 15.0, 160.0, 20.0
    back_x = shelf_x + depth
    s = Scene(workspace=Zone((-500, -250, 0), (600, 250, 500)), scale=scale, params=p, title="Lift onto a shelf")
    s.add(
        Part(
            "back_wall",
            Pos(back_x + back_t / 2, 0, (height + 150) / 2) * Box(back_t, 2 * half_w + 80, height + 150),
            role="fixed",
            material="concrete",
        )
    )
    s.add(
        Part(
            "shelf",
            Pos(shelf_x + depth / 2, 0, height - slab / 2) * Box(depth, 2 * half_w, slab),
            role="fixed",
            material="wood",
        )
    )
    s.add(Part("box", Pos(-250, 0, size / 2 + 0.5) * Box(size, size, size), role="free", material="wood"))
    s.objectives(
        moved="box",
        goal=Zone((shelf_x + 5, -half_w + 10, height), (back_x - 5, half_w - 10, height + size + 30)),
        build=Zone((-480, -230, 0), (shelf_x - 5, 230, 480)),
        # The space under the shelf is storage: nothing may be built there.
        forbid=[Zone((shelf_x, -half_w, 0), (back_x, half_w, height - slab))],
    )
    s.constraints(max_unit_cost=35.0, max_weight=2000.0, target_quantity=100)
    return s


def _slope_bar(x: float, z: float, angle: float, length: float, thick: float, y0: float, y1: float):
    """A bar tilted up by `angle`: its top face from (x, z) up the slope for `length`, `thick` below it.

    A rectangle in the slope's own frame, so its principal axes are its sides and the world bounding box the
    zone check takes from them is no bigger than the bar itself.
    """
    c, s = math.cos(angle), math.sin(angle)
    down = (s * thick, -c * thick)  # square to the slope, away from the top face
    corners = [(x, z), (x + length * c, z + length * s)]
    corners += [(corners[1][0] + down[0], corners[1][1] + down[1]), (x + down[0], z + down[1])]
    bar = extrude(Plane.XZ * Polygon(*corners, align=None), amount=y1 - y0)
    # Which way the extrusion runs depends on the polygon's winding: place it by its bounds instead.
    return Pos(0, y0 - bar.bounding_box().min.Y, 0) * bar


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """A fixed two-rail ramp from the floor in front of the box up to the shelf's edge; a driven finger between
    the rails, its face square to the ramp, pushes the box up the ramp and on over the edge onto the shelf."""
    s = build(seed, scale)
    height, size, shelf_x = s.value("shelf_height"), s.value("box_size"), s.value("shelf_x")
    back = -250 - size / 2  # the box's back face; its front face is at -250 + size / 2
    t = 5.0  # the rails' thickness, square to the slope
    # The ramp's top face runs from the floor just in front of the box to 1 mm above the shelf (so the box drops
    # onto the shelf rather than catching its edge), ending where its lower corner stays in the build zone.
    tip_x, top_x, top_z = -250 + size / 2 + 2, shelf_x - 6 - t, height + 1
    theta = math.atan2(top_z, top_x - tip_x)
    c, sn = math.cos(theta), math.sin(theta)
    length = math.hypot(top_x - tip_x, top_z)
    # A full-thickness bar would reach below the floor at the tip, so the tip is a 0.8 mm sliver and the main
    # bar starts where its underside has risen clear of the floor.
    start = t / math.tan(theta) + 0.5
    inner = size / 4  # rails under both sides of the box, a gap between them for the finger
    rails = []
    for y0 in (inner, -inner - 10):
        rails.append(_slope_bar(tip_x, 0, theta, start + 5, 0.8, y0, y0 + 10))
        rails.append(_slope_bar(tip_x + start * c, start * sn, theta, length - start, t, y0, y0 + 10))
    # The finger: a plate square to the slope, its leading (lowest front) edge just off the floor behind the box.
    # It travels in a straight line to just under the ramp's top, between the rails: on the floor it pushes the
    # box low, and on the ramp its face closes down onto the box's back edge, so the box cannot tip forward.
    thick = 6.0
    x0, z0 = back - 1, thick * sn + 1  # its lowest corner, behind the face, 1 mm off the floor
    # Turned a quarter turn up from the slope, a negative thickness puts the plate behind its face.
    finger = _slope_bar(x0, z0, theta + math.pi / 2, size + 15, -thick, -inner + 3, inner - 3)
    # Its stop: level with the shelf, where its face meets the box's back edge once the box lies on the shelf;
    # the build zone ends at shelf_x - 5, and the servo, pressing on, overshoots its limit by up to ~6 mm.
    # The box's back ends about 7 mm short of the shelf's edge: even the smallest box (36 mm) has its centre
    # ~12 mm onto the shelf, past the goal's edge at shelf_x + 5.
    end_x, end_z = shelf_x - 12, top_z - 3
    dx, dz = end_x - x0, end_z - z0
    stroke = math.hypot(dx, dz)
    return [
        Part("ramp", Compound(rails), role="fixed", material="wood"),
        Part(
            "finger",
            finger,
            role="sliding",
            material="aluminium",
            axis=(dx / stroke, 0, dz / stroke),
            limits=(0, stroke),
            # Steady, so the box neither hops nor tips on the way up; even the longest stroke (~700 mm) is over
            # in under 2 s.
            drive=400.0,
        ),
    ]
