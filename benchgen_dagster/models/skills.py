"""Skills and journals as data: a SKILL.md as the learner must write it, and a session's journal compressed.

A skill is an Agent Skills `SKILL.md` (the format deepagents' SkillsMiddleware loads): YAML front matter
with `name` and `description`, then markdown. benchgen asks more of it than the format does, because a
skill changes every script written after it: it names the journals it was learned from
(`metadata.evidence`), and it shows what it means in a python code example. A skill may also state
parameter limits (`metadata.limits`, e.g. "effort_arm <= 562.5; gap_width >= 90") for one library family
(`metadata.family`): those are what the offline coder applies, and what a person can check at a glance.
"""

import re

import yaml
from pydantic import BaseModel, Field

from benchgen_dagster.models.front_matter import split_front_matter

MAX_SKILL_BYTES = 64 * 1024
MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
# Agent Skills names: lowercase letters and digits, single hyphens, no hyphen at either end.
_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# The opening line deepagents' skills middleware looks for: a skill must start with it to be loaded at all.
_OPENING_RE = re.compile(r"\A---\s*\n")
_LIMIT_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*([-+]?\d+(?:\.\d+)?)\s*$")
_PYTHON_BLOCK_RE = re.compile(r"```python\n.+?\n```", re.S)


class SkillError(ValueError):
    """A SKILL.md that is not a valid skill; the message says what is wrong, in one line."""


class ParamLimit(BaseModel):
    """The nominal values of one parameter that passed the checks: at least `low`, at most `high`."""

    low: float | None = None
    high: float | None = None

    def clamp(self, value: float) -> float:
        if self.high is not None and value > self.high:
            return self.high
        if self.low is not None and value < self.low:
            return self.low
        return value


class Skill(BaseModel):
    name: str
    description: str
    family: str | None = None
    limits: dict[str, ParamLimit] = Field(default_factory=dict)
    # The candidates (journals) whose sessions the skill was learned from.
    evidence: list[str]
    body: str


def parse_limits(text: str) -> dict[str, ParamLimit]:
    """`"a <= 1.5; b >= 2"` → {a: high 1.5, b: low 2}; raises SkillError for anything else."""
    limits: dict[str, ParamLimit] = {}
    for clause in (c for c in text.split(";") if c.strip()):
        match = _LIMIT_RE.match(clause)
        if not match:
            raise SkillError(f"limit {clause.strip()!r} is not '<parameter> <= <number>' or '<parameter> >= <number>'")
        name, op, number = match.group(1), match.group(2), float(match.group(3))
        limit = limits.setdefault(name, ParamLimit())
        if op == "<=":
            limit.high = number
        else:
            limit.low = number
        if limit.low is not None and limit.high is not None and limit.low > limit.high:
            raise SkillError(f"limits on {name} leave no value: {limit.low:g} > {limit.high:g}")
    return limits


def format_limits(limits: dict[str, ParamLimit]) -> str:
    clauses = []
    for name, limit in sorted(limits.items()):
        if limit.low is not None:
            clauses.append(f"{name} >= {limit.low:g}")
        if limit.high is not None:
            clauses.append(f"{name} <= {limit.high:g}")
    return "; ".join(clauses)


def parse_skill(text: str, folder_name: str) -> Skill:
    """Validate a SKILL.md written into `<folder_name>/SKILL.md`; raises SkillError saying what is wrong."""
    if not text.strip():
        raise SkillError("SKILL.md is empty")
    if len(text.encode()) > MAX_SKILL_BYTES:
        raise SkillError(f"SKILL.md is {len(text.encode())} bytes; the limit is {MAX_SKILL_BYTES}")
    try:
        found = split_front_matter(text) if _OPENING_RE.match(text) else None
    except yaml.YAMLError as error:
        raise SkillError(f"the front matter is not YAML: {str(error).splitlines()[0]}") from None
    if found is None:
        raise SkillError("SKILL.md does not start with YAML front matter between '---' lines")
    front, body = found
    if not isinstance(front, dict):
        raise SkillError("the front matter is not a mapping")
    name = str(front.get("name") or "").strip()
    description = str(front.get("description") or "").strip()
    if not name or not description:
        raise SkillError("the front matter needs both 'name' and 'description'")
    if len(name) > MAX_NAME_CHARS or not _NAME_RE.match(name):
        raise SkillError(f"name {name!r} must be 1-{MAX_NAME_CHARS} lowercase letters, digits and single hyphens")
    if name != folder_name:
        raise SkillError(f"name {name!r} must match its folder {folder_name!r}")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise SkillError(f"the description is {len(description)} characters; the limit is {MAX_DESCRIPTION_CHARS}")
    metadata = front.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SkillError("'metadata' must map names to strings (the Agent Skills format)")
    evidence = metadata.get("evidence", "").split()
    if not evidence:
        raise SkillError("metadata.evidence must name the journals (candidate ids) the skill was learned from")
    if not _PYTHON_BLOCK_RE.search(body):
        raise SkillError("the guidance has no python code example (a ```python block)")
    limits = parse_limits(metadata.get("limits", ""))
    family = metadata.get("family") or None
    if limits and not family:
        raise SkillError("metadata.limits needs metadata.family: limits are per library family")
    return Skill(name=name, description=description, family=family, limits=limits, evidence=evidence, body=body)


class JournalRound(BaseModel):
    """One coder round of a session: the script's nominal values, and the checks that failed (none: passed)."""

    round: int
    parameters: dict[str, float] = Field(default_factory=dict)
    failures: list[str] = Field(default_factory=list)
    passed: bool
    # What the coder said it did (its final answer), shortened.
    said: str = ""


class ScriptEdit(BaseModel):
    """How a checked script differs from the one the judge checked before it (agent/edits.py makes it)."""

    added: int = 0
    removed: int = 0
    # The top-level names (functions, classes, assignments) whose lines changed, in the script's order.
    names: list[str] = Field(default_factory=list)
    # A few of the changed lines, "-" for a line taken out and "+" for one put in, each shortened.
    lines: list[str] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


class JournalCheck(BaseModel):
    """One verdict of the judge on the script: the coder's own check_script call within its turn, or the
    gate that ends the turn (`tool_call` and `gate` both, when the gate judged the script just checked)."""

    round: int
    tool_call: bool = False
    gate: bool = False
    # The sha256 prefix of the text the judge checked ("" in journals written before checks were journalled).
    script: str = ""
    passed: bool
    failures: list[str] = Field(default_factory=list)
    # What changed since the check before: nominal values ("bin_x 625 -> 562.5") and the script's text
    # (None: unknown, for the first check of a session or an older journal).
    parameter_changes: list[str] = Field(default_factory=list)
    edit: ScriptEdit | None = None


def changed_parameters(before: JournalRound, after: JournalRound) -> list[str]:
    """The parameters both rounds declare whose nominal value differs, by name."""
    return sorted(
        n for n in set(before.parameters) & set(after.parameters) if before.parameters[n] != after.parameters[n]
    )


class SessionDigest(BaseModel):
    """A generation session's journal reduced to what a learner needs."""

    candidate: str
    intent: str
    family: str | None = None
    rounds: list[JournalRound] = Field(default_factory=list)
    # Every verdict of the judge in order, the coder's check_script calls within a turn included.
    checks: list[JournalCheck] = Field(default_factory=list)
    # What fixed the failures: what the coder changed (nominal values, script edits) between a failing
    # check and the next one, and whether that one passed.
    fixes: list[str] = Field(default_factory=list)
    outcome: str
    reviews: list[str] = Field(default_factory=list)

    @property
    def first_attempt_passed(self) -> bool:
        return bool(self.rounds) and self.rounds[0].passed
