"""A drawer slides in a fixed cabinet on a prismatic joint; it must be pulled open by its handle.

The cabinet and the drawer are concave, so each is built from convex slabs (one collision solid each)
with a few millimetres of running clearance between drawer and cabinet.
"""

from build123d import Box, CenterOf, Compound, Pos

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "sliding_drawer"
TIER = 2
DESCRIPTION = "Pull a drawer of random size out of a cabinet on a plinth of random height until it is open."


def _slab(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> Box:
    return Pos((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2) * Box(x1 - x0, y1 - y0, z1 - z0)


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    width = p.param("drawer_width", nominal=200, spread=0.4)
    depth = p.param("drawer_depth", nominal=250, spread=0.4)
    height = p.param("drawer_height", nominal=80, spread=0.4)
    plinth = p.param("plinth_height", nominal=100, spread=0.4)
    gap, wall, panel = 2.0, 8.0, 15.0  # running clearance, drawer wall, cabinet panel
    travel = 0.9 * depth
    w2 = width / 2
    zb = plinth + panel  # top of the cabinet's bottom panel
    z0, z1 = zb + gap, zb + gap + height  # the drawer's bottom and top
    back = depth + gap + 1  # inside face of the cabinet's back panel
    cab_top = z1 + gap + panel
    cy = w2 + gap + panel  # outer half-width of the cabinet
    s = Scene(workspace=Zone((-500, -300, 0), (500, 300, 450)), scale=scale, params=p, title="Pull open a drawer")
    cabinet = [
        _slab(0, back + panel, -cy, cy, 0, zb),  # plinth and bottom panel
        _slab(0, back + panel, -cy, cy, z1 + gap, cab_top),  # top panel
        _slab(0, back, -cy, -w2 - gap, zb, z1 + gap),
        _slab(0, back, w2 + gap, cy, zb, z1 + gap),
        _slab(back, back + panel, -cy, cy, zb, z1 + gap),
    ]
    s.add(Part("cabinet", Compound(cabinet), role="fixed", material="wood"))
    hz = (z0 + z1) / 2
    drawer = [
        _slab(-10, depth, -w2, w2, z0, z0 + wall),  # bottom
        _slab(-10, 10, -w2, w2, z0 + wall, z1),  # front
        _slab(10, depth, -w2, -w2 + wall, z0 + wall, z1),
        _slab(10, depth, w2 - wall, w2, z0 + wall, z1),
        _slab(depth - wall, depth, -w2 + wall, w2 - wall, z0 + wall, z1),  # back
        _slab(-40, -10, -w2 / 2 - 5, -w2 / 2 + 5, hz - 5, hz + 5),  # handle standoffs
        _slab(-40, -10, w2 / 2 - 5, w2 / 2 + 5, hz - 5, hz + 5),
        _slab(-52, -40, -w2 / 2 - 5, w2 / 2 + 5, hz - 7, hz + 7),  # handle bar
    ]
    drawer_shape = Compound(drawer)
    com = drawer_shape.center(CenterOf.MASS)
    # Slides out along -x: 0 is shut, `travel` is fully open.
    s.add(
        Part("drawer", drawer_shape, role="sliding", material="abs", axis=(-1, 0, 0), limits=(0, travel), damping=2.0)
    )
    s.objectives(
        moved="drawer",
        # Open: the drawer's centre of mass pulled out past where its handle starts.
        goal=Zone((com.X - travel - 10, com.Y - 30, com.Z - 30), (-53, com.Y + 30, com.Z + 30)),
        # Up to the drawer's front, so a puller can reach behind the handle (the handle ends at x = -40).
        build=Zone((-490, -290, 0), (-25, 290, 440)),
        # The cabinet is furniture: nothing may be built into or onto it.
        forbid=[Zone((0, -cy, 0), (back + panel, cy, cab_top + 20))],
    )
    s.constraints(max_unit_cost=25.0, max_weight=1000.0, target_quantity=200)
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """A hook on a driven slider: its finger sits behind the handle bar and draws the drawer out.

    The slide runs at a moderate 150 mm/s and stops 5 mm short of the drawer's full travel; the drawer
    coasts on against its own end stop, which lies inside the goal (the goal reaches 10 mm past it).
    """
    s = build(seed, scale)
    width, depth, height = s.value("drawer_width"), s.value("drawer_depth"), s.value("drawer_height")
    plinth = s.value("plinth_height")
    w2 = width / 2
    hz = plinth + 15.0 + 2.0 + height / 2  # the handle's centre height, as build() places it
    travel = 0.9 * depth
    # The finger fits between the handle's standoffs (at |y| = w2/2 ± 5), 2 mm behind the bar (x = -40),
    # and stays clear of the drawer front (x = -10); the arm passes over the bar to the slider's body.
    finger_half = w2 / 2 - 8.0
    pieces = [
        Pos(-32.0, 0, hz + 4.0) * Box(8.0, 2 * finger_half, 26.0),  # finger, from 13 mm below the bar's top
        Pos(-61.0, 0, hz + 13.0) * Box(66.0, 40.0, 8.0),  # arm over the bar (top at hz + 7)
        Pos(-114.0, 0, hz + 13.0) * Box(40.0, 40.0, 30.0),  # the slider's body
    ]
    hook = Compound(pieces)
    return [
        Part(
            "hook",
            hook,
            role="sliding",
            axis=(-1, 0, 0),
            limits=(0, travel - 5.0),
            drive=150.0,
            material="aluminium",
        )
    ]
