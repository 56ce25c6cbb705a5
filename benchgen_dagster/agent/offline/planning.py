"""Planning offline: a library family for the request, and the nominal values its numbers ask for.

`plan_request` scores every family of the built-in library against the request's reading and returns
an `OfflinePlan` (family, tier, overridden nominal values, a rationale) or a `Refusal` saying why
nothing in the library fits.

Every override stays inside [0.6, 1.5] × the family's default nominal (distances at most 1.25 ×). What
a request asks for is tried as asked within those bounds: where a family's geometry needs a narrower
range, the worker's checks say so, the coder backs off, and the skill learner turns that into a skill
the coder reads next time. The candidates the pipeline varies on its own (`_vary`) stay within the
narrower ranges measured up front and declared with the family's parameters (`safe`, in
`library/parameters.py`), so a batch's extra candidates do not fail.

Every requested value the plan does not build as asked (a length clamped to those bounds, a quantity the
family has no parameter for, a moved object or material the family stands in for) is a `Deviation`, with
its reason, which the plan's front matter lists.

A family's layout is not grown to reach a larger request: `build(seed, scale)` scales every solid, zone
and joint, but the checks build at scale 1, and at other scales the families' weight limits and reference
solutions no longer hold (measured: ball_over_wall and hinged_gate at 1.6× fail `solvable`), so a travel
beyond the layout's reach is clamped and said so.
"""

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from benchgen_dagster.agent.offline.profiles import PROFILES, Profile
from benchgen_dagster.agent.offline.reading import RequestReading, normalized, read_request
from benchgen_dagster.agent.offline.vocabulary import (
    FAR_FACTOR,
    HORIZONTAL,
    MAX_LENGTH_MM,
    MIN_LENGTH_MM,
    OUT_OF_SCOPE,
)
from benchgen_dagster.library import Family, families
from benchgen_dagster.library import family as library_family
from benchgen_dagster.library.parameters import format_nominal
from benchgen_dagster.models.plans import Deviation

# The bounds on a new nominal, as a factor of the family's default: what a request may ask for.
MIN_FACTOR = 0.6
MAX_SIZE_FACTOR = 1.5
MAX_DISTANCE_FACTOR = 1.25


class OfflinePlan(BaseModel):
    """A library family and the nominal values to give it.

    `overrides` only names parameters the family declares, each within the family's safe
    range around its default nominal; `rationale` is one paragraph saying why.
    """

    family: str
    tier: int
    title: str
    overrides: dict[str, float] = Field(default_factory=dict)
    rationale: str
    reading: RequestReading
    deviations: list[Deviation] = Field(default_factory=list)


class Refusal(BaseModel):
    """Nothing in the library fits the request; `reason` says why in a sentence or two."""

    reason: str
    reading: RequestReading


def bounds(family: str, param: str, measured: bool = False) -> tuple[float, float]:
    """The allowed factor range on `param`'s default nominal; `measured` narrows it to the range the
    family declares safe for it."""
    declared = next(p for p in library_family(family).parameters() if p.name == param)
    high = MAX_DISTANCE_FACTOR if declared.kind == "distance" else MAX_SIZE_FACTOR
    low = MIN_FACTOR
    if not measured:
        return low, high
    safe_low, safe_high = declared.safe
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
    deviations: list[Deviation] = field(default_factory=list)
    clamped: set[str] = field(default_factory=set)  # parameters held to their bounds


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
    if not motion and not FAR_FACTOR**-1 <= factor <= FAR_FACTOR:
        out.far.append(f"{why} would need {param} = {wanted:g} mm, {factor:.2g}× the family's {default:g} mm")
        return
    low, high = bounds(family, param, measured)
    value = _round_toward(min(max(wanted, low * default), high * default), default)
    out.values[param] = value
    if abs(value - wanted) > 0.1 + 1e-9:
        out.clamped.add(param)
        out.notes.append(
            f"{why} asks for {param} = {wanted:g} mm, but a nominal is kept within {low:g}–{high:g}× the "
            f"family's default {default:g} mm, so it is clamped to {value:g} mm"
        )
    else:
        out.notes.append(f"{why} sets {param} to {value:g} mm (default {default:g} mm)")


def _held(family: str, params: tuple[str, ...] | list[str], defaults: dict[str, float]) -> str:
    """Why a clamped value is where it is: "bin_x is kept within 0.6–1.25× its default 500 mm"."""
    held = []
    for param in params:
        low, high = bounds(family, param)
        held.append(f"{param} within {low:g}–{high:g}× its default {defaults[param]:g} mm")
    return f"{family} keeps " + " and ".join(held)


def _deviation(quantity: str, requested: float, planned: float, reason: str) -> Deviation:
    return Deviation(quantity=quantity, requested=requested, planned=round(planned, 1), unit="mm", reason=reason)


def _overrides(family: str, reading: RequestReading) -> _Overrides:
    profile = PROFILES[family]
    defaults = library_family(family).nominals()
    out = _Overrides()
    for key, value in reading.sizes_mm.items():
        for param, multiplier, addend in profile.sizes.get(key, ()):
            out.used.add(f"size:{key}")
            _apply(
                family, defaults, param, value * multiplier + addend, f"the {key} of {value:g} mm", out, motion=False
            )
            if param in out.clamped and param in out.values:
                planned = (out.values[param] - addend) / multiplier
                reason = _held(family, [param], defaults)
                out.deviations.append(_deviation(f"{key} (as {param})", value, planned, reason))
    horizontal = next((k for k in (*HORIZONTAL, "out") if k in reading.distances_mm and profile.travel), None)
    if horizontal is not None and profile.travel is not None:
        params, multiplier, offset = profile.travel
        distance = reading.distances_mm[horizontal]
        total = sum(defaults[p] for p in params)
        factor = (distance - offset) / (multiplier * total)
        why = f"the travel of {distance:g} mm ({horizontal})"
        out.used.add(f"distance:{horizontal}")
        for param in params:
            _apply(family, defaults, param, defaults[param] * factor, why, out, motion=True)
        if out.clamped & set(params):
            planned = multiplier * sum(out.values.get(p, defaults[p]) for p in params) + offset
            reach = "at most" if planned < distance else "at least"
            reason = f"{_held(family, params, defaults)}, so its layout's travel is {planned:g} mm {reach}"
            out.deviations.append(_deviation(f"travel {horizontal}", distance, planned, reason))
    if "up" in reading.distances_mm and profile.rise is not None:
        param, multiplier, addend = profile.rise
        rise = reading.distances_mm["up"]
        out.used.add("distance:up")
        _apply(family, defaults, param, rise * multiplier + addend, f"the rise of {rise:g} mm", out, motion=True)
        if param in out.clamped and param in out.values:
            planned = (out.values[param] - addend) / multiplier
            out.deviations.append(_deviation("rise", rise, planned, _held(family, [param], defaults)))
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
    defaults = library_family(family).nominals()
    free = [p for p in defaults if p not in out.values]
    if not free:
        return
    param = free[(variant - 2) % len(free)]
    low, high = bounds(family, param, measured=True)
    factor = _variant_factor(low, high, (variant - 2) // len(free))
    why = f"candidate {variant} of {variants}"
    _apply(family, defaults, param, defaults[param] * factor, why, out, motion=True, measured=True)


def _score(family: Family, reading: RequestReading) -> float:
    profile = PROFILES.get(family.name)
    if profile is None:
        return 0.0
    score = sum(profile.keywords.get(k, 0.0) for k in reading.keywords)
    if reading.moved_object:
        score += profile.objects.get(reading.moved_object, 0.0)
    if reading.material and reading.material == profile.moved_material:
        score += 0.5
    return score


def _library_summary() -> str:
    return "; ".join(f"{f.name} (tier {f.tier})" for f in families() if f.name in PROFILES)


_MIN_SCORE = 2.0
_STRONG_SCORE = 3.0


def plan_request(prompt: str) -> OfflinePlan | Refusal:
    """Choose a library family for the prompt and the nominal values its numbers ask for, or refuse.

    Promises: the same prompt always gives the same answer; a plan's family exists in the library,
    its tier is the family's, and its overrides name only parameters the family declares,
    each within `bounds` of the default nominal. A Refusal is returned for an empty prompt, a
    prompt that names no task the library covers (or only things it does not model), a tier the
    library lacks or whose families do not fit, and lengths far beyond what a family can hold.
    """
    reading = read_request(prompt)
    if not prompt.strip():
        return Refusal(reason="The request is empty: say what should be moved where.", reading=reading)
    lengths = [*reading.sizes_mm.items(), *reading.distances_mm.items()]
    absurd = [f"{k} {v:g} mm" for k, v in lengths if not MIN_LENGTH_MM <= v <= MAX_LENGTH_MM]
    if absurd:
        return Refusal(
            reason=(
                f"The request asks for {', '.join(absurd)}: every library family is built in a workspace about "
                f"1 m across, so lengths outside {MIN_LENGTH_MM:g}–{MAX_LENGTH_MM:g} mm cannot be represented."
            ),
            reading=reading,
        )
    tiers = sorted({f.tier for f in families()})
    if reading.tier is not None and reading.tier not in tiers:
        return Refusal(reason=f"The library has tiers {tiers} only, not tier {reading.tier}.", reading=reading)

    scored = sorted((-_score(f, reading), f.tier, f.name) for f in families())
    ranked = [(-s, tier, name) for s, tier, name in scored if -s > 0]
    alien = sorted({m.group(1) for m in OUT_OF_SCOPE.finditer(normalized(prompt))})
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
    profile = PROFILES[name]
    found = _overrides(name, reading)
    if found.far:
        return Refusal(
            reason=(
                f"{name} fits the request, but {'; '.join(found.far)}: beyond {FAR_FACTOR:g}× the family cannot "
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
    deviations = [*found.deviations, *_unrepresented(name, profile, reading, found)]
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
    heading = chosen.title() or name
    if found.values:
        heading += " (" + ", ".join(f"{k} {format_nominal(v)} mm" for k, v in found.values.items()) + ")"
    return OfflinePlan(
        family=name,
        tier=tier,
        title=heading,
        overrides=found.values,
        rationale=" ".join(parts),
        reading=reading,
        deviations=deviations,
    )


def _unrepresented(name: str, profile: Profile, reading: RequestReading, found: _Overrides) -> list[Deviation]:
    """The requested things the family does not build as asked, beyond clamped lengths: a length it has no
    parameter for, a moved object it stands in for, a material its moved part is not made of."""
    why = f"{name} has no parameter for it"
    missed = [
        Deviation(quantity=key, requested=value, planned=None, unit="mm", reason=why)
        for key, value in reading.sizes_mm.items()
        if f"size:{key}" not in found.used
    ] + [
        Deviation(quantity=f"distance {key}", requested=value, planned=None, unit="mm", reason=why)
        for key, value in reading.distances_mm.items()
        if f"distance:{key}" not in found.used
    ]
    if reading.moved_object and reading.moved_object != profile.moved:
        missed.append(
            Deviation(
                quantity="moved object",
                requested=reading.moved_object,
                planned=profile.stand_in or profile.moved,
                reason=f"{name} moves {profile.stand_in or profile.moved}",
            )
        )
    if reading.material and reading.material != profile.moved_material:
        missed.append(
            Deviation(
                quantity="material",
                requested=reading.material,
                planned=profile.moved_material,
                reason=f"{name}'s {profile.moved} is {profile.moved_material}; a plan changes nominal values only",
            )
        )
    return missed
