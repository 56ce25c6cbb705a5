"""A square peg lying on the floor must be stood up and inserted into a blind hole in a block."""

from build123d import Box, Compound, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "peg_in_hole"
TIER = 1
DESCRIPTION = "Pick up a square peg and insert it into a blind hole of random size and depth in a block."


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
    # The peg lies on its side, away from the block.
    s.add(Part("peg", Pos(-200, 0, peg_w / 2 + 0.5) * Box(peg_len, peg_w, peg_w), role="free", material="aluminium"))
    s.objectives(
        moved="peg",
        # Fully inserted: the peg stands on the hole floor, its centre of mass inside the hole's column.
        goal=Zone((hx0, -hole_w / 2, base), (hx1, hole_w / 2, base + peg_len / 2 + 5)),
        build=Zone((-380, -230, 0), (bx0 - 20, 230, 450)),
        # The block itself is off limits: nothing may be fixed to it or built into it.
        forbid=[Zone((bx0, -outer / 2, 0), (hx0, outer / 2, top)), Zone((hx1, -outer / 2, 0), (bx1, outer / 2, top))],
    )
    s.constraints(max_unit_cost=30.0, max_weight=1200.0, target_quantity=200)
    return s
