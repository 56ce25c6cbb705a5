"""The words, numbers and units the offline policy reads a request with (see `reading.py`).

All lower case, matched on word boundaries. Canonical names are what the rest of the policy speaks:
a keyword ("lever"), an object ("ball"), a size key ("radius"), a direction ("sideways").
"""

import re

from benchgen_dagster.models.materials import MATERIALS

# Canonical keyword -> regex (matched on word boundaries, lower case).
KEYWORDS: dict[str, str] = {
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
KEYWORD_RES = {name: re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])") for name, pattern in KEYWORDS.items()}

# Things no family models: a request built around them is refused unless it also names a family outright.
OUT_OF_SCOPE = re.compile(
    r"(?<![\w-])(gears?|gearbox(?:es)?|gear ?trains?|helical|sprockets?|rockets?|engines?|turbines?|"
    r"propellers?|nozzles?|fluids?|liquids?|water|pumps?|hydraulics?|pneumatics?|circuits?|pcbs?|"
    r"electronics?|batter(?:y|ies)|robots?|drones?|cars?|aircraft|airplanes?|software|websites?|"
    r"poems?|essays?)(?![\w-])"
)

OBJECTS: dict[str, str] = {
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
OBJECT_RES = {name: re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])") for name, pattern in OBJECTS.items()}

MATERIAL_ALIASES: dict[str, str] = {
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
assert set(MATERIAL_ALIASES.values()) <= set(MATERIALS), "a material alias names no known material"
MATERIAL_RE = re.compile(r"(?<![\w-])(" + "|".join(sorted(MATERIAL_ALIASES, key=len, reverse=True)) + r")(?![\w-])")

NUMBER_WORDS: dict[str, int] = {
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
NUM = r"(\d+(?:\.\d+)?|" + "|".join(NUMBER_WORDS) + r")"

# Unit -> millimetres; longer spellings first so the alternation prefers them.
UNITS: list[tuple[str, float]] = [
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
QUANTITY_RE = re.compile(rf"(?<![\w.-]){NUM}\s*-?\s*(" + "|".join(f"(?:{u})" for u, _ in UNITS) + r")(?![\w])")
UNIT_RES = [(re.compile(rf"(?:{u})$"), mm) for u, mm in UNITS]

# Words that say what a length measures, read just after or just before it.
SIZE_WORDS: dict[str, str] = {
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
OBJECT_SIZE_WORDS: dict[str, str] = {
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
DIRECTION_WORDS: dict[str, str] = {
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
MOTION_VERBS: dict[str, str] = {
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
HORIZONTAL = ("sideways", "along", "across", "forward", "away")
TOKEN_RE = re.compile(r"[a-z]+(?:-[a-z0-9]+)*|\d+(?:\.\d+)?|[.;:!?,()]")

COUNT_NOUNS = (
    r"puzzles?|benchmarks?|scenarios?|scenes?|variants?|variations?|problems?|tasks?|challenges?|levels?|"
    r"versions?|examples?|instances?|environments?|cases?|exercises?|tests?"
)
COUNT_RE = re.compile(rf"(?<![\w.-]){NUM}\s+(?:[a-z0-9-]+\s+){{0,3}}?(?:{COUNT_NOUNS})(?![\w-])")
TIER_RE = re.compile(r"(?<![\w-])tier[- ]?(\d+|one|two|three|i{1,3})(?![\w-])")
VARIANT_RE = re.compile(r"(?<![\w-])candidate (\d+) of (\d+)\.?")
TIER_WORDS = {"one": 1, "two": 2, "three": 3, "i": 1, "ii": 2, "iii": 3}

# Lengths no benchmark workspace (about 1 m across) can hold, and scalings too far to approximate.
MAX_LENGTH_MM = 3000.0
MIN_LENGTH_MM = 1.0
FAR_FACTOR = 4.0

# Words that open another phrase: the word that says what a length measures is not looked for past them.
STOP_WORDS = frozenset(
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
