"""Planning offline: a library family for the request, and the nominal values its numbers ask for.

`plan_request` scores every family of the built-in library against the request's reading and returns
an `OfflinePlan` (family, tier, overridden nominal values, a rationale) or a `Refusal` saying why
nothing in the library fits.

The nominal values come from `overrides`: every requested length within bounds around the family's
defaults, the layout grown first where a request is larger than the family reaches. Every requested value
the plan does not build as asked (a length clamped to those bounds, a quantity the family has no parameter
for, a moved object or material the family stands in for) is a `Deviation`, with its reason, which the
plan's front matter lists.
"""

from pydantic import BaseModel, Field

from benchgen_dagster.agent.offline.overrides import Overrides, bounds, grown_overrides, vary
from benchgen_dagster.agent.offline.profiles import PROFILES, Profile
from benchgen_dagster.agent.offline.reading import RequestReading, normalized, read_request
from benchgen_dagster.agent.offline.vocabulary import FAR_FACTOR, MAX_LENGTH_MM, MIN_LENGTH_MM, OUT_OF_SCOPE
from benchgen_dagster.library import Family, families, format_scale
from benchgen_dagster.library import family as library_family
from benchgen_dagster.library.parameters import format_nominal
from benchgen_dagster.models.plans import Deviation


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
    scale: float = 1.0  # the family's layout grown by this factor (1: as the family is)


class Refusal(BaseModel):
    """Nothing in the library fits the request; `reason` says why in a sentence or two."""

    reason: str
    reading: RequestReading


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
    found, scale = grown_overrides(name, reading)
    if found.far:
        return Refusal(
            reason=(
                f"{name} fits the request, but {'; '.join(found.far)}: beyond {FAR_FACTOR:g}× the family cannot "
                "approximate it."
            ),
            reading=reading,
        )

    if reading.variant and reading.variant > 1:
        vary(name, reading.variant, reading.variants or reading.variant, found)

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
    if scale != 1.0:
        parts.append(
            f"The request is larger than {name}'s layout reaches, so the layout is grown {format_scale(scale)}× "
            "(every solid, zone and joint; the judge scales the weight and cost limits with the masses), and "
            "the lengths below are in the family's own units."
        )
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
    if scale != 1.0:
        heading += f", grown {format_scale(scale)}×"
    return OfflinePlan(
        family=name,
        tier=tier,
        title=heading,
        overrides=found.values,
        rationale=" ".join(parts),
        reading=reading,
        deviations=deviations,
        scale=scale,
    )


def _unrepresented(name: str, profile: Profile, reading: RequestReading, found: Overrides) -> list[Deviation]:
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


__all__ = ["OfflinePlan", "Refusal", "bounds", "plan_request"]
