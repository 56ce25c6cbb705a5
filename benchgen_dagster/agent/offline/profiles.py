"""What each library family is about, as the offline planner scores and parameterizes it.

A profile says which task keywords and moved objects point at the family, and how the sizes, travels
and rises a request names map onto the family's parameters.
"""

from dataclasses import dataclass, field

# A reading key -> (param, multiplier, addend): the param's nominal is value × multiplier + addend.
Mapping = tuple[str, float, float]


@dataclass(frozen=True)
class Profile:
    moved: str  # the moved part's name in the source (`moved="..."`)
    moved_material: str
    keywords: dict[str, float]
    objects: dict[str, float]
    sizes: dict[str, tuple[Mapping, ...]] = field(default_factory=dict)
    # A horizontal travel: travel = multiplier × sum(params) + offset; the params scale together.
    travel: tuple[tuple[str, ...], float, float] | None = None
    # A rise: param = rise × multiplier + addend.
    rise: Mapping | None = None
    stand_in: str = ""  # what the family moves, for the rationale when the prompt names something else


_BOXLIKE = {"cube": 1.0, "box": 1.0, "block": 1.0, "crate": 1.0}

PROFILES: dict[str, Profile] = {
    "ball_over_wall": Profile(
        moved="ball",
        moved_material="steel",
        keywords={"wall": 2, "bin": 3, "over": 1.5, "throw": 2, "sideways": 1, "move": 0.5},
        objects={"ball": 1.5},
        sizes={
            "radius": (("ball_radius", 1, 0),),
            "diameter": (("ball_radius", 0.5, 0),),
            "size": (("ball_radius", 0.5, 0),),
            "height": (("wall_height", 1, 0),),
        },
        travel=(("bin_x",), 1.0, 300.0),  # the ball starts at x = -300
        rise=("wall_height", 1, 0),
        stand_in="a steel ball",
    ),
    "corridor_transfer": Profile(
        moved="box",
        moved_material="abs",
        keywords={"corridor": 3, "bend": 2, "transfer": 2, "sideways": 1.5, "along": 1, "move": 0.5, "wall": 0.5},
        objects={**_BOXLIKE, "box": 1.5},
        sizes={
            "width": (("corridor_width", 1, 0),),
            "size": (("corridor_width", 2, 0),),  # the box is half the corridor's width
            "height": (("wall_height", 1, 0),),
        },
        travel=(("leg1_length", "leg2_length"), 1.0, -100.0),  # from the entrance, round the bend, to the end
        stand_in="a cubic ABS box half the corridor's width",
    ),
    "crank": Profile(
        moved="weight",
        moved_material="steel",
        keywords={"crank": 3, "cam": 3, "eccentric": 2, "wheel": 1, "turn": 1, "axle": 1, "lift": 0.5},
        objects={"weight": 1.5, "load": 0.5},
        sizes={
            "radius": (("wheel_radius", 1, 0),),
            "diameter": (("wheel_radius", 0.5, 0),),
            "offset": (("cam_offset", 1, 0),),
            "width": (("weight_width", 1, 0),),
            "size": (("weight_width", 1, 0),),
        },
        rise=("cam_offset", 0.5, 0),  # half a turn lifts the weight by twice the offset
        stand_in="a steel weight on the cam",
    ),
    "drawbridge": Profile(
        moved="ball",
        moved_material="rubber",
        keywords={"bridge": 3, "gap": 3, "cross": 2, "across": 1.5, "chasm": 3, "platform": 1, "hinge": 0.5},
        objects={"ball": 1.5, **{k: 0.5 for k in _BOXLIKE}},
        sizes={
            "gap": (("gap_width", 1, 0),),
            "width": (("gap_width", 1, 0),),
            "radius": (("ball_radius", 1, 0),),
            "diameter": (("ball_radius", 0.5, 0),),
            "size": (("ball_radius", 0.5, 0),),
            "height": (("platform_height", 1, 0),),
        },
        travel=(("goal_x",), 1.0, 330.0),  # the ball starts at x = -330
        stand_in="a rubber ball",
    ),
    "hinged_gate": Profile(
        moved="ball",
        moved_material="steel",
        keywords={"gate": 3, "fence": 2, "hinge": 1, "swing": 1, "self-closing": 2, "through": 0.5},
        objects={"ball": 1.5},
        sizes={
            "width": (("gate_width", 1, 0),),
            "height": (("gate_height", 1, 0),),
            "radius": (("ball_radius", 1, 0),),
            "diameter": (("ball_radius", 0.5, 0),),
            "size": (("ball_radius", 0.5, 0),),
        },
        travel=(("goal_x",), 1.0, 180.0),  # the ball starts at x = -180
        stand_in="a steel ball",
    ),
    "lever_moving_fulcrum": Profile(
        moved="load",
        moved_material="steel",
        keywords={"lever": 3, "fulcrum": 3, "class-1": 2, "seesaw": 3, "pivot": 1, "beam": 1, "lift": 0.5},
        objects={"load": 1.5, "weight": 0.5},
        sizes={"width": (("beam_width", 1, 0),)},
        rise=("fulcrum_x", 2, 20),  # the load rises about (fulcrum_x - 20) × sin 30°
        stand_in="a heavy steel load",
    ),
    "lift_to_shelf": Profile(
        moved="box",
        moved_material="wood",
        keywords={"shelf": 3, "lift": 1.5, "onto": 1, "move": 0.5},
        objects={**_BOXLIKE, "box": 1.5},
        sizes={
            "size": (("box_size", 1, 0),),
            "height": (("shelf_height", 1, 0),),
            "depth": (("shelf_depth", 1, 0),),
        },
        travel=(("shelf_x",), 1.0, 250.0),  # the box starts at x = -250
        rise=("shelf_height", 1, 0),
        stand_in="a wooden cube",
    ),
    "peg_in_hole": Profile(
        moved="peg",
        moved_material="aluminium",
        keywords={"peg": 3, "hole": 3, "insert": 2, "socket": 2},
        objects={"peg": 2},
        sizes={
            "width": (("hole_width", 1, 3),),  # 1.5 mm clearance per side
            "size": (("hole_width", 1, 3),),
            "depth": (("hole_depth", 1, 0),),
            "length": (("peg_length", 1, 0),),
        },
        # No travel: the peg stands on a platform that ends at the block, wherever the block is.
        stand_in="a square aluminium peg",
    ),
    "sliding_drawer": Profile(
        moved="drawer",
        moved_material="abs",
        keywords={"drawer": 3, "cabinet": 2, "pull": 1, "open": 1, "slide": 1},
        objects={"drawer": 1},
        sizes={
            "width": (("drawer_width", 1, 0),),
            "depth": (("drawer_depth", 1, 0),),
            "length": (("drawer_depth", 1, 0),),
            "height": (("drawer_height", 1, 0),),
        },
        travel=(("drawer_depth",), 0.9, 0.0),  # it opens by 0.9 × its depth
        stand_in="the drawer",
    ),
    "through_window": Profile(
        moved="block",
        moved_material="abs",
        keywords={"window": 3, "through": 1, "opening": 1.5, "wall": 0.5},
        objects={**_BOXLIKE, "block": 1.5},
        sizes={
            "width": (("window_width", 1, 0),),
            "height": (("window_height", 1, 0),),
            "size": (("window_width", 2, 0), ("window_height", 2, 0)),  # the block is half the window
            "sill": (("sill_height", 1, 0),),
        },
        travel=(("goal_x",), 1.0, 300.0),  # the block starts at x = -300
        rise=("sill_height", 1, 0),
        stand_in="an ABS block half the window's size",
    ),
    "under_low_bar": Profile(
        moved="crate",
        moved_material="wood",
        keywords={"under": 2, "low-bar": 3, "bar": 1, "limbo": 3},
        objects={**_BOXLIKE, "crate": 2},
        sizes={
            "clearance": (("bar_clearance", 1, 0),),
            "height": (("bar_clearance", 1, 0),),
            "width": (("crate_width", 1, 0),),
            "size": (("crate_width", 1, 0),),
            "thickness": (("bar_thickness", 1, 0),),
        },
        travel=(("goal_x",), 1.0, 300.0),  # the crate starts at x = -300
        stand_in="a flat wooden crate",
    ),
}
