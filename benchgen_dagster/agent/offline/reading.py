"""Reading a curator's plain-words request: what it says, before any family is chosen.

`read_request` pulls out the tier, moved object, material, sizes, distances, a count of benchmarks, the
task keywords it recognized and which candidate of a request it is. A pure, deterministic function of
the prompt text: no randomness, no network, no model.
"""

import re
from typing import Literal

from pydantic import BaseModel, Field

from benchgen_dagster.agent.offline.vocabulary import (
    COUNT_RE,
    DIRECTION_WORDS,
    KEYWORD_RES,
    MATERIAL_ALIASES,
    MATERIAL_RE,
    MOTION_VERBS,
    NUMBER_WORDS,
    OBJECT_RES,
    OBJECT_SIZE_WORDS,
    QUANTITY_RE,
    SIZE_WORDS,
    STOP_WORDS,
    TIER_RE,
    TIER_WORDS,
    TOKEN_RE,
    UNIT_RES,
    VARIANT_RE,
)


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


def _number(text: str) -> float:
    return float(NUMBER_WORDS[text]) if text in NUMBER_WORDS else float(text)


def _unit_mm(unit: str) -> float:
    for pattern, mm in UNIT_RES:
        if pattern.match(unit):
            return mm
    raise ValueError(f"unknown unit {unit!r}")  # pragma: no cover - the quantity regex only admits these


def normalized(prompt: str) -> str:
    text = prompt.lower().replace("\u00a0", " ")
    return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 1,000 mm -> 1000 mm


def _after_role(word: str) -> tuple[Literal["size", "distance"], str] | None:
    if word in SIZE_WORDS:
        return "size", SIZE_WORDS[word]
    if word in OBJECT_SIZE_WORDS:
        return "size", OBJECT_SIZE_WORDS[word]
    if word in DIRECTION_WORDS:
        return "distance", DIRECTION_WORDS[word]
    return None


def _before_role(word: str) -> tuple[Literal["size", "distance"], str] | None:
    if word in SIZE_WORDS:
        return "size", SIZE_WORDS[word]
    if word in DIRECTION_WORDS:
        return "distance", DIRECTION_WORDS[word]
    if word in MOTION_VERBS:
        return "distance", MOTION_VERBS[word]
    return None


def _quantity_role(before: list[str], after: list[str]) -> tuple[Literal["size", "distance"], str]:
    """What a length measures: the nearest telling word, looking alternately after it and before it.

    After a length, a dimension ("wide"), an object ("cube") or a direction ("sideways") tells; before
    it, a dimension ("radius of"), a direction ("out by") or a motion verb ("lifted"). Each side is
    read up to 4 words and stops at a number or a word that starts another phrase ("over", "must").
    """
    ahead: list[str] = []
    for word in after[:4]:
        if word in STOP_WORDS or word[0].isdigit():
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
    for token in TOKEN_RE.findall(text[:start]):
        before = [] if not token[0].isalnum() else [*before, token]
    after: list[str] = []
    for token in TOKEN_RE.findall(text[end:]):
        if not token[0].isalnum():
            break
        after.append(token)
    return before, after


def read_request(prompt: str) -> RequestReading:
    """Read a prompt: tier, moved object, material, sizes, distances, count and task keywords.

    Deterministic and total: any string gives a reading (an empty one for an empty prompt). Lengths
    are converted to millimetres; the first mention of a size or distance key wins.
    """
    text = normalized(prompt)
    reading = RequestReading(prompt=prompt)
    if variant := VARIANT_RE.search(text):
        reading.variant, reading.variants = int(variant.group(1)), int(variant.group(2))
        text = text[: variant.start()] + text[variant.end() :]

    found = [(m.start(), name) for name, regex in KEYWORD_RES.items() if (m := regex.search(text))]
    reading.keywords = [name for _, name in sorted(found)]

    objects = [(m.start(), name) for name, regex in OBJECT_RES.items() if (m := regex.search(text))]
    reading.moved_object = min(objects)[1] if objects else None

    if material := MATERIAL_RE.search(text):
        reading.material = MATERIAL_ALIASES[material.group(1)]

    if tier := TIER_RE.search(text):
        word = tier.group(1)
        reading.tier = TIER_WORDS[word] if word in TIER_WORDS else int(word)
    elif re.search(r"(?<![\w-])spatial(?![\w-])", text):
        reading.tier = 1
    elif re.search(r"(?<![\w-])kinematic(?:s|al)?(?![\w-])", text):
        reading.tier = 2

    for count in COUNT_RE.finditer(text):
        preceding = text[: count.start()].split()[-1:]
        if preceding and preceding[0] in ("tier", "class", "type", "level"):
            continue
        reading.count = int(_number(count.group(1)))
        break

    for quantity in QUANTITY_RE.finditer(text):
        value_mm = _number(quantity.group(1)) * _unit_mm(quantity.group(2))
        before, after = _clause_words(text, quantity.start(), quantity.end())
        role, key = _quantity_role(before, after)
        target = reading.sizes_mm if role == "size" else reading.distances_mm
        target.setdefault(key, value_mm)
    return reading
