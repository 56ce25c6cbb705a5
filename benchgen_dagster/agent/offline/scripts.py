"""script.py as the offline coder writes it: the chosen family's script with the plan's nominal values."""

import math
import re

from benchgen_dagster.agent.offline.planning import OfflinePlan
from benchgen_dagster.agent.offline.profiles import family_parameters, format_nominal
from benchgen_dagster.library import family as library_family


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
        source, replaced = pattern.subn(r"\g<1>" + format_nominal(value), source)
        if replaced != 1:
            raise ValueError(f"parameter {name!r} is declared {replaced} times in {plan.family!r}")
    request = _comment(plan.reading.prompt or plan.title)
    if len(request) > 300:
        request = request[:297] + "..."
    changes = ", ".join(
        f"{name} {format_nominal(defaults[name])} -> {format_nominal(value)}"
        for name, value in sorted(plan.overrides.items())
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
