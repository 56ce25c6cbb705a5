"""plan.md as code reads it: the YAML front matter the planner writes above the plan it writes for people.

The fields read are `family` (the library family the plan builds on), `tier`, `overrides` (nominal values
by parameter name) and `refused` (why the request cannot be met, instead of a plan). A plan is model or
curator output: every reader checks the type of what it takes.
"""

from typing import Any

import yaml

from benchgen_dagster.models.front_matter import split_front_matter


def plan_front_matter(plan_text: str) -> dict[str, Any]:
    """The plan's front matter; empty where it has none, or it is not YAML, or not a mapping."""
    try:
        found = split_front_matter(plan_text.lstrip())
    except yaml.YAMLError:
        return {}
    return found[0] if found is not None and isinstance(found[0], dict) else {}
