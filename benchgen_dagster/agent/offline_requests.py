"""Reading a curator's plain-words request offline: choose a library family and set its nominal values.

This is the request-understanding half of the offline policy (`offline.py`): pure, deterministic
functions of the prompt text and the library's source files. No randomness, no network, no model.

- `read_request` pulls out what the prompt says: tier, moved object, material, sizes, distances,
  a count of benchmarks and the task keywords it recognized.
- `plan_request` scores every family of the built-in library against that reading and returns an
  `OfflinePlan` (family, tier, overridden nominal values, a rationale) or a `Refusal` saying why
  nothing in the library fits.
- `parameterized_source` writes the chosen family's script with the overridden `nominal=` literals.

Every override stays inside [0.6, 1.5] × the family's default nominal (distances at most 1.25 ×). What
a request asks for is tried as asked within those bounds: where a family's geometry needs a narrower
range, the worker's checks say so, the coder backs off, and the skill learner turns that into a skill
the coder reads next time. The candidates the pipeline varies on its own (`_vary`) stay within the
narrower ranges measured up front (`_SAFE_FACTORS`), so a batch's extra candidates do not fail.
"""

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from benchgen_dagster.library import Family, families
from benchgen_dagster.library import family as library_family
from benchgen_dagster.models.materials import MATERIALS

# ---------------------------------------------------------------------------------------------
# The public models
# ---------------------------------------------------------------------------------------------


class RequestReading(BaseModel):
    """What was understood from a prompt; every field is None or empty where the prompt says nothing.

    Lengths are in millimetres whatever unit the prompt used (mm, cm, m, km, inches).
    """

    prompt: str = ""
    tier: int | None = None
    # Canonical object word: "ball", "cube", "box", "block", "crate", "peg", "load", "weight", "drawer".
    moved_object: str | None = None
    # A key of `benchgen_dagster.models.materials.MATERIALS`, when the prompt names one (or an alias).
    material: str | None = None
    # Dimensions: "radius", "diameter", "size", "width", "height", "depth", "length", "thickness",
    # "gap", "clearance", "offset", "sill" -> millimetres.
    sizes_mm: dict[str, float] = Field(default_factory=dict)
    # Motions: "sideways", "along", "across", "forward", "away", "up", "out" -> millimetres.
    distances_mm: dict[str, float] = Field(default_factory=dict)
    # How many benchmarks were asked for ("10 lever puzzles" -> 10).
    count: int | None = None
    # Canonical task keywords recognized, in order of first appearance.
    keywords: list[str] = Field(default_factory=list)
    # Which of several candidates of one request this is ("Candidate 2 of 5", as the pipeline writes it).
    variant: int | None = None
    variants: int | None = None


class OfflinePlan(BaseModel):
    """A library family and the nominal values to give it.

    `overrides` only names parameters the family's source declares, each within the family's safe
    range around its default nominal; `rationale` is one paragraph saying why.
    """

    family: str
    tier: int
    title: str
    overrides: dict[str, float] = Field(default_factory=dict)
    rationale: str
    reading: RequestReading


class Refusal(BaseModel):
    """Nothing in the library fits the request; `reason` says why in a sentence or two."""

    reason: str
    reading: RequestReading


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

# Canonical keyword -> regex (matched on word boundaries, lower case).
_KEYWORDS: dict[str, str] = {
    "lever": r"levers?|lever-arms?",
    "fulcrum": r"fulcr(?:um|ums|a)",
    "class-1": r"class[- ]?(?:1|one|i)|first[- ]class",
    "seesaw": r"see-?saws?|teeter(?:-totter)?s?",
    "pivot": r"pivot(?:s|ed|ing)?",
    "beam": r"beams?",
    "drawer": r"drawers?",
    "cabinet": r"cabinets?|cupboards?|dressers?|chests? of drawers",
    "pull": r"pull(?:s|ed|ing)?",
    "open": r"open(?:s|ed)?",
    "slide": r"slid(?:e|es|ing)|sliders?",
    "gate": r"gates?",
    "fence": r"fences?",
    "hinge": r"hinge[sd]?",
    "swing": r"swing(?:s|ing)?|swung",
    "self-closing": r"self[- ]closing",
    "crank": r"crank(?:s|ed|ing|shaft)?",
    "cam": r"cams?",
    "eccentric": r"eccentric",
    "wheel": r"wheels?",
    "turn": r"turn(?:s|ed|ing)?|rotat(?:e|es|ed|ing|ion)",
    "axle": r"axles?",
    "bridge": r"(?:draw)?bridges?",
    "gap": r"gaps?",
    "cross": r"cross(?:es|ed|ing)?",
    "across": r"across",
    "chasm": r"chasms?|ravines?|trench(?:es)?|ditch(?:es)?",
    "platform": r"platforms?",
    "peg": r"pegs?",
    "hole": r"holes?",
    "insert": r"insert(?:s|ed|ing|ion)?",
    "socket": r"sockets?",
    "under": r"under(?:neath)?|beneath",
    "low-bar": r"low[- ](?:bar|beam|clearance|ceiling|rail)",
    "bar": r"bars?",
    "limbo": r"limbo",
    "window": r"windows?",
    "through": r"through",
    "opening": r"openings?|apertures?|hatch(?:es)?",
    "corridor": r"corridors?|hallways?|passages?|passageways?",
    "bend": r"bends?|corners?|l-shaped",
    "transfer": r"transfer(?:s|red|ring)?",
    "sideways": r"sideways|laterally|horizontally",
    "along": r"along",
    "shelf": r"shel(?:f|ves)|ledges?",
    "lift": r"lift(?:s|ed|ing)?|rais(?:e|es|ed|ing)|hoist(?:s|ed|ing)?",
    "onto": r"onto|up on",
    "wall": r"walls?",
    "bin": r"bins?|baskets?|buckets?",
    "over": r"over",
    "throw": r"throw(?:s|n|ing)?|toss(?:es|ed|ing)?|launch(?:es|ed|ing)?|fling(?:s|ing)?|flung",
    "move": r"mov(?:e|es|ed|ing)|push(?:es|ed|ing)?|carr(?:y|ies|ied)|deliver(?:s|ed|ing)?",
}
_KEYWORD_RES = {name: re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])") for name, pattern in _KEYWORDS.items()}

# Things no family models: a request built around them is refused unless it also names a family outright.
_OUT_OF_SCOPE = re.compile(
    r"(?<![\w-])(gears?|gearbox(?:es)?|gear ?trains?|helical|sprockets?|rockets?|engines?|turbines?|"
    r"propellers?|nozzles?|fluids?|liquids?|water|pumps?|hydraulics?|pneumatics?|circuits?|pcbs?|"
    r"electronics?|batter(?:y|ies)|robots?|drones?|cars?|aircraft|airplanes?|software|websites?|"
    r"poems?|essays?)(?![\w-])"
)

_OBJECTS: dict[str, str] = {
    "ball": r"balls?|spheres?|marbles?",
    "cube": r"cubes?",
    "box": r"box(?:es)?|parcels?|packages?|cartons?",
    "block": r"blocks?|bricks?",
    "crate": r"crates?|pallets?",
    "peg": r"pegs?|pins?|dowels?",
    "load": r"loads?",
    "weight": r"weights?",
    "drawer": r"drawers?",
}
_OBJECT_RES = {name: re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])") for name, pattern in _OBJECTS.items()}

_MATERIAL_ALIASES: dict[str, str] = {
    "steel": "steel",
    "stainless": "steel",
    "iron": "steel",
    "aluminium": "aluminium",
    "aluminum": "aluminium",
    "wood": "wood",
    "wooden": "wood",
    "timber": "wood",
    "plywood": "wood",
    "abs": "abs",
    "plastic": "abs",
    "rubber": "rubber",
    "concrete": "concrete",
    "cement": "concrete",
}
assert set(_MATERIAL_ALIASES.values()) <= set(MATERIALS), "a material alias names no known material"
_MATERIAL_RE = re.compile(r"(?<![\w-])(" + "|".join(sorted(_MATERIAL_ALIASES, key=len, reverse=True)) + r")(?![\w-])")

_NUMBER_WORDS: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
}
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")"

# Unit -> millimetres; longer spellings first so the alternation prefers them.
_UNITS: list[tuple[str, float]] = [
    (r"millimet(?:er|re)s?", 1.0),
    (r"centimet(?:er|re)s?", 10.0),
    (r"kilomet(?:er|re)s?", 1_000_000.0),
    (r"met(?:er|re)s?", 1000.0),
    (r"inch(?:es)?", 25.4),
    (r"mm", 1.0),
    (r"cm", 10.0),
    (r"km", 1_000_000.0),
    (r"m", 1000.0),
]
_QUANTITY_RE = re.compile(rf"(?<![\w.-]){_NUM}\s*-?\s*(" + "|".join(f"(?:{u})" for u, _ in _UNITS) + r")(?![\w])")
_UNIT_RES = [(re.compile(rf"(?:{u})$"), mm) for u, mm in _UNITS]

# Words that say what a length measures, read just after or just before it.
_SIZE_WORDS: dict[str, str] = {
    "radius": "radius",
    "radii": "radius",
    "diameter": "diameter",
    "size": "size",
    "side": "size",
    "sides": "size",
    "edge": "size",
    "edges": "size",
    "width": "width",
    "wide": "width",
    "height": "height",
    "high": "height",
    "tall": "height",
    "depth": "depth",
    "deep": "depth",
    "length": "length",
    "long": "length",
    "thickness": "thickness",
    "thick": "thickness",
    "gap": "gap",
    "gaps": "gap",
    "clearance": "clearance",
    "offset": "offset",
    "sill": "sill",
}
_OBJECT_SIZE_WORDS: dict[str, str] = {
    "ball": "diameter",
    "balls": "diameter",
    "sphere": "diameter",
    "spheres": "diameter",
    "marble": "diameter",
    "cube": "size",
    "cubes": "size",
    "box": "size",
    "boxes": "size",
    "block": "size",
    "blocks": "size",
    "crate": "size",
    "crates": "size",
    "peg": "size",
    "pegs": "size",
    "wall": "height",
    "walls": "height",
}
_DIRECTION_WORDS: dict[str, str] = {
    "sideways": "sideways",
    "laterally": "sideways",
    "horizontally": "sideways",
    "along": "along",
    "across": "across",
    "forward": "forward",
    "forwards": "forward",
    "ahead": "forward",
    "away": "away",
    "up": "up",
    "upward": "up",
    "upwards": "up",
    "vertically": "up",
    "out": "out",
    "outward": "out",
    "outwards": "out",
}
_MOTION_VERBS: dict[str, str] = {
    "move": "along",
    "moved": "along",
    "moves": "along",
    "push": "along",
    "pushed": "along",
    "carry": "along",
    "carried": "along",
    "transfer": "along",
    "transferred": "along",
    "roll": "along",
    "rolled": "along",
    "slide": "along",
    "slid": "along",
    "travel": "along",
    "travels": "along",
    "distance": "along",
    "lift": "up",
    "lifted": "up",
    "raise": "up",
    "raised": "up",
    "hoist": "up",
    "hoisted": "up",
    "pull": "out",
    "pulled": "out",
    "open": "out",
    "opened": "out",
}
_HORIZONTAL = ("sideways", "along", "across", "forward", "away")
_TOKEN_RE = re.compile(r"[a-z]+(?:-[a-z0-9]+)*|\d+(?:\.\d+)?|[.;:!?,()]")

_COUNT_NOUNS = (
    r"puzzles?|benchmarks?|scenarios?|scenes?|variants?|variations?|problems?|tasks?|challenges?|levels?|"
    r"versions?|examples?|instances?|environments?|cases?|exercises?|tests?"
)
_COUNT_RE = re.compile(rf"(?<![\w.-]){_NUM}\s+(?:[a-z0-9-]+\s+){{0,3}}?(?:{_COUNT_NOUNS})(?![\w-])")
_TIER_RE = re.compile(r"(?<![\w-])tier[- ]?(\d+|one|two|three|i{1,3})(?![\w-])")
_VARIANT_RE = re.compile(r"(?<![\w-])candidate (\d+) of (\d+)\.?")
_TIER_WORDS = {"one": 1, "two": 2, "three": 3, "i": 1, "ii": 2, "iii": 3}

# Lengths no benchmark workspace (about 1 m across) can hold, and scalings too far to approximate.
_MAX_LENGTH_MM = 3000.0
_MIN_LENGTH_MM = 1.0
_FAR_FACTOR = 4.0

# ---------------------------------------------------------------------------------------------
# What each family is about
# ---------------------------------------------------------------------------------------------

Kind = Literal["size", "distance"]
# A reading key -> (param, multiplier, addend): the param's nominal is value × multiplier + addend.
Mapping = tuple[str, float, float]


@dataclass(frozen=True)
class _Profile:
    moved: str  # the moved part's name in the source (`moved="..."`)
    moved_material: str
    keywords: dict[str, float]
    objects: dict[str, float]
    distances: tuple[str, ...]  # params that are positions or travel lengths (capped at 1.25×)
    sizes: dict[str, tuple[Mapping, ...]] = field(default_factory=dict)
    # A horizontal travel: travel = multiplier × sum(params) + offset; the params scale together.
    travel: tuple[tuple[str, ...], float, float] | None = None
    # A rise: param = rise × multiplier + addend.
    rise: Mapping | None = None
    stand_in: str = ""  # what the family moves, for the rationale when the prompt names something else


_BOXLIKE = {"cube": 1.0, "box": 1.0, "block": 1.0, "crate": 1.0}

_PROFILES: dict[str, _Profile] = {
    "ball_over_wall": _Profile(
        moved="ball",
        moved_material="steel",
        keywords={"wall": 2, "bin": 3, "over": 1.5, "throw": 2, "sideways": 1, "move": 0.5},
        objects={"ball": 1.5},
        distances=("bin_x",),
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
    "corridor_transfer": _Profile(
        moved="box",
        moved_material="abs",
        keywords={"corridor": 3, "bend": 2, "transfer": 2, "sideways": 1.5, "along": 1, "move": 0.5, "wall": 0.5},
        objects={**_BOXLIKE, "box": 1.5},
        distances=("leg1_length", "leg2_length"),
        sizes={
            "width": (("corridor_width", 1, 0),),
            "size": (("corridor_width", 2, 0),),  # the box is half the corridor's width
            "height": (("wall_height", 1, 0),),
        },
        travel=(("leg1_length", "leg2_length"), 1.0, -100.0),  # from the entrance, round the bend, to the end
        stand_in="a cubic ABS box half the corridor's width",
    ),
    "crank": _Profile(
        moved="weight",
        moved_material="steel",
        keywords={"crank": 3, "cam": 3, "eccentric": 2, "wheel": 1, "turn": 1, "axle": 1, "lift": 0.5},
        objects={"weight": 1.5, "load": 0.5},
        distances=(),
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
    "drawbridge": _Profile(
        moved="ball",
        moved_material="rubber",
        keywords={"bridge": 3, "gap": 3, "cross": 2, "across": 1.5, "chasm": 3, "platform": 1, "hinge": 0.5},
        objects={"ball": 1.5, **{k: 0.5 for k in _BOXLIKE}},
        distances=("goal_x",),
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
    "hinged_gate": _Profile(
        moved="ball",
        moved_material="steel",
        keywords={"gate": 3, "fence": 2, "hinge": 1, "swing": 1, "self-closing": 2, "through": 0.5},
        objects={"ball": 1.5},
        distances=("goal_x",),
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
    "lever_moving_fulcrum": _Profile(
        moved="load",
        moved_material="steel",
        keywords={"lever": 3, "fulcrum": 3, "class-1": 2, "seesaw": 3, "pivot": 1, "beam": 1, "lift": 0.5},
        objects={"load": 1.5, "weight": 0.5},
        distances=("fulcrum_x", "effort_arm"),
        sizes={"width": (("beam_width", 1, 0),)},
        rise=("fulcrum_x", 2, 20),  # the load rises about (fulcrum_x - 20) × sin 30°
        stand_in="a heavy steel load",
    ),
    "lift_to_shelf": _Profile(
        moved="box",
        moved_material="wood",
        keywords={"shelf": 3, "lift": 1.5, "onto": 1, "move": 0.5},
        objects={**_BOXLIKE, "box": 1.5},
        distances=("shelf_height", "shelf_x"),
        sizes={
            "size": (("box_size", 1, 0),),
            "height": (("shelf_height", 1, 0),),
            "depth": (("shelf_depth", 1, 0),),
        },
        travel=(("shelf_x",), 1.0, 250.0),  # the box starts at x = -250
        rise=("shelf_height", 1, 0),
        stand_in="a wooden cube",
    ),
    "peg_in_hole": _Profile(
        moved="peg",
        moved_material="aluminium",
        keywords={"peg": 3, "hole": 3, "insert": 2, "socket": 2},
        objects={"peg": 2},
        distances=("block_x",),
        sizes={
            "width": (("hole_width", 1, 3),),  # 1.5 mm clearance per side
            "size": (("hole_width", 1, 3),),
            "depth": (("hole_depth", 1, 0),),
            "length": (("peg_length", 1, 0),),
        },
        # No travel: the peg stands on a platform that ends at the block, wherever the block is.
        stand_in="a square aluminium peg",
    ),
    "sliding_drawer": _Profile(
        moved="drawer",
        moved_material="abs",
        keywords={"drawer": 3, "cabinet": 2, "pull": 1, "open": 1, "slide": 1},
        objects={"drawer": 1},
        distances=(),
        sizes={
            "width": (("drawer_width", 1, 0),),
            "depth": (("drawer_depth", 1, 0),),
            "length": (("drawer_depth", 1, 0),),
            "height": (("drawer_height", 1, 0),),
        },
        travel=(("drawer_depth",), 0.9, 0.0),  # it opens by 0.9 × its depth
        stand_in="the drawer",
    ),
    "through_window": _Profile(
        moved="block",
        moved_material="abs",
        keywords={"window": 3, "through": 1, "opening": 1.5, "wall": 0.5},
        objects={**_BOXLIKE, "block": 1.5},
        distances=("sill_height", "goal_x"),
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
    "under_low_bar": _Profile(
        moved="crate",
        moved_material="wood",
        keywords={"under": 2, "low-bar": 3, "bar": 1, "limbo": 3},
        objects={**_BOXLIKE, "crate": 2},
        distances=("goal_x",),
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

# The global bounds on a new nominal, as a factor of the family's default.
_MIN_FACTOR = 0.6
_MAX_SIZE_FACTOR = 1.5
_MAX_DISTANCE_FACTOR = 1.25

# Narrower bounds where a family's geometry needs them (its workspace, its other parts): found by
# overriding one parameter at a time, and all of a family's parameters together, and checking the
# family over 16 seeds in-process (compile, validate, simulate).
_SAFE_FACTORS: dict[str, dict[str, tuple[float, float]]] = {
    "ball_over_wall": {"bin_x": (0.75, 1.15)},
    "corridor_transfer": {"corridor_width": (0.6, 1.35), "leg1_length": (0.6, 1.05), "leg2_length": (0.6, 1.1)},
    "crank": {"wheel_radius": (0.85, 1.5), "cam_offset": (0.6, 1.2)},
    "drawbridge": {"gap_width": (0.6, 1.35), "platform_height": (0.6, 1.45), "goal_x": (0.6, 1.05)},
    "hinged_gate": {"goal_x": (0.6, 1.1)},
    "lever_moving_fulcrum": {"effort_arm": (0.6, 1.15)},
    "lift_to_shelf": {
        "shelf_depth": (0.6, 1.3),
        "box_size": (0.6, 1.4),
        "shelf_x": (0.6, 1.1),
    },
    "sliding_drawer": {"drawer_depth": (0.6, 1.35)},
    "through_window": {"goal_x": (0.6, 1.1)},
    "under_low_bar": {"goal_x": (0.6, 1.05)},
}
# lever_moving_fulcrum's effort_arm is held to 1.15× so the beam (fulcrum_x + effort_arm, +40 % each) stays
# inside the workspace even when both draw their maximum.


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _number(text: str) -> float:
    return float(_NUMBER_WORDS[text]) if text in _NUMBER_WORDS else float(text)


def _unit_mm(unit: str) -> float:
    for pattern, mm in _UNIT_RES:
        if pattern.match(unit):
            return mm
    raise ValueError(f"unknown unit {unit!r}")  # pragma: no cover - the quantity regex only admits these


def _normalized(prompt: str) -> str:
    text = prompt.lower().replace("\u00a0", " ")
    return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 1,000 mm -> 1000 mm


_STOP_WORDS = frozenset(
    (
        "over",
        "into",
        "onto",
        "through",
        "to",
        "under",
        "from",
        "with",
        "and",
        "or",
        "but",
        "must",
        "should",
        "shall",
        "will",
        "is",
        "are",
        "be",
        "was",
        "were",
        "that",
        "which",
        "where",
        "so",
        "then",
        "past",
        "beyond",
        "while",
    )
)


def _after_role(word: str) -> tuple[Literal["size", "distance"], str] | None:
    if word in _SIZE_WORDS:
        return "size", _SIZE_WORDS[word]
    if word in _OBJECT_SIZE_WORDS:
        return "size", _OBJECT_SIZE_WORDS[word]
    if word in _DIRECTION_WORDS:
        return "distance", _DIRECTION_WORDS[word]
    return None


def _before_role(word: str) -> tuple[Literal["size", "distance"], str] | None:
    if word in _SIZE_WORDS:
        return "size", _SIZE_WORDS[word]
    if word in _DIRECTION_WORDS:
        return "distance", _DIRECTION_WORDS[word]
    if word in _MOTION_VERBS:
        return "distance", _MOTION_VERBS[word]
    return None


def _quantity_role(before: list[str], after: list[str]) -> tuple[Literal["size", "distance"], str]:
    """What a length measures: the nearest telling word, looking alternately after it and before it.

    After a length, a dimension ("wide"), an object ("cube") or a direction ("sideways") tells; before
    it, a dimension ("radius of"), a direction ("out by") or a motion verb ("lifted"). Each side is
    read up to 4 words and stops at a number or a word that starts another phrase ("over", "must").
    """
    ahead: list[str] = []
    for word in after[:4]:
        if word in _STOP_WORDS or word[0].isdigit():
            break
        ahead.append(word)
    behind: list[str] = []
    for word in reversed(before[-4:]):
        if word[0].isdigit():
            break
        behind.append(word)
    for distance in range(4):
        if distance < len(ahead) and (role := _after_role(ahead[distance])):
            return role
        if distance < len(behind) and (role := _before_role(behind[distance])):
            return role
    return "distance", "unspecified"


def _clause_words(text: str, start: int, end: int) -> tuple[list[str], list[str]]:
    """The words before `start` and after `end`, each side cut at the nearest punctuation."""
    before: list[str] = []
    for token in _TOKEN_RE.findall(text[:start]):
        before = [] if not token[0].isalnum() else [*before, token]
    after: list[str] = []
    for token in _TOKEN_RE.findall(text[end:]):
        if not token[0].isalnum():
            break
        after.append(token)
    return before, after


def read_request(prompt: str) -> RequestReading:
    """Read a prompt: tier, moved object, material, sizes, distances, count and task keywords.

    Deterministic and total: any string gives a reading (an empty one for an empty prompt). Lengths
    are converted to millimetres; the first mention of a size or distance key wins.
    """
    text = _normalized(prompt)
    reading = RequestReading(prompt=prompt)
    if variant := _VARIANT_RE.search(text):
        reading.variant, reading.variants = int(variant.group(1)), int(variant.group(2))
        text = text[: variant.start()] + text[variant.end() :]

    found = [(m.start(), name) for name, regex in _KEYWORD_RES.items() if (m := regex.search(text))]
    reading.keywords = [name for _, name in sorted(found)]

    objects = [(m.start(), name) for name, regex in _OBJECT_RES.items() if (m := regex.search(text))]
    reading.moved_object = min(objects)[1] if objects else None

    if material := _MATERIAL_RE.search(text):
        reading.material = _MATERIAL_ALIASES[material.group(1)]

    if tier := _TIER_RE.search(text):
        word = tier.group(1)
        reading.tier = _TIER_WORDS[word] if word in _TIER_WORDS else int(word)
    elif re.search(r"(?<![\w-])spatial(?![\w-])", text):
        reading.tier = 1
    elif re.search(r"(?<![\w-])kinematic(?:s|al)?(?![\w-])", text):
        reading.tier = 2

    for count in _COUNT_RE.finditer(text):
        preceding = text[: count.start()].split()[-1:]
        if preceding and preceding[0] in ("tier", "class", "type", "level"):
            continue
        reading.count = int(_number(count.group(1)))
        break

    for quantity in _QUANTITY_RE.finditer(text):
        value_mm = _number(quantity.group(1)) * _unit_mm(quantity.group(2))
        before, after = _clause_words(text, quantity.start(), quantity.end())
        role, key = _quantity_role(before, after)
        target = reading.sizes_mm if role == "size" else reading.distances_mm
        target.setdefault(key, value_mm)
    return reading


# ---------------------------------------------------------------------------------------------
# Families' parameters and sources
# ---------------------------------------------------------------------------------------------

_PARAM_RE = re.compile(r"""p\.param\(\s*["'](\w+)["']\s*,\s*nominal=\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)""")
_TITLE_RE = re.compile(r"""title=["']([^"']+)["']""")


def family_parameters(family: str) -> dict[str, float]:
    """The family's continuous parameters and their default nominal values, in source order.

    Parsed from the source text (`p.param("name", nominal=X`), so nothing is imported. Raises
    KeyError for a family the library does not have.
    """
    return {name: float(value) for name, value in _PARAM_RE.findall(library_family(family).source())}


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(round(value, 3))


def _comment(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]+", " ", text).strip()


def parameterized_source(plan: OfflinePlan) -> str:
    """The family's source with the plan's overrides as the new `nominal=` literals, and a header.

    Only the `nominal=` literal of each overridden parameter changes; the header comment names the
    request, the family and each override. The result compiles as Python. Raises ValueError for an
    override the family's source does not declare.
    """
    source = library_family(plan.family).source()
    defaults = family_parameters(plan.family)
    unknown = sorted(set(plan.overrides) - set(defaults))
    if unknown:
        raise ValueError(f"family {plan.family!r} has no parameters {unknown}; it has {sorted(defaults)}")
    for name, value in sorted(plan.overrides.items()):
        if not math.isfinite(value):
            raise ValueError(f"override {name}={value} is not a finite number")
        pattern = re.compile(
            rf"""(p\.param\(\s*["']{re.escape(name)}["']\s*,\s*nominal=\s*)[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"""
        )
        source, replaced = pattern.subn(r"\g<1>" + _format(value), source)
        if replaced != 1:
            raise ValueError(f"parameter {name!r} is declared {replaced} times in {plan.family!r}")
    request = _comment(plan.reading.prompt or plan.title)
    if len(request) > 300:
        request = request[:297] + "..."
    changes = ", ".join(
        f"{name} {_format(defaults[name])} -> {_format(value)}" for name, value in sorted(plan.overrides.items())
    )
    header = [
        "# Generated offline by benchgen_dagster.agent.offline_requests from a library family.",
        f"# Family: {plan.family} (tier {plan.tier}).",
        f"# Request: {request}",
        f"# Overridden nominal values: {changes or 'none (the family defaults)'}.",
    ]
    text = "\n".join(header) + "\n" + source
    compile(text, f"<{plan.family} parameterized>", "exec")
    return text


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


def _bounds(family: str, param: str, measured: bool = False) -> tuple[float, float]:
    """The allowed factor range on `param`'s default nominal; `measured` narrows it to `_SAFE_FACTORS`."""
    kind: Kind = "distance" if param in _PROFILES[family].distances else "size"
    high = _MAX_DISTANCE_FACTOR if kind == "distance" else _MAX_SIZE_FACTOR
    low = _MIN_FACTOR
    if not measured:
        return low, high
    safe_low, safe_high = _SAFE_FACTORS.get(family, {}).get(param, (low, high))
    return max(low, safe_low), min(high, safe_high)


def _round_toward(value: float, default: float) -> float:
    """`value` to 0.1 mm, rounded toward `default` so it never crosses a bound it was clamped to."""
    scaled = value * 10
    rounded = math.floor(scaled + 1e-9) if value > default else math.ceil(scaled - 1e-9)
    return rounded / 10


@dataclass
class _Overrides:
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    far: list[str] = field(default_factory=list)  # quantities too far from the family to approximate
    used: set[str] = field(default_factory=set)  # reading keys that set a parameter


def _apply(
    family: str,
    defaults: dict[str, float],
    param: str,
    wanted: float,
    why: str,
    out: _Overrides,
    *,
    motion: bool,
    measured: bool = False,
) -> None:
    """Set `param` to `wanted` clamped to its bounds; a size too far off to approximate is recorded in `far`.

    A motion (a travel or a rise) is always clamped: a family's layout fixes where things start.
    """
    if param not in defaults or param in out.values:
        return
    default = defaults[param]
    factor = wanted / default
    if not motion and not _FAR_FACTOR**-1 <= factor <= _FAR_FACTOR:
        out.far.append(f"{why} would need {param} = {wanted:g} mm, {factor:.2g}× the family's {default:g} mm")
        return
    low, high = _bounds(family, param, measured)
    value = _round_toward(min(max(wanted, low * default), high * default), default)
    out.values[param] = value
    if abs(value - wanted) > 0.1 + 1e-9:
        out.notes.append(
            f"{why} asks for {param} = {wanted:g} mm, but a nominal is kept within {low:g}–{high:g}× the "
            f"family's default {default:g} mm, so it is clamped to {value:g} mm"
        )
    else:
        out.notes.append(f"{why} sets {param} to {value:g} mm (default {default:g} mm)")


def _overrides(family: str, reading: RequestReading) -> _Overrides:
    profile = _PROFILES[family]
    defaults = family_parameters(family)
    out = _Overrides()
    for key, value in reading.sizes_mm.items():
        for param, multiplier, addend in profile.sizes.get(key, ()):
            out.used.add(f"size:{key}")
            _apply(
                family, defaults, param, value * multiplier + addend, f"the {key} of {value:g} mm", out, motion=False
            )
    horizontal = next((k for k in (*_HORIZONTAL, "out") if k in reading.distances_mm and profile.travel), None)
    if horizontal is not None and profile.travel is not None:
        params, multiplier, offset = profile.travel
        distance = reading.distances_mm[horizontal]
        total = sum(defaults[p] for p in params)
        factor = (distance - offset) / (multiplier * total)
        why = f"the travel of {distance:g} mm ({horizontal})"
        out.used.add(f"distance:{horizontal}")
        for param in params:
            _apply(family, defaults, param, defaults[param] * factor, why, out, motion=True)
    if "up" in reading.distances_mm and profile.rise is not None:
        param, multiplier, addend = profile.rise
        rise = reading.distances_mm["up"]
        out.used.add("distance:up")
        _apply(family, defaults, param, rise * multiplier + addend, f"the rise of {rise:g} mm", out, motion=True)
    return out


def _variant_factor(low: float, high: float, step: int) -> float:
    """A nominal factor for the `step`-th variation of a parameter: its upper bound, its lower bound, then
    halfway to each, a third of the way, ... Never 1 (the first candidate's value), never repeated."""
    side = high if step % 2 == 0 else low
    return 1 + (side - 1) / (step // 2 + 1)


def _vary(family: str, variant: int, variants: int, out: _Overrides) -> None:
    """Candidate `variant` (2, 3, ...) of a request moves one nominal the prompt left free, within the
    family's safe range, so each candidate is a different benchmark rather than a duplicate of the first.

    One parameter per candidate: the safe ranges were measured one parameter at a time."""
    defaults = family_parameters(family)
    free = [p for p in defaults if p not in out.values]
    if not free:
        return
    param = free[(variant - 2) % len(free)]
    low, high = _bounds(family, param, measured=True)
    factor = _variant_factor(low, high, (variant - 2) // len(free))
    why = f"candidate {variant} of {variants}"
    _apply(family, defaults, param, defaults[param] * factor, why, out, motion=True, measured=True)


def _score(family: Family, reading: RequestReading) -> float:
    profile = _PROFILES.get(family.name)
    if profile is None:
        return 0.0
    score = sum(profile.keywords.get(k, 0.0) for k in reading.keywords)
    if reading.moved_object:
        score += profile.objects.get(reading.moved_object, 0.0)
    if reading.material and reading.material == profile.moved_material:
        score += 0.5
    return score


def _library_summary() -> str:
    return "; ".join(f"{f.name} (tier {f.tier})" for f in families() if f.name in _PROFILES)


_MIN_SCORE = 2.0
_STRONG_SCORE = 3.0


def plan_request(prompt: str) -> OfflinePlan | Refusal:
    """Choose a library family for the prompt and the nominal values its numbers ask for, or refuse.

    Promises: the same prompt always gives the same answer; a plan's family exists in the library,
    its tier is the family's, and its overrides name only parameters the family's source declares,
    each within `_bounds` of the default nominal. A Refusal is returned for an empty prompt, a
    prompt that names no task the library covers (or only things it does not model), a tier the
    library lacks or whose families do not fit, and lengths far beyond what a family can hold.
    """
    reading = read_request(prompt)
    if not prompt.strip():
        return Refusal(reason="The request is empty: say what should be moved where.", reading=reading)
    lengths = [*reading.sizes_mm.items(), *reading.distances_mm.items()]
    absurd = [f"{k} {v:g} mm" for k, v in lengths if not _MIN_LENGTH_MM <= v <= _MAX_LENGTH_MM]
    if absurd:
        return Refusal(
            reason=(
                f"The request asks for {', '.join(absurd)}: every library family is built in a workspace about "
                f"1 m across, so lengths outside {_MIN_LENGTH_MM:g}–{_MAX_LENGTH_MM:g} mm cannot be represented."
            ),
            reading=reading,
        )
    tiers = sorted({f.tier for f in families()})
    if reading.tier is not None and reading.tier not in tiers:
        return Refusal(reason=f"The library has tiers {tiers} only, not tier {reading.tier}.", reading=reading)

    scored = sorted((-_score(f, reading), f.tier, f.name) for f in families())
    ranked = [(-s, tier, name) for s, tier, name in scored if -s > 0]
    alien = sorted({m.group(1) for m in _OUT_OF_SCOPE.finditer(_normalized(prompt))})
    best_any = ranked[0] if ranked else None
    if alien and (best_any is None or best_any[0] < _STRONG_SCORE):
        return Refusal(
            reason=(
                f"The request is about {', '.join(alien)}, which no built-in family models; the library covers: "
                f"{_library_summary()}."
            ),
            reading=reading,
        )
    if best_any is None or best_any[0] < _MIN_SCORE:
        return Refusal(
            reason=(
                "The request names no task the built-in library covers (too few recognizable words: "
                f"{', '.join(reading.keywords) or 'none'}); the library covers: {_library_summary()}."
            ),
            reading=reading,
        )
    candidates = [c for c in ranked if reading.tier is None or c[1] == reading.tier]
    if not candidates or candidates[0][0] < _MIN_SCORE:
        return Refusal(
            reason=(
                f"The request asks for tier {reading.tier}, but what it describes fits {best_any[2]} "
                f"(tier {best_any[1]}); no tier-{reading.tier} family matches it."
            ),
            reading=reading,
        )
    score, tier, name = candidates[0]
    chosen = library_family(name)
    profile = _PROFILES[name]
    found = _overrides(name, reading)
    if found.far:
        return Refusal(
            reason=(
                f"{name} fits the request, but {'; '.join(found.far)}: beyond {_FAR_FACTOR:g}× the family cannot "
                "approximate it."
            ),
            reading=reading,
        )

    if reading.variant and reading.variant > 1:
        _vary(name, reading.variant, reading.variants or reading.variant, found)

    matched = [k for k in reading.keywords if k in profile.keywords]
    because = f"the request mentions {', '.join(matched)}" if matched else "the request's wording"
    parts = [
        f"Chose {name} (tier {tier}: {chosen.description.rstrip('.')}) because {because}"
        + (f" and a {reading.moved_object}, which it can represent" if reading.moved_object in profile.objects else "")
        + f" (score {score:g}"
        + (f"; runner-up {candidates[1][2]} at {candidates[1][0]:g})." if len(candidates) > 1 else ").")
    ]
    if reading.moved_object and reading.moved_object != profile.moved:
        parts.append(f"The family moves {profile.stand_in}, which stands in for the requested {reading.moved_object}.")
    if found.notes:
        notes = "; ".join(found.notes)
        parts.append(notes[0].upper() + notes[1:] + ".")
    else:
        parts.append("The request gives no dimensions the family can take, so its default nominal values stand.")
    unused = [f"{k} {v:g} mm" for k, v in reading.sizes_mm.items() if f"size:{k}" not in found.used] + [
        f"{k} {v:g} mm" for k, v in reading.distances_mm.items() if f"distance:{k}" not in found.used
    ]
    if unused:
        parts.append(f"Not used, as the family has no matching parameter: {', '.join(unused)}.")
    if alien:
        parts.append(f"Ignored, as no family models them: {', '.join(alien)}.")
    if reading.material and reading.material != profile.moved_material:
        parts.append(
            f"The requested material ({reading.material}) is noted, but the family's {profile.moved} is "
            f"{profile.moved_material} in its source and only nominal values are changed."
        )
    if reading.count:
        parts.append(
            f"The {reading.count} benchmarks asked for are {reading.count} seeds of this one family: every "
            "seed draws new values within ±40 % of each nominal."
        )
    if found.values:
        parts.append(
            "Every override stays within 0.6–1.5× the family's default nominal (1.25× for distances); the "
            "worker's checks tell whether the ±40 % spread each seed draws keeps this family's scene valid."
        )
    title = _TITLE_RE.search(chosen.source())
    heading = title.group(1) if title else name
    if found.values:
        heading += " (" + ", ".join(f"{k} {_format(v)} mm" for k, v in found.values.items()) + ")"
    return OfflinePlan(
        family=name,
        tier=tier,
        title=heading,
        overrides=found.values,
        rationale=" ".join(parts),
        reading=reading,
    )
