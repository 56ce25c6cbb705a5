"""Reading journal.md back: each session's story reduced to intent, failures, fixes and outcome.

The roles append entries as `SessionContext.note` writes them, the coder's gate at the end of each turn:

    ## coder · round 2
    - intent: write and verify script.py
    - result: what came of it (may run over several lines)
    - reflection: what it means next
    - parameters: effort_arm=562.5, fulcrum_x=250
    - script: 3fa2b1c4d5e6
    - edits: +1 -1 lines in build
    - changed_lines: ["- …Pos(0, 0, size / 2 - 20)…", "+ …Pos(0, 0, size / 2 + 0.3)…"]

and each check_script call within a turn as a `## check · round 2` entry of the same shape, its result
the failures or "all checks pass". Journals written before checks were journalled have no `check`
entries and no `script`, `edits` or `changed_lines`: they read as their gate rounds, as they did.

The learner reads the compressed form, never the raw journal: it is smaller, and a journal is written
in an untrusted workspace, so everything taken from it is bounded and plain text.
"""

import re
from itertools import pairwise

from benchgen_dagster.agent.edits import describe, parse_edit
from benchgen_dagster.models.plans import plan_fields
from benchgen_dagster.models.skills import JournalCheck, JournalRound, SessionDigest

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
MAX_CHECKS = 8
MAX_PARAMETER_CHANGES = 6
MAX_FIXES = 8
MAX_FIX_CHARS = 360
_GATE_RESULTS = ("all checks pass",)
_DIGEST_RE = re.compile(r"^[0-9a-f]{6,64}$")


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
        failures = [] if passed else _failures(entry["result"])
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
    checks = _checks(entries)
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
        checks=checks[-MAX_CHECKS:],
        fixes=_fixes(checks)[-MAX_FIXES:],
        outcome=outcome,
        reviews=reviews,
    )


def _failures(text: str) -> list[str]:
    return [_short(f, MAX_FAILURE_CHARS) for f in _FAILURE_SPLIT_RE.split(text)[:MAX_FAILURES_PER_ROUND]]


def _checks(entries: list[dict[str, str]]) -> list[JournalCheck]:
    """Every verdict of the judge, in order: the check_script calls (`check` entries) and the gates (`coder`
    round entries). A gate that judged the script the check before it judged, with the same verdict, is
    that check's. In a journal that records scripts, a coder entry without one (the model failed) is no
    verdict; in an older journal every coder round is one, as it always was."""
    recorded = any("script" in e for e in entries if e["role"] in ("check", "coder"))
    checks: list[JournalCheck] = []
    before: dict[str, float] = {}
    for entry in entries:
        if entry["role"] == "check":
            passed = entry["result"].strip().startswith(_GATE_RESULTS)
        elif entry["role"] == "coder" and entry["round"].isdigit() and ("script" in entry or not recorded):
            passed = entry.get("reflection", "").startswith(_GATE_RESULTS)
        else:
            continue
        gate = entry["role"] == "coder"
        script = entry.get("script", "").strip()
        script = script if _DIGEST_RE.match(script) else ""
        round_ = int(entry["round"]) if entry["round"].isdigit() else 0
        last = checks[-1] if checks else None
        if gate and last and script and (last.script, last.round, last.passed) == (script, round_, passed):
            last.gate = True
            continue
        parameters = _parameters(entry.get("parameters", ""))
        changes = [
            f"{name} {before[name]:g} -> {parameters[name]:g}"
            for name in sorted(set(before) & set(parameters))
            if before[name] != parameters[name]
        ]
        before = parameters
        checks.append(
            JournalCheck(
                round=round_,
                tool_call=not gate,
                gate=gate,
                script=script,
                passed=passed,
                failures=[] if passed else _failures(entry["result"]),
                parameter_changes=changes[:MAX_PARAMETER_CHANGES],
                edit=parse_edit(entry.get("edits", ""), entry.get("changed_lines", "")) if script else None,
            )
        )
    return checks


def _fixes(checks: list[JournalCheck]) -> list[str]:
    """What changed between each failing check and the next one, and whether that one passed. In an older
    journal, the parameters changed between gate rounds: "effort_arm 675 -> 562.5 (passed)"; otherwise the
    checks it answered, where, and the script's edit too: "no_interpenetration failed, then passed within
    round 1 (check_script) after: script edited (+1 -1 lines in build: `- …` `+ …`)"."""
    fixes = []
    for before, after in pairwise(checks):
        if before.passed:
            continue
        what = ", ".join(after.parameter_changes)
        if after.edit is not None and after.edit.changed:
            shown = " ".join(f"`{line}`" for line in after.edit.lines[:2])
            edited = f"script edited ({describe(after.edit)}{': ' + shown if shown else ''})"
            what = f"{what}; {edited}" if what else edited
        if not what:
            continue
        status = "passed" if after.passed else "still failing"
        if not after.script:
            fixes.append(f"{what} ({status})")
            continue
        failed = ", ".join(dict.fromkeys(f.split(" ", 1)[0] for f in before.failures)) or "checks"
        when = f"within round {after.round}" if after.round == before.round else f"in round {after.round}"
        how = "check_script" if after.tool_call else "the gate"
        fixes.append(_short(f"{failed} failed, then {status} {when} ({how}) after: {what}", MAX_FIX_CHARS))
    return fixes
