"""plan.md as code reads it: the YAML front matter the planner writes above the plan it writes for people.

The front matter is a `PlanFrontMatter`: `family` (a library family, or "new" for a mechanism no family
covers), `tier`, `overrides` (nominal values by parameter name), `scale` (the family's layout grown by
that factor, where the request is larger than it reaches), `learning_objectives`, `randomization`
(what varies and by how much), `deviations` (every value the request asked for that the plan changed, and
why) and `refused` (why the request cannot be met, instead of a plan). A plan is model or curator output:
`read_plan` validates it where a plan is taken (the planner node, the plan stage, a curator's --plan) and
fails with one line naming the field; `plan_fields` reads plans already written, as far as they validate.

Plans written before the learning objectives moved into the front matter keep them in the body, under a
"Learning objectives" heading: read from there when the front matter has none.
"""

import re
from collections.abc import Mapping, Set
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from benchgen_dagster.models.front_matter import split_front_matter

# The family of a plan for a mechanism no library family covers.
NEW_FAMILY = "new"
# The most a plan may grow a family's layout: lengths 4×, masses 64×.
MAX_LAYOUT_SCALE = 4.0
# How the readers are told the library: each family's name and the names of its parameters.
Catalogue = Mapping[str, Set[str]]

_PERCENT_RE = re.compile(r"^\s*(?:±|\+/-|\+-)?\s*(\d+(?:\.\d+)?)\s*%\s*$")


class PlanError(ValueError):
    """plan.md cannot be used; the message says which field and what is wrong, in one line."""


class Deviation(BaseModel):
    """A value the request asked for that the plan does not build as asked: what, asked and planned, why.

    `planned` is None where the plan does not represent the quantity at all."""

    model_config = ConfigDict(extra="forbid")

    quantity: str = Field(min_length=1)
    requested: float | str
    planned: float | str | None
    unit: str = ""
    reason: str = Field(min_length=1)

    def summary(self) -> str:
        """One line: "travel sideways 1000 -> 925 mm (why)"."""
        planned = "not represented" if self.planned is None else _value(self.planned)
        unit = f" {self.unit}" if self.unit and self.planned is not None else ""
        return f"{self.quantity} {_value(self.requested)} -> {planned}{unit} ({self.reason})"


class Randomized(BaseModel):
    """What a seed varies (a parameter's name, or a description) and by how much: `range` (low, high) and/or
    `spread`, the fraction of the nominal a seed draws either side of it (0.4 for ±40 %)."""

    model_config = ConfigDict(extra="forbid")

    parameter: str | None = None
    description: str | None = None
    nominal: float | None = None
    range: tuple[float, float] | None = None
    spread: float | None = Field(default=None, gt=0, le=1)
    unit: str = ""

    @field_validator("spread", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        if isinstance(value, str) and (found := _PERCENT_RE.match(value)):
            return float(found.group(1)) / 100
        return value

    @model_validator(mode="after")
    def _says_what_and_how_much(self) -> "Randomized":
        if not (self.parameter or self.description):
            raise ValueError("name the `parameter` that varies, or give a `description`")
        if self.range is None and self.spread is None:
            raise ValueError("say by how much it varies: a `range` [low, high] or a `spread` (0.4 for ±40 %)")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range {list(self.range)} must be [low, high] with low < high")
        return self


class PlanFrontMatter(BaseModel):
    """The structured fields of plan.md. Validated with a `Catalogue` in the context (`read_plan`), `family`
    must be a library family or "new", and `overrides` must name that family's parameters."""

    model_config = ConfigDict(extra="forbid")

    family: str | None = None
    tier: int | None = Field(default=None, ge=1, le=2)
    overrides: dict[str, float] = Field(default_factory=dict)
    # The family's layout grown by this factor (its Scene built at `scale * this`), for a request larger
    # than the family's layout reaches; 1: as the family is.
    scale: float = Field(default=1.0, gt=0, le=MAX_LAYOUT_SCALE)
    learning_objectives: list[str] = Field(default_factory=list)
    randomization: list[Randomized] = Field(default_factory=list)
    deviations: list[Deviation] = Field(default_factory=list)
    refused: str | None = None

    @field_validator("family", "refused", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("family", mode="before")
    @classmethod
    def _none_is_new(cls, value: Any) -> Any:
        # Plans written before "new" existed said `family: none` for a mechanism no family covers.
        return NEW_FAMILY if isinstance(value, str) and value.lower() == "none" else value

    @field_validator("learning_objectives", mode="before")
    @classmethod
    def _one_objective(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("learning_objectives")
    @classmethod
    def _no_blank_objectives(cls, value: list[str]) -> list[str]:
        return [" ".join(objective.split()) for objective in value if objective.strip()]

    @field_validator("family")
    @classmethod
    def _known_family(cls, value: str | None, info: ValidationInfo) -> str | None:
        catalogue = (info.context or {}).get("catalogue")
        if value is None or catalogue is None or value == NEW_FAMILY or value in catalogue:
            return value
        raise ValueError(
            f"{value!r} is not a library family; use one of {', '.join(sorted(catalogue))}, "
            f'or "{NEW_FAMILY}" for a mechanism no family covers'
        )

    @model_validator(mode="after")
    def _overrides_of_the_family(self, info: ValidationInfo) -> "PlanFrontMatter":
        catalogue = (info.context or {}).get("catalogue")
        if catalogue is None or self.family is None or self.family == NEW_FAMILY:
            return self
        unknown = sorted(set(self.overrides) - set(catalogue.get(self.family, ())))
        if unknown:
            raise ValueError(
                f"overrides: {', '.join(unknown)} is not a parameter of {self.family} "
                f"(its parameters: {', '.join(sorted(catalogue[self.family]))})"
            )
        return self

    @model_validator(mode="after")
    def _scale_the_family_holds(self, info: ValidationInfo) -> "PlanFrontMatter":
        # A refusal builds nothing, and a new mechanism has no measured scale: only the bound above holds.
        scales = (info.context or {}).get("scales")
        if scales is None or self.refused is not None or self.family in (None, NEW_FAMILY):
            return self
        most = scales.get(self.family, 1.0)
        if self.scale > most:
            grows = f"grows its layout up to {most:g}×" if most > 1 else "does not grow its layout"
            raise ValueError(
                f"scale: {self.family} {grows} (measured with its reference solution), not {self.scale:g}×; "
                'plan a smaller scale, or a new mechanism (`family: "new"`)'
            )
        return self


FIELDS = tuple(PlanFrontMatter.model_fields)


def read_plan(
    plan_text: str, catalogue: Catalogue | None = None, scales: Mapping[str, float] | None = None
) -> PlanFrontMatter:
    """plan.md's validated front matter, its learning objectives taken from the body where it lists none.

    Raises PlanError, one line naming the field and the problem, for a plan with no front matter, front
    matter that is not YAML or not a mapping, a field that does not validate, or a plan that names no
    family and is not refused. With `catalogue`, the family must be in it (or "new") and the overrides
    must be its parameters; with `scales` (each family's largest layout scale), its `scale` at most that."""
    front, body = _split(plan_text)
    try:
        plan = PlanFrontMatter.model_validate(front, context={"catalogue": catalogue, "scales": scales})
    except ValidationError as error:
        raise PlanError(f"plan.md front matter: {_first_error(error)}") from None
    if plan.family is None and plan.refused is None:
        raise PlanError(
            'plan.md front matter: family: missing; name a library family (or "new"), or say `refused: <reason>`'
        )
    return _with_objectives(plan, body)


def plan_fields(plan_text: str) -> PlanFrontMatter:
    """What an already-written plan says, never raising: keys the model does not know, and fields that do
    not validate, are left out (all of them where the front matter is missing or unreadable)."""
    try:
        front, body = _split(plan_text)
    except PlanError:
        return _with_objectives(PlanFrontMatter(), _body_after_front_matter(plan_text))
    known = {key: value for key, value in front.items() if key in FIELDS}
    while True:  # each pass drops at least one field, or gives up
        try:
            return _with_objectives(PlanFrontMatter.model_validate(known), body)
        except ValidationError as error:
            failing = {str(problem["loc"][0]) for problem in error.errors() if problem["loc"]} & set(known)
            if not failing:
                return _with_objectives(PlanFrontMatter(), body)
            for name in failing:
                del known[name]


def learning_objectives(markdown: str) -> list[str]:
    """The items listed under a "Learning objectives" heading (any level, any case, a colon allowed): `-`,
    `*`, `+` or numbered items, a wrapped line joined to its item; a section that is prose and no list
    gives one objective per paragraph."""
    lines = markdown.splitlines()
    start = next((n + 1 for n, line in enumerate(lines) if _OBJECTIVES_HEADING_RE.match(line)), None)
    if start is None:
        return []
    items: list[str] = []
    paragraphs: list[str] = []
    listing = False
    for line in lines[start:]:
        if _HEADING_RE.match(line):
            break
        if not line.strip():
            paragraphs.append("")
            continue
        found = _ITEM_RE.match(line)
        if found:
            items.append(found.group(1).strip())
            listing = True
        elif listing and items:
            items[-1] += " " + line.strip()  # a wrapped line continues its item
        else:
            paragraphs.append(line.strip())
    if items:
        return [" ".join(item.split()) for item in items if item.strip()]
    text = "\n".join(paragraphs)
    return [" ".join(part.split()) for part in text.split("\n\n") if part.strip()]


_OBJECTIVES_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+learning\s+objectives\s*:?\s*#*\s*$", re.I)
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s")
_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(.*)$")


def _split(plan_text: str) -> tuple[dict[str, Any], str]:
    try:
        found = split_front_matter(plan_text.lstrip())
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        at = f" (its line {where.line + 1})" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise PlanError(f"plan.md front matter is not YAML{at}: {problem}") from None
    if found is None:
        raise PlanError("plan.md has no YAML front matter: open it with a line `---`, the fields, and another `---`")
    front, body = found
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise PlanError(f"plan.md front matter is a YAML {type(front).__name__}, not a mapping of fields")
    return {str(key): value for key, value in front.items()}, body


def _body_after_front_matter(plan_text: str) -> str:
    """The text after front matter that cannot be read, or the whole text where there is none."""
    parts = re.split(r"^---\s*$", plan_text.lstrip(), maxsplit=2, flags=re.M)
    return parts[2] if len(parts) == 3 and not parts[0].strip() else plan_text


def _with_objectives(plan: PlanFrontMatter, body: str) -> PlanFrontMatter:
    if plan.learning_objectives:
        return plan
    return plan.model_copy(update={"learning_objectives": learning_objectives(body)})


def _first_error(error: ValidationError) -> str:
    problem = error.errors(include_input=False, include_url=False)[0]
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        message += f" (the fields are {', '.join(FIELDS)})"
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {message}" if where else message


def _value(value: float | str) -> str:
    return f"{value:g}" if isinstance(value, float | int) else str(value)
