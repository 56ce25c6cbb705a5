"""A box on the floor must be lifted onto a wall-mounted shelf; the space under the shelf stays clear."""

from build123d import Box, Pos

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
