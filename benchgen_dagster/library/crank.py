"""A crank wheel turns on a horizontal axle; its disc is an eccentric cam under a sliding weight.

Left alone the cam's lobe hangs down and the weight rests at its lowest. Turning the crank handle half a
turn lifts the weight by twice the cam's offset; lifting the weight directly is forbidden.
"""

from build123d import Box, Compound, Cylinder, Pos, Rot

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "crank"
TIER = 2
DESCRIPTION = "Turn a crank whose eccentric cam of random size lifts a sliding weight into a goal zone."


def _slab(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> Box:
    return Pos((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2) * Box(x1 - x0, y1 - y0, z1 - z0)


def _along_y(radius: float, y0: float, y1: float, x: float, z: float) -> Cylinder:
    return Pos(x, (y0 + y1) / 2, z) * Rot(90, 0, 0) * Cylinder(radius, y1 - y0)


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    radius = p.param("wheel_radius", nominal=60, spread=0.4)
    offset = p.param("cam_offset", nominal=20, spread=0.4)
    weight_w = p.param("weight_width", nominal=60, spread=0.4)
    axle_h = radius + offset + 30  # the lobe clears the floor all the way round
    weight_h = 20.0
    cam_top = axle_h - offset + radius  # highest point of the cam at rest, straight above the axle
    reach = radius + offset  # the cam's swept radius about the axle
    wy0, wy1 = -2.0, 22.0  # the weight spans the cam's thickness (y 0..20), barely overhanging it
    col_x = weight_w / 2 + 8
    col_top = cam_top + weight_h + 2 * offset + 60
    s = Scene(workspace=Zone((-300, -300, 0), (300, 300, 450)), scale=scale, params=p, title="Crank and cam")
    # A column carries the axle and, on its front face, two lips that guide the weight.
    frame = [
        _slab(-col_x, col_x, -34, -14, 0, col_top),
        _slab(-col_x, -weight_w / 2 - 2, -14, 6, axle_h + reach + 3, col_top),
        _slab(weight_w / 2 + 2, col_x, -14, 6, axle_h + reach + 3, col_top),
    ]
    s.add(Part("column", Compound(frame), role="fixed", material="steel"))
    crank = [
        _along_y(radius, 0, 20, 0, axle_h - offset),  # the cam disc, its centre below the axle
        _along_y(8, -12, 0, 0, axle_h),  # axle stub, short of the column
        _along_y(6, 20, 60, 0, axle_h - offset - radius + 12),  # handle pin near the rim
    ]
    s.add(
        Part(
            "crank",
            Compound(crank),
            role="hinged",
            material="aluminium",
            axis=(0, 1, 0),
            anchor=(0, 10, axle_h),
            limits=(-360, 360),
            damping=0.05,
        )
    )
    weight_z0 = cam_top + 0.5
    s.add(
        Part(
            "weight",
            _slab(-weight_w / 2, weight_w / 2, wy0, wy1, weight_z0, weight_z0 + weight_h),
            role="sliding",
            material="steel",
            axis=(0, 0, 1),
            limits=(-5, 2 * offset + 20),
            damping=1.0,
        )
    )
    weight_top = weight_z0 + weight_h
    com_y = (wy0 + wy1) / 2
    goal_top = weight_z0 + weight_h / 2 + 2 * offset + 10
    s.objectives(
        moved="weight",
        # Lifted clear of where it starts: its centre above its starting top face.
        goal=Zone((-20, com_y - 10, weight_top + 1), (20, com_y + 10, goal_top)),
        build=Zone((-290, 25, 0), (290, 290, axle_h + reach + 2)),
        # No lifting the weight from above: it rises only on the cam.
        forbid=[Zone((-col_x, -14, goal_top), (col_x, 40, 450))],
    )
    s.constraints(max_unit_cost=35.0, max_weight=1500.0, target_quantity=50)
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """A driven fork on the crank's own axle: it straddles the handle pin and turns the crank half a turn."""
    s = build(seed, scale)
    radius, offset = s.value("wheel_radius"), s.value("cam_offset")
    axle_h = radius + offset + 30
    pin_r = radius + offset - 12  # the handle pin's distance from the axle
    pin_z = axle_h - pin_r
    # Tines on both sides of the pin: past half a turn the weight would run the crank away from a single
    # pusher and drop the lobe again, so the fork holds the pin both ways and parks it lobe-up.
    gap, tine, back = 7.0, 8.0, 8.0
    tip = pin_z - 6  # just past the pin, so the fork's sweep stays under the build zone's roof
    root = pin_z + gap + back
    y0, y1 = 28.0, 56.0  # along the pin, clear of the cam disc (y < 20) and inside the build zone (y > 25)
    fork = [
        _slab(gap, gap + tine, y0, y1, tip, root),
        _slab(-gap - tine, -gap, y0, y1, tip, root),
        _slab(-gap - tine, gap + tine, y0, y1, pin_z + gap, root),
    ]
    return [
        Part(
            "crank_turner",
            Compound(fork),
            role="hinged",
            material="aluminium",
            axis=(0, 1, 0),
            anchor=(0, (y0 + y1) / 2, axle_h),
            # Lobe straight up is the cam's highest point: the weight sits 2 x offset higher, mid-goal.
            limits=(0, 180),
            # Fast enough that the servo's slip under the weight and the cam's own imbalance still finishes early.
            drive=180.0,
        )
    ]
