"""A square peg standing on a platform must be moved into a blind hole in a block, a tight fit.

The peg stands upright on a fixed platform beside the block, the platform 4 mm higher than the block, so a
mechanism built above the platform and the block can slide it across and drop it in. A peg lying on the
floor, or flung at the hole, does not reliably end upright in a hole 3 mm wider than itself; a peg held
upright over the hole and let down does. Nothing may be built into the block itself.
"""

from build123d import Box, Compound, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "peg_in_hole"
TIER = 1
DESCRIPTION = "Move an upright square peg off a platform into a blind hole of random size and depth in a block."


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    hole_w = p.param("hole_width", nominal=30, spread=0.4)
    depth = p.param("hole_depth", nominal=50, spread=0.4)
    block_x = p.param("block_x", nominal=300, spread=0.4)
    peg_len = p.param("peg_length", nominal=110, spread=0.4)
    peg_len = max(peg_len, depth + 30)  # the inserted peg always stands proud of the block
    clearance = 1.5  # per side, so the peg slides in
    peg_w = hole_w - 2 * clearance
    wall = 40.0  # block material around the hole
    base = 20.0  # block material under the hole
    outer = hole_w + 2 * wall
    top = base + depth
    deck = top + 4  # the platform's top: a little above the block's, so a slide-out floor fits over the block
    s = Scene(workspace=Zone((-400, -250, 0), (600, 250, 500)), scale=scale, params=p, title="Peg in a blind hole")
    # The block is concave: a base slab and four walls around the hole, each a convex solid.
    bx0, bx1 = block_x - outer / 2, block_x + outer / 2
    hx0, hx1 = block_x - hole_w / 2, block_x + hole_w / 2
    slabs = [
        Pos(block_x, 0, base / 2) * Box(outer, outer, base),
        Pos((bx0 + hx0) / 2, 0, base + depth / 2) * Box(wall, outer, depth),
        Pos((hx1 + bx1) / 2, 0, base + depth / 2) * Box(wall, outer, depth),
        Pos(block_x, -(hole_w + wall) / 2, base + depth / 2) * Box(hole_w, wall, depth),
        Pos(block_x, (hole_w + wall) / 2, base + depth / 2) * Box(hole_w, wall, depth),
    ]
    s.add(Part("block", Compound(slabs), role="fixed", material="steel"))
    # The platform ends 2 mm short of the block: the peg stands on it 40 mm back from its edge.
    plat_x0, plat_x1 = -380.0, bx0 - 2
    s.add(
        Part(
            "platform",
            Pos((plat_x0 + plat_x1) / 2, 0, deck / 2) * Box(plat_x1 - plat_x0, 200, deck),
            role="fixed",
            material="abs",
        )
    )
    peg_x = plat_x1 - 40 - peg_w / 2
    s.add(
        Part(
            "peg",
            Pos(peg_x, 0, deck + 0.5 + peg_len / 2) * Box(peg_w, peg_w, peg_len),
            role="free",
            material="aluminium",
        )
    )
    s.objectives(
        moved="peg",
        # Fully inserted: the peg stands on the hole floor, its centre of mass inside the hole's column.
        goal=Zone((hx0, -hole_w / 2, base), (hx1, hole_w / 2, base + peg_len / 2 + 5)),
        # Above the platform and the block, from the block's top up.
        build=Zone((-380, -230, top), (bx1 + 40, 230, 450)),
        # The block itself is off limits: nothing may be fixed to it or built into it.
        forbid=[Zone((bx0, -outer / 2, 0), (hx0, outer / 2, top)), Zone((hx1, -outer / 2, 0), (bx1, outer / 2, top))],
    )
    s.constraints(max_unit_cost=30.0, max_weight=1200.0, target_quantity=200)
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """Slide the upright peg into a fixed three-sided pocket over the hole, onto a floor that then slides away.

    A fixed pocket above the block (a stop on the far side of the hole, fences on both sides) and a driven
    pusher behind the peg box it in over the hole, 0.5-1.5 mm clear of the hole's edges on every side: boxed
    in, it cannot tip. A thin driven floor under the pocket, level with the platform, carries it there; once
    the pusher has stopped the floor slides out sideways (dragging the peg against a fence, which stops it),
    and the peg drops straight down the pocket into the hole.
    """
    s = build(seed, scale)
    hole_w, depth, block_x = s.value("hole_width"), s.value("hole_depth"), s.value("block_x")
    peg_len = max(s.value("peg_length"), depth + 30)
    peg_w = hole_w - 3.0
    top = 20.0 + depth
    deck = top + 4
    outer = hole_w + 80
    bx0 = block_x - outer / 2
    hx0, hx1 = block_x - hole_w / 2, block_x + hole_w / 2
    peg_x0 = bx0 - 2 - 40 - peg_w  # the peg's back face
    # The pocket: its stop's face 0.5 mm inside the hole's far edge, fences 0.5 mm inside its sides. They start
    # 0.5 mm above the floor, so it slides out beneath them, and stand as tall as the peg.
    stop_x = hx1 - 0.5
    fence_y = hole_w / 2 - 0.5
    z0, h = deck + 0.5, peg_len
    pocket = [Pos(stop_x + 5, 0, z0 + h / 2) * Box(10, 2 * fence_y + 20, h)]
    fx0 = hx0 - 20  # the fences reach back over the block's near wall, so the peg is between them before the hole
    pocket += [Pos((fx0 + stop_x) / 2, side * (fence_y + 5), z0 + h / 2) * Box(stop_x - fx0, 10, h) for side in (-1, 1)]
    # The floor: 3 mm thick, its top 0.5 mm below the platform's, from the platform's edge to under the stop.
    fl_x0, fl_x1 = bx0 - 1.5, stop_x + 8
    fl_y = fence_y + 5
    floor = Pos((fl_x0 + fl_x1) / 2, 0, deck - 2) * Box(fl_x1 - fl_x0, 2 * fl_y, 3)
    # The pusher: narrower than the pocket, its foot 0.5 mm over the platform (pushing low, the peg cannot tip
    # forward), tall enough to keep it from tipping back. It stops 1 mm short of pinning the peg to the stop,
    # so the peg can drop between them; at 100 mm/s its end stop overshoots by well under a millimetre.
    push_t, push_w = 10.0, peg_w - 4
    back = peg_x0 - 0.5
    end = stop_x - peg_w - 1.0
    stroke = end - back
    pusher = Pos(back - push_t / 2, 0, deck + 0.5 + 0.45 * peg_len) * Box(push_t, push_w, 0.9 * peg_len)
    speed = 100.0
    return [
        Part("pocket", Compound(pocket), role="fixed", material="wood"),
        Part(
            "pusher",
            pusher,
            role="sliding",
            axis=(1, 0, 0),
            limits=(0, stroke),
            drive=speed,
            material="aluminium",
        ),
        # Out sideways once the pusher has stopped, far enough to clear the hole.
        Part(
            "floor",
            floor,
            role="sliding",
            axis=(0, 1, 0),
            limits=(0, 2 * fl_y + 5),
            drive=200.0,
            delay=stroke / speed + 0.3,
            material="aluminium",
        ),
    ]
