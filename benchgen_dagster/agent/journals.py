"""Reading journal.md back: each session's story reduced to intent, failures, fixes and outcome.

The roles append entries as `SessionContext.note` writes them:

    ## coder · round 2
    - intent: write and verify script.py
    - result: what came of it (may run over several lines)
    - reflection: what it means next
    - parameters: effort_arm=562.5, fulcrum_x=250

The learner reads the compressed form, never the raw journal: it is smaller, and a journal is written
in an untrusted workspace, so everything taken from it is bounded and plain text.
"""

import re
from itertools import pairwise

from benchgen_dagster.models.plans import plan_fields
from benchgen_dagster.models.skills import JournalRound, SessionDigest, changed_parameters

_HEADING_RE = re.compile(r"^## (\w+)(?: · round (\d+))?\s*$")
_FIELD_RE = re.compile(r"^- (\w+): ?(.*)$")
# The coder's gate joins failures as "<check> (seed <n>): <message>; <check> (seed <n>): ...".
_FAILURE_SPLIT_RE = re.compile(r"; (?=[a-z_]+ \(seed )")
_PARAM_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
# Bounds on a digest, so one is a few KB at most whatever the (untrusted) journal holds.
MAX_FIELD_CHARS = 400
MAX_FAILURES_PER_ROUND = 3
MAX_FAILURE_CHARS = 160
MAX_ROUNDS = 10
MAX_REVIEWS = 3
MAX_PARAMETERS = 20
_GATE_RESULTS = ("all checks pass",)


class JournalError(ValueError):
    """A journal that cannot be read as one; the message says why."""


def parse_entries(text: str) -> list[dict[str, str]]:
    """The entries of a journal.md: role, round ("" when none) and each `- field:` as a string."""
    entries: list[dict[str, str]] = []
    field: str | None = None
    for line in text.splitlines():
        heading = _HEADING_RE.match(line)
        if heading:
            entries.append({"role": heading.group(1), "round": heading.group(2) or ""})
            field = None
            continue
        if not entries:
            continue
        match = _FIELD_RE.match(line)
        if match:
            field = match.group(1)
            entries[-1][field] = match.group(2)
        elif field is not None and line.strip():
            entries[-1][field] += " " + line.strip()
    return entries


def _short(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _parameters(text: str) -> dict[str, float]:
    return {name: float(value) for name, value in _PARAM_RE.findall(text)[:MAX_PARAMETERS]}


def compress(candidate: str, journal: str, plan: str = "") -> SessionDigest:
    """One session's journal as a SessionDigest; raises JournalError for an empty or malformed journal.

    `plan` is the session's plan.md, read for the library family the planner chose (its front matter)."""
    if not journal.strip():
        raise JournalError("the journal is empty")
    entries = parse_entries(journal)
    if not entries:
        raise JournalError("the journal has no '## role' entries")
    broken = [e["role"] for e in entries if not {"intent", "result"} <= set(e)]
    if broken:
        raise JournalError(f"{len(broken)} entries lack an intent or a result (first: {broken[0]})")
    planner = next((e for e in entries if e["role"] == "planner"), None)
    intent = planner["intent"] if planner else entries[0]["intent"]
    _, _, request = intent.partition(": ")
    rounds: list[JournalRound] = []
    for entry in entries:
        if entry["role"] != "coder" or not entry["round"].isdigit():
            continue
        passed = entry.get("reflection", "").startswith(_GATE_RESULTS)
        failures = (
            []
            if passed
            else [
                _short(f, MAX_FAILURE_CHARS) for f in _FAILURE_SPLIT_RE.split(entry["result"])[:MAX_FAILURES_PER_ROUND]
            ]
        )
        rounds.append(
            JournalRound(
                round=int(entry["round"]),
                parameters=_parameters(entry.get("parameters", "")),
                failures=failures,
                passed=passed,
                said=_short(entry["result"], 200) if passed else "",
            )
        )
    rounds = rounds[-MAX_ROUNDS:]
    reviews = [_short(e["result"]) for e in entries if e["role"] == "reviewer"][-MAX_REVIEWS:]
    finishes = [e["result"] for e in entries if e["role"] == "session" and not e["result"].startswith("handed_off")]
    if reviews and reviews[-1].split(":")[0] in ("approved", "rejected"):
        outcome = reviews[-1].split(":")[0]
    elif finishes:
        outcome = finishes[-1].split(":")[0]
    else:
        outcome = "unfinished"
    family = plan_fields(plan).family
    return SessionDigest(
        candidate=candidate,
        intent=_short(request or intent),
        family=family,
        rounds=rounds,
        fixes=_fixes(rounds),
        outcome=outcome,
        reviews=reviews,
    )


def _fixes(rounds: list[JournalRound]) -> list[str]:
    """What changed between each failing round and the next round: "effort_arm 675 -> 562.5 (passed)"."""
    fixes = []
    for before, after in pairwise(rounds):
        if before.passed:
            continue
        changed = [
            f"{name} {before.parameters[name]:g} -> {after.parameters[name]:g}"
            for name in changed_parameters(before, after)
        ]
        if changed:
            fixes.append(", ".join(changed) + (" (passed)" if after.passed else " (still failing)"))
    return fixes
