"""The nominal values a request's numbers ask of a family, and how far its layout grows to reach them.

Every override stays inside [0.6, 1.5] × the family's default nominal (distances at most 1.25 ×). What
a request asks for is tried as asked within those bounds: where a family's geometry needs a narrower
range, the worker's checks say so, the coder backs off, and the skill learner turns that into a skill
the coder reads next time. The candidates the pipeline varies on its own (`vary`) stay within the
narrower ranges measured up front and declared with the family's parameters (`safe`, in
`library/parameters.py`), so a batch's extra candidates do not fail.

A request larger than a family's layout reaches grows the layout before anything is clamped: where a
travel or a rise asked for is beyond the family's parameters within their bounds, the plan's `scale`
grows every solid, zone and joint (`Family.script(..., scale)`), enough for the motion to be reached with
the parameters inside their measured safe ranges, and at most the family's `max_scale` (measured:
`library/parameters.LAYOUT_SCALES`). The judge scales the weight and cost limits with the masses and the
times with √scale (`SceneSpec.time_scale`), so the reference solution still holds. Every other requested
length is then planned at that scale (a 40 mm ball in a layout grown 1.14× is a 35 mm ball in the
family's own units). Only what the grown layout still cannot reach is clamped, and said so.
"""

import math
from dataclasses import dataclass, field

from benchgen_dagster.agent.offline.profiles import PROFILES
from benchgen_dagster.agent.offline.reading import RequestReading
from benchgen_dagster.agent.offline.vocabulary import FAR_FACTOR, HORIZONTAL
from benchgen_dagster.library import family as library_family
from benchgen_dagster.library import format_scale
from benchgen_dagster.models.plans import Deviation

# The bounds on a new nominal, as a factor of the family's default: what a request may ask for.
MIN_FACTOR = 0.6
MAX_SIZE_FACTOR = 1.5
MAX_DISTANCE_FACTOR = 1.25


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
class Overrides:
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    far: list[str] = field(default_factory=list)  # quantities too far from the family to approximate
    used: set[str] = field(default_factory=set)  # reading keys that set a parameter
    deviations: list[Deviation] = field(default_factory=list)
    clamped: set[str] = field(default_factory=set)  # parameters held to their bounds
    short: float = 1.0  # how many times farther than the layout reaches a motion asked for


def apply_value(
    family: str,
    defaults: dict[str, float],
    param: str,
    wanted: float,
    why: str,
    out: Overrides,
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


def _held(family: str, params: tuple[str, ...] | list[str], defaults: dict[str, float], measured: bool = False) -> str:
    """Why a clamped value is where it is: "bin_x is kept within 0.6–1.25× its default 500 mm" (in a grown
    layout, a motion's measured safe range)."""
    held = []
    for param in params:
        low, high = bounds(family, param, measured)
        held.append(f"{param} within {low:g}–{high:g}× its default {defaults[param]:g} mm")
    return f"{family} keeps " + " and ".join(held)


def _deviation(quantity: str, requested: float, planned: float, reason: str) -> Deviation:
    return Deviation(quantity=quantity, requested=requested, planned=round(planned, 1), unit="mm", reason=reason)


def requested_overrides(family: str, reading: RequestReading, scale: float = 1.0) -> Overrides:
    """The nominal values the reading's numbers ask for, in the family's own units at layout `scale`."""
    profile = PROFILES[family]
    defaults = library_family(family).nominals()
    out = Overrides()
    grown = f" at the layout's scale {format_scale(scale)}" if scale != 1.0 else ""
    for key, value in reading.sizes_mm.items():
        for param, multiplier, addend in profile.sizes.get(key, ()):
            out.used.add(f"size:{key}")
            wanted = (value / scale) * multiplier + addend
            apply_value(family, defaults, param, wanted, f"the {key} of {value:g} mm{grown}", out, motion=False)
            if param in out.clamped and param in out.values:
                planned = (out.values[param] - addend) / multiplier * scale
                reason = _held(family, [param], defaults)
                out.deviations.append(_deviation(f"{key} (as {param})", value, planned, reason))
    horizontal = next((k for k in (*HORIZONTAL, "out") if k in reading.distances_mm and profile.travel), None)
    if horizontal is not None and profile.travel is not None:
        params, multiplier, offset = profile.travel
        distance = reading.distances_mm[horizontal]
        total = sum(defaults[p] for p in params)
        factor = (distance / scale - offset) / (multiplier * total)
        why = f"the travel of {distance:g} mm ({horizontal}){grown}"
        out.used.add(f"distance:{horizontal}")
        for param in params:
            # A grown layout keeps its motion inside the measured safe ranges (what LAYOUT_SCALES was measured at).
            wanted = defaults[param] * factor
            apply_value(family, defaults, param, wanted, why, out, motion=True, measured=scale != 1.0)
        if out.clamped & set(params):
            planned = (multiplier * sum(out.values.get(p, defaults[p]) for p in params) + offset) * scale
            reach = "at most" if planned < distance else "at least"
            if planned < distance:
                # The params move by one shared factor: the one with the narrowest safe range bounds it.
                safe = min(bounds(family, p, measured=True)[1] for p in params) * total
                out.short = max(out.short, distance / (scale * (multiplier * safe + offset)))
            growth = _growth(family, scale) if planned < distance else ""
            held = _held(family, params, defaults, measured=scale != 1.0)
            reason = f"{held}{growth}, so its layout's travel is {planned:g} mm {reach}"
            out.deviations.append(_deviation(f"travel {horizontal}", distance, planned, reason))
    if "up" in reading.distances_mm and profile.rise is not None:
        param, multiplier, addend = profile.rise
        rise = reading.distances_mm["up"]
        out.used.add("distance:up")
        apply_value(
            family,
            defaults,
            param,
            rise / scale * multiplier + addend,
            f"the rise of {rise:g} mm{grown}",
            out,
            motion=True,
            measured=scale != 1.0,
        )
        if param in out.clamped and param in out.values:
            planned = (out.values[param] - addend) / multiplier * scale
            if planned < rise:
                safe = (bounds(family, param, measured=True)[1] * defaults[param] - addend) / multiplier
                out.short = max(out.short, rise / (scale * safe))
            held = _held(family, [param], defaults, measured=scale != 1.0)
            reason = held + (_growth(family, scale) if planned < rise else "")
            out.deviations.append(_deviation("rise", rise, planned, reason))
    return out


def _growth(family: str, scale: float) -> str:
    """What a clamped motion's reason says about the layout: grown as far as measured, or not growable."""
    most = library_family(family).max_scale
    if most == 1.0:
        return " and its layout does not grow (its reference solution is not measured to hold at another scale)"
    return f" and its layout grows {format_scale(most)}× at most (measured), here {format_scale(scale)}×"


def grown_overrides(family: str, reading: RequestReading) -> tuple[Overrides, float]:
    """The overrides, and the scale to grow the layout by so the motions asked for are reached with the
    parameters within their measured safe ranges: to the hundredth above what is needed, at most the
    family's `max_scale`, and never so far that something built as asked at scale 1 no longer is (a 30 mm
    bar in a layout grown 2× would be 15 mm in the family's units, below its bounds; a travel reached
    exactly would overshoot): then as far as that allows, and not at all where no growth does."""
    found = requested_overrides(family, reading)
    if found.short <= 1.0:
        return found, 1.0
    hundredths = round(min(library_family(family).max_scale, math.ceil(found.short * 100 - 1e-9) / 100) * 100)
    for step in range(hundredths, 100, -1):
        grown = requested_overrides(family, reading, step / 100)
        if _no_worse(found, grown):
            return grown, step / 100
    return found, 1.0


def _no_worse(found: Overrides, grown: Overrides) -> bool:
    """Whether the grown plan misses nothing the plan at scale 1 built as asked, and misses nothing by more:
    a travel short at scale 1 may not overshoot by more once the layout grew for a rise."""
    if grown.far:
        return False
    before = {d.quantity: d for d in found.deviations}
    for deviation in grown.deviations:
        was = before.get(deviation.quantity)
        if was is None:
            return False
        numbers = (deviation.requested, deviation.planned, was.requested, was.planned)
        if all(isinstance(n, int | float) for n in numbers):
            miss, missed = abs(numbers[1] - numbers[0]), abs(numbers[3] - numbers[2])  # type: ignore[operator]
            if miss > missed + 0.1:
                return False
    return True


def _variant_factor(low: float, high: float, step: int) -> float:
    """A nominal factor for the `step`-th variation of a parameter: its upper bound, its lower bound, then
    halfway to each, a third of the way, ... Never 1 (the first candidate's value), never repeated."""
    side = high if step % 2 == 0 else low
    return 1 + (side - 1) / (step // 2 + 1)


def vary(family: str, variant: int, variants: int, out: Overrides) -> None:
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
    apply_value(family, defaults, param, defaults[param] * factor, why, out, motion=True, measured=True)
