"""What changed between two scripts the judge checked: a bounded summary of the edit, and how the journal
writes it and reads it back.

The summary says how many lines went out and came in, which top-level names (functions, classes,
assignments) they belong to, and a few of the changed lines, so a fix that moved geometry (a `Pos`, a
`Box` size) shows as plainly as one that changed a nominal value. It is made by the host from the texts
the judge checked (kept in memory by `SessionContext`), never from a file the agent could rewrite.
"""

import difflib
import json
import re

from benchgen_dagster.models.skills import ScriptEdit

MAX_EDIT_NAMES = 6
MAX_EDIT_LINES = 6
MAX_EDIT_LINE_CHARS = 100
# Scripts are at most 1 MiB; the diff compares this many lines of each, so its cost stays bounded.
MAX_DIFF_LINES = 5000
MODULE_LEVEL = "module level"
IMPORTS = "imports"
# What the journal's `edits` field says for the first check of a session and for an unchanged script.
FIRST_CHECK = "first checked script of this session"
UNCHANGED = "unchanged since the check before"

_DEFINITION_RE = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)")
_ASSIGNMENT_RE = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)")
_EDITS_RE = re.compile(r"^\+(\d{1,9}) -(\d{1,9}) lines(?: in (.*))?$")
_NAME_RE = re.compile(rf"^(?:[A-Za-z_]\w{{0,63}}|{MODULE_LEVEL}|{IMPORTS})$")


def _owners(lines: list[str]) -> list[str]:
    """For each line, the top-level name it belongs to: decorators go with the definition below them,
    indented, blank and comment lines with the statement above them."""
    owners: list[str] = []
    current = MODULE_LEVEL
    decorators: list[int] = []
    for line in lines:
        if line[:1] in ("", " ", "\t", "#", ")", "]", "}"):
            owners.append(current)
            continue
        definition = _DEFINITION_RE.match(line)
        assignment = _ASSIGNMENT_RE.match(line)
        if line.startswith("@"):
            decorators.append(len(owners))
        elif definition or assignment:
            current = (definition or assignment).group(1)  # type: ignore[union-attr]
        elif line.startswith(("import ", "from ")):
            current = IMPORTS
        else:
            current = MODULE_LEVEL
        if not line.startswith("@"):
            for index in decorators:
                owners[index] = current
            decorators.clear()
        owners.append(current)
    return owners


def _shown(sign: str, line: str, start: int = 0) -> str:
    """`line` flattened and shortened to MAX_EDIT_LINE_CHARS, from `start` (marked "…") when it is long."""
    flat = " ".join(line.split())
    text = f"{sign} {'…' if start else ''}{flat[start:]}"
    return text if len(text) <= MAX_EDIT_LINE_CHARS else text[: MAX_EDIT_LINE_CHARS - 1] + "…"


def _first_code(lines: list[str]) -> str | None:
    """The first line that is code, else the first that is not blank, else None."""
    filled = [line for line in lines if line.strip()]
    return next((line for line in filled if not line.lstrip().startswith("#")), filled[0] if filled else None)


def _shown_change(taken: list[str], put: list[str]) -> list[str]:
    """The first line of code taken out and the first put in; where both are long, shown from a little
    before where they differ, so the changed value is in view."""
    old, new = _first_code(taken), _first_code(put)
    start = 0
    if old is not None and new is not None:
        a, b = " ".join(old.split()), " ".join(new.split())
        common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        # Both from the same column, and no further in than keeps the longer line's end in view.
        start = min(max(0, common - MAX_EDIT_LINE_CHARS // 3), max(0, max(len(a), len(b)) - MAX_EDIT_LINE_CHARS + 4))
    return [_shown(sign, line, start) for sign, line in (("-", old), ("+", new)) if line is not None]


def script_edit(before: str, after: str) -> ScriptEdit:
    """How `after` differs from `before`: lines removed and added, the top-level names they belong to, and
    up to MAX_EDIT_LINES changed lines (the first of each change, the old line before the new; changed
    code before changed comments)."""
    old = before.splitlines()[:MAX_DIFF_LINES]
    new = after.splitlines()[:MAX_DIFF_LINES]
    old_owners, new_owners = _owners(old), _owners(new)
    added = removed = 0
    names: list[str] = []
    shown: list[list[str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        removed += i2 - i1
        added += j2 - j1
        for owner in [*old_owners[i1:i2], *new_owners[j1:j2]]:
            if owner not in names:
                names.append(owner)
        shown.append(_shown_change(old[i1:i2], new[j1:j2]))
    # Changed code before changed comments: a fix is in the code.
    shown.sort(key=lambda change: all(line[2:].lstrip("…").startswith("#") for line in change))
    lines = [line for change in shown for line in change]
    return ScriptEdit(added=added, removed=removed, names=names[:MAX_EDIT_NAMES], lines=lines[:MAX_EDIT_LINES])


def describe(edit: ScriptEdit) -> str:
    """One line: "+2 -1 lines in build, solution"."""
    if not edit.changed:
        return UNCHANGED
    where = f" in {', '.join(edit.names)}" if edit.names else ""
    return f"+{edit.added} -{edit.removed} lines{where}"


def edit_facts(edit: ScriptEdit | None) -> dict[str, str]:
    """The journal fields for an edit: `edits` (describe's line) and `changed_lines` (a JSON list)."""
    if edit is None:
        return {"edits": FIRST_CHECK}
    facts = {"edits": describe(edit)}
    if edit.lines:
        facts["changed_lines"] = json.dumps(edit.lines, ensure_ascii=False)
    return facts


def parse_edit(edits: str, changed_lines: str = "") -> ScriptEdit | None:
    """An edit back from the journal's fields; None where they say nothing usable (a first check, an older
    journal, or text that is not what `edit_facts` writes: the journal lives in an untrusted workspace)."""
    edits = edits.strip()
    if edits == UNCHANGED:
        return ScriptEdit()
    match = _EDITS_RE.match(edits)
    if match is None:
        return None
    names = [n.strip() for n in (match.group(3) or "").split(",") if _NAME_RE.match(n.strip())]
    try:
        lines = json.loads(changed_lines) if changed_lines.strip() else []
    except ValueError:
        lines = []
    if not isinstance(lines, list):
        lines = []
    shown = [_shown(str(line)[:1], str(line)[1:]) for line in lines if str(line)[:1] in ("-", "+")]
    return ScriptEdit(
        added=int(match.group(1)),
        removed=int(match.group(2)),
        names=names[:MAX_EDIT_NAMES],
        lines=shown[:MAX_EDIT_LINES],
    )
