"""script.py as the offline coder writes it: the chosen family's script with the plan's nominal values,
under a header that says where it came from."""

import re

from benchgen_dagster.agent.offline.planning import OfflinePlan
from benchgen_dagster.library import family as library_family
from benchgen_dagster.library import format_scale
from benchgen_dagster.library.parameters import format_nominal

# The header's first line names the module that wrote offline scripts before agent/offline/ existed: a
# benchmark's id hashes its script's bytes, so the text stays as it was (tests/test_offline_pin.py).
GENERATED_BY = "# Generated offline by benchgen_dagster.agent.offline_requests from a library family."


def _comment(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]+", " ", text).strip()


def parameterized_source(plan: OfflinePlan) -> str:
    """The family's script with the plan's overrides as its nominal values (`Family.script`), and a header.

    The header comment names the request, the family, each override and the layout's scale where it is
    grown. The result compiles as Python. Raises ValueError for an override the family does not declare or
    a scale beyond the family's `max_scale`.
    """
    family = library_family(plan.family)
    source = family.script(plan.overrides, plan.scale)
    defaults = family.nominals()
    request = _comment(plan.reading.prompt or plan.title)
    if len(request) > 300:
        request = request[:297] + "..."
    changes = ", ".join(
        f"{name} {format_nominal(defaults[name])} -> {format_nominal(value)}"
        for name, value in sorted(plan.overrides.items())
    )
    header = [
        GENERATED_BY,
        f"# Family: {plan.family} (tier {plan.tier}).",
        f"# Request: {request}",
        f"# Overridden nominal values: {changes or 'none (the family defaults)'}.",
    ]
    if plan.scale != 1.0:
        header.append(f"# Layout grown {format_scale(plan.scale)}× to reach the request (its Scene's scale).")
    text = "\n".join(header) + "\n" + source
    compile(text, f"<{plan.family} parameterized>", "exec")
    return text
